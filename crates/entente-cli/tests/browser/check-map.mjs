// Drives the web map in Debian's Chromium for entente-cli's integration test (tests/integration/serve.rs),
// which reads one JSON line per step on stdout and answers on stdin. Usage:
//   node check-map.mjs CHROMIUM URL SCREENSHOT_DIR
// Steps: "loaded" (what the page drew), then it waits for an intent id on stdin, written by the test
// after the page loaded, and reports "updated" once the page drew it without a reload, with the details
// panel after a click on it; "early" is what the page draws with the time slider at its start. Then it
// plans through the page: it reads a plan from stdin ({"operator", "vertices": [[lng, lat], ...]}), picks
// the operator, clicks the vertices on the map and submits ("conflict": the answer as the page shows it),
// previews the first alternative ("preview"), accepts it ("accepted", once the flight is drawn live) and
// activates it from its details panel ("activated"). Last it shows Remote ID ("rid", "rid-clusters",
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
const ready = (page) => page.waitForSelector('#summary[data-state="ready"]', { timeout: 20000 });

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
  await page.waitForSelector('#live[data-state="live"]', { timeout: 20000 });
  // Subscriptions are hidden at first: shown, every kind of entity is on the map.
  await page.check('[data-layer="subscriptions"]');
  const entities = await drawn(page);
  await page.screenshot({ path: `${screenshots}/seeded.png` });
  report("loaded", { entities, land: (await rendered(page, ["world-land"])).length, errors, elsewhere });

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
  await page.click("#plan");
  for (const vertex of plan.vertices) {
    // Where the page draws this point now: MapLibre's projection of the view it shows.
    const [x, y] = await screenOf(page, vertex);
    await page.mouse.click(x, y);
  }
  const draft = (await rendered(page, ["draft-vertex"])).length;
  await page.click("#submit");
  await page.waitForSelector('#plan-result:not([data-state="submitting"])', { timeout: 30000 });
  await ready(page);
  await page.screenshot({ path: `${screenshots}/conflict.png` });
  const result = () => page.evaluate(() => ({
    state: document.getElementById("plan-result").dataset.state,
    message: document.getElementById("plan-message").textContent,
    flight: document.getElementById("plan-result").dataset.flight ?? null,
  }));
  report("conflict", {
    operators,
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
  await page.waitForSelector('#plan-result:not([data-state="submitting"]):not([data-state="conflict"])', { timeout: 30000 });
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
  await page.waitForSelector('#flight-message:not([data-state="working"])', { timeout: 30000 });
  if (accepted.flight) {
    await page.waitForFunction((id) => entente.map.loaded() && entente.drawn().some((e) => e.id === id && e.classes.split(" ").includes("Activated")),
      accepted.flight, { timeout: 15000 }).catch(() => {});
  }
  await page.screenshot({ path: `${screenshots}/activated.png` });
  report("activated", {
    message: await page.locator("#flight-message").innerText(),
    state: await page.$eval("#flight-message", (m) => m.dataset.state),
    entities: await drawn(page),
    errors,
  });

  // Remote ID: the test started a replay and names what to look at ({"operator", "centre": [lng, lat],
  // "across_m", "aircraft": [ids]}). The page, acting as that operator, is centred there with that diagonal
  // ("rid": the aircraft and alerts it draws), then zoomed out to clusters ("rid-clusters") and beyond
  // ("rid-zoomed-out").
  const { value: ridLine } = await lines.next();
  const seen = JSON.parse(ridLine);
  await page.selectOption("#operator", seen.operator);
  await page.evaluate(([centre, across]) => entente.centreOn(centre, across), [seen.centre, seen.across_m]);
  await page.waitForFunction((ids) => ids.every((id) => document.querySelector(`.rid-aircraft[data-id="${id}"]`)) &&
    document.querySelectorAll("#rid-alerts li").length > 0, seen.aircraft, { timeout: 30000 }).catch(() => {});
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
} finally {
  await browser.close();
}
