// Drives the web map in Debian's Chromium for entente-cli's integration test (tests/integration/serve.rs),
// which reads one JSON line per step on stdout and answers on stdin. Usage:
//   node check-map.mjs CHROMIUM URL SCREENSHOT_DIR
// Steps: "loaded" (what the page drew, Lake Geneva included, and where "go to" a place's name led), then it waits for an intent id on stdin, written by the test
// after the page loaded, and reports "updated" once the page drew it without a reload, with the details
// panel after a click on it; "early" is what the page draws with the time slider at its start. Then it
// plans through the page: it reads a plan from stdin ({"operator", "vertices": [[lng, lat], ...]}), picks
// the operator, clicks the vertices on the map and submits ("conflict": the answer as the page shows it),
// previews the first alternative ("preview"), accepts it ("accepted", once the flight is drawn live) and
// activates it from its details panel ("activated"), then plans the square again through the limits form
// ("limits-refused", "limits", "best-effort", as said there). Last it shows Remote ID ("rid", "rid-clusters",
// "rid-zoomed-out"), as said there.
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const [executablePath, url, screenshots] = process.argv.slice(2);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const report = (step, fields) => console.log(JSON.stringify({ step, ...fields }));

// Everything the test checks about the drawing: each entity the map renders now (MapLibre's
// queryRenderedFeatures, once it rendered every change), with its id and classes.
const drawn = (page) => page.evaluate(async () => {
  await entente.settled();
  return entente.drawn();
});
// How many features MapLibre renders now in these layers.
const rendered = (page, layers) => page.evaluate(async (layers) => {
  await entente.settled();
  return entente.map.queryRenderedFeatures({ layers }).map((f) => f.properties);
}, layers);
// Where the page draws [lng, lat] now, in the page's pixels.
const screenOf = (page, lngLat) => page.evaluate((lngLat) => {
  const p = entente.map.project(lngLat);
  const box = entente.map.getContainer().getBoundingClientRect();
  return [box.left + p.x, box.top + p.y];
}, lngLat);
// Generous: on a loaded machine without a GPU, the first render (the world basemap included) takes seconds.
const ready = (page) => page.waitForSelector('#summary[data-state="ready"]', { timeout: 60000 });

const browser = await chromium.launch({
  executablePath,
  // WebGL without a GPU: SwiftShader, Chromium's software renderer.
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  // Anything but this server would mean the page is not self-contained.
  const origin = new URL(url).origin;
  const elsewhere = [];
  page.on("request", (r) => { if (!r.url().startsWith(origin)) elsewhere.push(r.url()); });

  await page.goto(url);
  await ready(page);
  await page.waitForSelector('#live[data-state="live"]', { timeout: 60000 });
  // Subscriptions are hidden at first: shown, every kind of entity is on the map.
  await page.check('[data-layer="subscriptions"]');
  const entities = await drawn(page);
  await page.screenshot({ path: `${screenshots}/seeded.png` });
  // The height profile of an intent in conflict: its boxes and those of the intent it meets.
  const inConflict = entities.find((e) => e.classes.split(" ").includes("conflict"));
  if (inConflict) await page.evaluate((id) => entente.select(id), inConflict.id);
  await page.waitForSelector("#profile .profile-box.meets", { timeout: 5000 }).catch(() => {});
  const profile = {
    selected: inConflict?.id ?? null,
    boxes: await page.$$eval("#profile .profile-box", (rects) => rects.map((r) => {
      const b = r.getBoundingClientRect();
      return { id: r.dataset.id, role: r.dataset.role, lo: Number(r.dataset.lo), hi: Number(r.dataset.hi), left: b.left, right: b.right, top: b.top, bottom: b.bottom };
    })),
  };
  await page.screenshot({ path: `${screenshots}/profile.png` });
  // The regional basemap: out on Lake Geneva, in a view 40 km across, the map draws the lake from region.pmtiles, in
  // the water's colour, where the world basemap alone has land; then back to the view the next steps use.
  const camera = await page.evaluate(() => ({ center: entente.map.getCenter(), zoom: entente.map.getZoom() }));
  await page.evaluate(() => entente.centreOn([6.56, 46.48], 40000));
  const lake = await page.evaluate(async () => {
    await entente.settled();
    const point = entente.map.project([6.56, 46.48]);
    const canvas = entente.map.getCanvas();
    const copy = Object.assign(document.createElement("canvas"), { width: canvas.width, height: canvas.height });
    const context = copy.getContext("2d");
    context.drawImage(canvas, 0, 0);
    const scale = canvas.width / canvas.clientWidth;
    return {
      water: entente.map.queryRenderedFeatures(point, { layers: ["region-water"] }).length,
      land: entente.map.queryRenderedFeatures(point, { layers: ["world-land"] }).length,
      pixel: [...context.getImageData(Math.round(point.x * scale), Math.round(point.y * scale), 1, 1).data].slice(0, 3),
    };
  });
  await page.screenshot({ path: `${screenshots}/lake.png` });
  // "Go to" by the basemap's place names, accents and case aside: where the map is centred after each.
  const search = [];
  for (const name of ["Lausanne", "geneve"]) {
    await page.fill("#goto-text", name);
    await page.click('#goto button[type="submit"]');
    const centre = await page.evaluate(async () => { await entente.settled(); return entente.map.getCenter(); });
    search.push({ name, lng: centre.lng, lat: centre.lat, message: await page.textContent("#goto-message") });
  }
  await page.fill("#goto-text", "");
  await page.evaluate((camera) => entente.map.jumpTo(camera), camera);
  report("loaded", { entities, land: (await rendered(page, ["world-land"])).length, lake, search, profile, errors, elsewhere });

  const { value: id } = await lines.next();
  // The page learns of the write live; Fit brings every entity into view, and a click on the new one
  // shows its details.
  await page.waitForFunction((id) => entente.state.all?.operational_intents.some((o) => o.id === id), id, { timeout: 15000 });
  await page.click("#fit");
  await page.waitForFunction((id) => entente.map.loaded() && entente.drawn().some((e) => e.id === id), id, { timeout: 15000 });
  const corners = await page.evaluate((id) => entente.state.all.operational_intents.find((o) => o.id === id).volumes[0].outline.coordinates, id);
  const inside = [0, 1].map((i) => corners.reduce((sum, p) => sum + p[i], 0) / corners.length);
  const [cx, cy] = await screenOf(page, inside);
  await page.mouse.click(cx, cy);
  await page.waitForFunction((id) => document.getElementById("summary").textContent.includes(id), id, { timeout: 5000 }).catch(() => {});
  const details = await page.locator("#details").innerText();
  await page.screenshot({ path: `${screenshots}/live-update.png` });
  report("updated", { entities: await drawn(page), details, errors });

  await page.uncheck("#all-times");
  await page.locator("#slider").fill("0");
  await page.waitForFunction(() => document.getElementById("instant").textContent !== "all times");
  await ready(page);
  await page.screenshot({ path: `${screenshots}/time-slider-start.png` });
  report("early", { entities: await drawn(page), instant: await page.locator("#instant").innerText(), errors });

  await page.check("#all-times");
  await page.waitForFunction(() => document.getElementById("instant").textContent === "all times");
  const { value: planLine } = await lines.next();
  const plan = JSON.parse(planLine);
  await page.waitForSelector('#act-as[data-ready="true"]', { timeout: 10000 });
  const operators = await page.$$eval("#operator option", (options) => options.map((o) => o.value));
  await page.selectOption("#operator", plan.operator);
  // The geographical zones the operator's USS knows, drawn under the airspace.
  await page.waitForFunction(() => entente.zones.list.length > 0, null, { timeout: 10000 }).catch(() => {});
  const zones = await page.evaluate(() => entente.zones.list.map((z) => `${z.zone} ${z.restriction}`));
  const zoneInfo = await page.locator("#zones-info").innerText();
  await page.click("#plan");
  for (const vertex of plan.vertices) {
    // Where the page draws this point now: MapLibre's projection of the view it shows.
    const [x, y] = await screenOf(page, vertex);
    await page.mouse.click(x, y);
  }
  const draft = (await rendered(page, ["draft-vertex"])).length;
  await page.click("#submit");
  await page.waitForSelector('#plan-result:not([data-state="submitting"])', { timeout: 60000 });
  await ready(page);
  await page.screenshot({ path: `${screenshots}/conflict.png` });
  const result = () => page.evaluate(() => ({
    state: document.getElementById("plan-result").dataset.state,
    message: document.getElementById("plan-message").textContent,
    flight: document.getElementById("plan-result").dataset.flight ?? null,
  }));
  report("conflict", {
    operators,
    zones,
    zoneInfo,
    draft,
    ...(await result()),
    conflicting: await page.$$eval("#conflicting li", (items) => items.map((li) => li.dataset.id)),
    alternatives: await page.$$eval("#alternatives li", (items) => items.map((li) => li.textContent)),
    // The alternatives as the page received them from the USS, to compare with what gets planned.
    requests: await page.evaluate(() => entente.planner.alternatives.map((a) => a.request)),
    entities: await drawn(page),
    errors,
    elsewhere,
  });

  await page.click('#alternatives li[data-index="0"] .preview-alternative');
  const shapes = (await rendered(page, ["preview-fill"])).length;
  await page.screenshot({ path: `${screenshots}/alternative-preview.png` });
  report("preview", {
    shapes,
    previewed: await page.$$eval("#alternatives li.previewed", (items) => items.map((li) => li.dataset.index)),
    errors,
  });

  // 4D: tilted, over the plan, the volumes stand between their altitudes. Where each 3D layer is hit along the
  // screen column through the plan's centre (MapLibre's queries follow the extrusions in 3D): an alternative
  // flying higher must stand higher on screen than the plan's own draft.
  const centre = [0, 1].map((i) => plan.vertices.reduce((sum, p) => sum + p[i], 0) / plan.vertices.length);
  await page.evaluate((centre) => entente.centreOn(centre, 2500), centre);
  const higher = await page.$eval("#alternatives", (list) => [...list.children].find((li) => Number(li.dataset.altitudeShift) > 0)?.dataset.index);
  if (higher !== undefined) await page.click(`#alternatives li[data-index="${higher}"] .preview-alternative`);
  await page.check("#view-3d");
  const column = () => page.evaluate(async (centre) => {
    await entente.settled();
    const p = entente.map.project(centre);
    const { height } = entente.map.getContainer().getBoundingClientRect();
    const span = (layer) => {
      let top = null;
      let bottom = null;
      for (let y = 0; y < height; y += 2) {
        if (entente.map.queryRenderedFeatures([p.x, y], { layers: [layer] }).length) {
          top ??= y;
          bottom = y;
        }
      }
      return { top, bottom };
    };
    return {
      pitch: entente.map.getPitch(),
      draft: span("draft-3d"),
      preview: span("preview-3d"),
      extruded: [...new Set(entente.map.queryRenderedFeatures({ layers: ["volumes-3d"] }).map((f) => f.properties.id))],
    };
  }, centre);
  const tilted = await column();
  await page.screenshot({ path: `${screenshots}/3d.png` });
  await page.uncheck("#view-3d");
  report("tilted", {
    ...tilted,
    alternative: higher ?? null,
    shift: higher === undefined ? null : await page.evaluate((i) => entente.planner.alternatives[i].altitude_shift_m, Number(higher)),
    flat: await page.evaluate(() => entente.map.getPitch()),
    errors,
  });

  await page.click('#alternatives li[data-index="0"] .accept-alternative');
  await page.waitForSelector('#plan-result:not([data-state="submitting"]):not([data-state="conflict"])', { timeout: 60000 });
  const accepted = await result();
  if (accepted.flight) {
    // Drawn from the live airspace once the DSS announced the change, not from the USS's answer.
    await page.waitForFunction((id) => entente.map.loaded() && entente.drawn().some((e) => e.id === id), accepted.flight, { timeout: 15000 });
    await page.waitForSelector("#flight-actions:not(.hidden)", { timeout: 10000 });
    // The details panel asks the USS what it holds of its own flight.
    await page.waitForFunction(() => document.getElementById("fields").textContent.includes("USS state"), null, { timeout: 10000 }).catch(() => {});
  }
  await page.screenshot({ path: `${screenshots}/accepted.png` });
  report("accepted", { ...accepted, entities: await drawn(page), details: await page.locator("#details").innerText(), errors, elsewhere });

  await page.click("#activate");
  await page.waitForSelector('#flight-message:not([data-state="working"])', { timeout: 60000 });
  if (accepted.flight) {
    await page.waitForFunction((id) => entente.map.loaded() && entente.drawn().some((e) => e.id === id && e.classes.split(" ").includes("Activated")),
      accepted.flight, { timeout: 15000 }).catch(() => {});
  }
  // The operator's panel lists the flight as its USS does, with the actions its new state allows.
  if (accepted.flight) {
    await page.waitForSelector(`#my-flights-list li[data-id="${accepted.flight}"][data-state="Activated"]`, { timeout: 10000 }).catch(() => {});
  }
  await page.screenshot({ path: `${screenshots}/activated.png` });
  report("activated", {
    message: await page.locator("#flight-message").innerText(),
    state: await page.$eval("#flight-message", (m) => m.dataset.state),
    entities: await drawn(page),
    panel: await page.$$eval("#my-flights-list li", (items) => items.map((li) => ({
      id: li.dataset.id, state: li.dataset.state, text: li.textContent,
      actions: [...li.querySelectorAll("button[data-action]")].map((b) => b.dataset.action),
    }))),
    errors,
  });

  // The limits form: the same square drawn again, first with nonsense (a ceiling below the floor, a negative
  // deviation), which the page refuses before sending ("limits-refused"); then with a ceiling at the plan's top
  // and a largest delay, which the USS must keep in every alternative it offers, and "the shape may change" set to
  // "no", which the request must carry as false ("limits"); then with "plan the best you can", which plans one of
  // them and says what changed ("best-effort").
  if (await page.locator("#planner").isHidden()) await page.click("#plan");
  const redraw = async () => {
    for (const vertex of plan.vertices) {
      const [x, y] = await screenOf(page, vertex);
      await page.mouse.click(x, y);
    }
  };
  // Times as the page sets them when the planner opens (5 to 35 minutes from now, UTC), so the start is still ahead.
  const utc = (minutes) => new Date(Date.now() + minutes * 60000).toISOString().slice(0, 16);
  await page.fill("#time-start", utc(5));
  await page.fill("#time-end", utc(35));
  await redraw();
  await page.click("#limits summary");
  const refused = [];
  for (const [floor, ceiling, lateral] of [["200", "100", ""], ["", "120", "-5"]]) {
    await page.fill("#limit-floor", floor);
    await page.fill("#limit-ceiling", ceiling);
    await page.fill("#limit-lateral", lateral);
    const posted = [];
    const watch = (r) => { if (r.method() === "POST" && r.url().includes("/flights")) posted.push(r.url()); };
    page.on("request", watch);
    await page.click("#submit");
    await page.waitForTimeout(300);
    page.off("request", watch);
    refused.push({ floor, ceiling, lateral, state: await page.$eval("#plan-result", (r) => r.dataset.state), message: await page.textContent("#plan-message"), posted });
  }
  report("limits-refused", { refused, errors });
  await page.fill("#limit-lateral", "");
  await page.fill("#limit-delay", "120");
  await page.selectOption("#limit-shape", "no");
  const sent = [];
  const body = (r) => { if (r.method() === "POST" && r.url().includes("/flights")) sent.push(r.postDataJSON()); };
  page.on("request", body);
  await page.click("#submit");
  await page.waitForSelector('#plan-result:not([data-state="submitting"])', { timeout: 60000 });
  page.off("request", body);
  await page.screenshot({ path: `${screenshots}/limits.png` });
  report("limits", {
    ...(await result()),
    ceiling: Number(await page.inputValue("#limit-ceiling")),
    latestEnd: await page.textContent("#limit-delay-end"),
    planStart: await page.inputValue("#time-start"),
    planEnd: await page.inputValue("#time-end"),
    // What the page lists, from the data attributes it sets on each alternative.
    alternatives: await page.$$eval("#alternatives li", (items) => items.map((li) => ({
      index: li.dataset.index, altitudeShift: Number(li.dataset.altitudeShift), altitudeUpper: li.dataset.altitudeUpper === undefined ? null : Number(li.dataset.altitudeUpper),
      cost: Number(li.dataset.cost), text: li.textContent,
    }))),
    ends: await page.evaluate(() => entente.planner.alternatives.map((a) => a.request.volumes.map((v) => v.time_end.value))),
    // The limits of every plan the page posted.
    sentLimits: sent.map((b) => b.limits ?? null),
    errors,
  });
  await page.check("#best-effort");
  await page.click("#submit");
  await page.waitForSelector('#plan-result:not([data-state="submitting"]):not([data-state="conflict"])', { timeout: 60000 });
  const bestEffort = await result();
  await page.locator("#plan-instead").scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${screenshots}/best-effort.png` });
  report("best-effort", {
    ...bestEffort,
    instead: await page.$eval("#plan-instead", (p) => ({ hidden: p.classList.contains("hidden"), text: p.textContent, ...p.dataset })),
    errors,
  });
  await page.uncheck("#best-effort");

  // Remote ID: the test started a replay and names what to look at ({"operator", "centre": [lng, lat],
  // "across_m", "aircraft": [ids]}). The page, acting as that operator, is centred there with that diagonal
  // ("rid": the aircraft and alerts it draws), then zoomed out to clusters ("rid-clusters") and beyond
  // ("rid-zoomed-out").
  const { value: ridLine } = await lines.next();
  const seen = JSON.parse(ridLine);
  await page.selectOption("#operator", seen.operator);
  await page.evaluate(([centre, across]) => entente.centreOn(centre, across), [seen.centre, seen.across_m]);
  await page.waitForFunction((ids) => ids.every((id) => document.querySelector(`.rid-aircraft[data-id="${id}"]`)) &&
    document.querySelectorAll("#rid-alerts li").length > 0, seen.aircraft, { timeout: 60000 }).catch(() => {});
  await page.screenshot({ path: `${screenshots}/rid.png` });
  const ridStatus = () => page.$eval("#rid-status", (p) => ({ state: p.dataset.state, text: p.textContent }));
  report("rid", {
    status: await ridStatus(),
    map: await page.evaluate(() => { const b = entente.map.getContainer().getBoundingClientRect(); return { width: b.width, height: b.height }; }),
    aircraft: await page.$$eval(".rid-aircraft", (groups) => groups.map((g) => {
      const box = entente.map.getContainer().getBoundingClientRect();
      const dot = g.querySelector(".rid-marker").getBoundingClientRect();
      return {
        id: g.dataset.id, lat: Number(g.dataset.lat), lng: Number(g.dataset.lng), age_s: Number(g.dataset.age),
        classes: g.getAttribute("class"), trail: g.querySelectorAll(".rid-trail").length,
        x: dot.left + dot.width / 2 - box.left, y: dot.top + dot.height / 2 - box.top,
      };
    })),
    alerts: await page.$$eval("#rid-alerts li", (items) => items.map((li) => ({ aircraft: li.dataset.aircraft, text: li.textContent }))),
    pairs: (await rendered(page, ["rid-alert-pair"])).map((p) => p.pair),
    errors,
    elsewhere,
  });

  await page.evaluate(([centre]) => entente.centreOn(centre, 4000), [seen.centre]);
  await page.waitForSelector('#rid-status[data-state="clusters"]', { timeout: 10000 }).catch(() => {});
  await page.screenshot({ path: `${screenshots}/rid-clusters.png` });
  report("rid-clusters", {
    status: await ridStatus(),
    clusters: await page.$$eval(".rid-cluster", (groups) => groups.map((g) => Number(g.dataset.flights))),
    aircraft: await page.locator(".rid-aircraft").count(),
    errors,
  });

  await page.evaluate(([centre]) => entente.centreOn(centre, 20000), [seen.centre]);
  await page.waitForSelector('#rid-status[data-state="zoom"]', { timeout: 10000 }).catch(() => {});
  report("rid-zoomed-out", {
    status: await ridStatus(),
    shapes: (await rendered(page, ["rid-cluster-fill", "rid-trail", "rid-alert-pair"])).length +
      await page.locator(".rid-aircraft, .rid-cluster").count(),
    errors,
  });
  // From the widest view, a click on the pair's alert brings both aircraft into a view where each is drawn.
  await page.evaluate(() => entente.map.jumpTo({ center: [0, 0], zoom: 0 }));
  const alertItem = page.locator("#rid-alerts li").filter({ hasText: "rid-a" }).filter({ hasText: "rid-b" });
  await alertItem.first().waitFor({ timeout: 10000 }).catch(() => {});
  const widest = await page.evaluate(() => entente.map.getZoom());
  await alertItem.first().click({ timeout: 5000 }).catch(() => {});
  await page.waitForFunction((ids) => ids.every((id) => document.querySelector(`.rid-aircraft[data-id="${id}"]`)), seen.aircraft, { timeout: 15000 }).catch(() => {});
  await page.screenshot({ path: `${screenshots}/alert-pair.png` });
  report("alert", {
    widest,
    across_m: await page.evaluate(() => {
      const b = entente.map.getBounds();
      const rad = Math.PI / 180;
      const [lat1, lng1, lat2, lng2] = [b.getSouth(), b.getWest(), b.getNorth(), b.getEast()];
      const a = Math.sin(((lat2 - lat1) * rad) / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(((lng2 - lng1) * rad) / 2) ** 2;
      return 2 * 6371008.8 * Math.asin(Math.sqrt(a));
    }),
    aircraft: await page.$$eval(".rid-aircraft", (nodes) => nodes.map((n) => n.dataset.id)),
    errors,
  });

  // How long a frame takes with 2 000 intents and 200 aircraft (made up in the page, so the test needs no
  // such airspace): the live updates are held, the data drawn, then the map panned and redrawn at once
  // (map.redraw) 40 times; each frame's time is the pan (markers follow) plus the render, to its last pixel.
  const frames = await page.evaluate(async () => {
    // A Remote ID round under way would draw over the made-up aircraft: wait for it, then hold the next.
    while (entente.rid.busy) await new Promise((resolve) => setTimeout(resolve, 50));
    entente.rid.busy = true;
    entente.state.refreshing = new Promise(() => {});
    const [lng0, lat0] = [6.63, 46.52];
    const intents = [];
    for (let i = 0; i < 2000; i++) {
      const lng = lng0 + ((i % 50) - 25) * 0.004;
      const lat = lat0 + (Math.floor(i / 50) - 20) * 0.003;
      const d = 0.0012;
      intents.push({
        id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`, manager: `uss${i % 7}`, state: ["Accepted", "Activated", "Nonconforming", "Contingent"][i % 4],
        version: 1, uss_base_url: "http://uss.invalid", subscription_id: null, conflicts_with: [],
        volumes: [{ outline: { type: "Polygon", coordinates: [[lng, lat], [lng + d, lat], [lng + d, lat + d], [lng, lat + d]] },
          altitude_lower_m: 0, altitude_upper_m: 60 + (i % 5) * 20, time_start: null, time_end: null }],
      });
    }
    const airspace = { operational_intents: intents, constraints: [], subscriptions: [], identification_service_areas: [], conflicts: [] };
    entente.state.shown = airspace;
    entente.state.all = airspace;
    entente.draw(airspace);
    entente.rid.flights = Array.from({ length: 200 }, (_, i) => {
      const position = { lat: lat0 + (i % 20) * 0.0004, lng: lng0 + Math.floor(i / 20) * 0.0006, alt_m: 60, age_s: 1 };
      const trail = Array.from({ length: 10 }, (_, k) => ({ lat: position.lat - k * 0.00002, lng: position.lng - k * 0.00003 }));
      return { id: `bench-${i}`, provider: "bench", position, recent_positions: trail, track_deg: 45, simulated: true };
    });
    entente.rid.clusters = [];
    entente.drawRid();
    // Every intent in view.
    entente.map.fitBounds([[lng0 - 0.101, lat0 - 0.061], [lng0 + 0.1, lat0 + 0.059]], { padding: 10, animate: false });
    await entente.settled();
    const canvas = entente.map.getCanvas();
    const gl = canvas.getContext("webgl2") ?? canvas.getContext("webgl");
    const pixel = new Uint8Array(4);
    // The renderer may still be drawing frames the page handed it while settling; read a pixel first so that the
    // first frame timed is not charged with them.
    gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, pixel);
    const times = [];
    for (let i = 0; i < 40; i++) {
      const t0 = performance.now();
      entente.map.panBy([i % 2 ? 7 : -7, i % 2 ? 3 : -3], { animate: false });
      entente.map.redraw();
      // Reading a pixel waits for the renderer to finish the frame, not only to be handed it.
      gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, pixel);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return {
      intents: entente.drawn().length, aircraft: document.querySelectorAll(".rid-aircraft").length,
      p50_ms: times[Math.floor(times.length / 2)], p99_ms: times[times.length - 1], frames: times.length,
    };
  });
  await page.screenshot({ path: `${screenshots}/frame-2000-intents-200-aircraft.png` });
  report("frame", { ...frames, errors });
} finally {
  await browser.close();
}
