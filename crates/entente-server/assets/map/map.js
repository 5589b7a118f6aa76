// The Entente airspace map. Plain JavaScript and SVG, no framework, nothing loaded from elsewhere: the
// DSS serves this file, the basemap and the airspace API itself, so an operator without internet sees
// everything.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
// World units: Web Mercator scaled so the full longitude range spans WORLD units. Mercator keeps
// shapes at drone scale undistorted, which matters more here than the polar areas.
const WORLD = 1000;
const EARTH_RADIUS_M = 6371008.8;
const MAX_LAT = 85;

const map = document.getElementById("map");
const world = document.getElementById("world");
const view = { x: 0, y: 0, scale: 1 }; // screen = world * scale + (x, y)
const state = {
  all: null, // the latest view over all times: sets the slider's range and the first fit
  shown: null, // what is drawn: the same, or the view at the slider's instant
  selected: null, // id of the entity whose details are shown
  fitted: false,
  refreshing: null, // the refresh in flight, so change notices arriving meanwhile cause one more
  again: false,
};

function project([lng, lat]) {
  const phi = (Math.max(-MAX_LAT, Math.min(MAX_LAT, lat)) * Math.PI) / 180;
  const x = ((lng + 180) / 360) * WORLD;
  const y = WORLD / 2 - (WORLD / (2 * Math.PI)) * Math.log(Math.tan(Math.PI / 4 + phi / 2));
  return [x, y];
}

function pathOf(rings, close) {
  return rings
    .map((ring) => ring.map((p, i) => (i ? "L" : "M") + project(p).map((v) => v.toFixed(3)).join(",")).join("") + (close ? "Z" : ""))
    .join("");
}

function element(name, attributes, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (parent) parent.appendChild(node);
  return node;
}

function applyView() {
  world.setAttribute("transform", `translate(${view.x},${view.y}) scale(${view.scale})`);
}

// Zooms by `factor` keeping the world point under (sx, sy) still.
function zoomAt(sx, sy, factor) {
  const scale = Math.max(0.5, Math.min(5e6, view.scale * factor));
  view.x = sx - ((sx - view.x) * scale) / view.scale;
  view.y = sy - ((sy - view.y) * scale) / view.scale;
  view.scale = scale;
  applyView();
}

function fit(bounds) {
  const { width, height } = map.getBoundingClientRect();
  const [x0, y0, x1, y1] = bounds;
  // A lone small entity would zoom in absurdly far: show at least about a kilometre around it.
  const span = Math.max(x1 - x0, y1 - y0, 0.03);
  view.scale = Math.min(width, height) / (span * 1.3);
  view.x = width / 2 - ((x0 + x1) / 2) * view.scale;
  view.y = height / 2 - ((y0 + y1) / 2) * view.scale;
  applyView();
}

function boundsOf(airspace) {
  const points = [];
  for (const e of entities(airspace)) for (const v of e.volumes) points.push(...outlinePoints(v.outline));
  if (!points.length) return [0, 0, WORLD, WORLD];
  const xy = points.map(project);
  return [
    Math.min(...xy.map((p) => p[0])), Math.min(...xy.map((p) => p[1])),
    Math.max(...xy.map((p) => p[0])), Math.max(...xy.map((p) => p[1])),
  ];
}

// A circle's bounding points, enough to fit the view to it.
function outlinePoints(outline) {
  if (outline.type === "Polygon") return outline.coordinates;
  const [lng, lat] = outline.center;
  const dLat = (outline.radius_m / EARTH_RADIUS_M) * (180 / Math.PI);
  const dLng = dLat / Math.cos((lat * Math.PI) / 180);
  return [[lng - dLng, lat - dLat], [lng + dLng, lat + dLat]];
}

function entities(airspace) {
  return [
    ...airspace.operational_intents.map((e) => ({ ...e, kind: "intent" })),
    ...airspace.constraints.map((e) => ({ ...e, kind: "constraint" })),
    ...airspace.subscriptions.map((e) => ({ ...e, kind: "subscription" })),
    ...airspace.identification_service_areas.map((e) => ({ ...e, kind: "isa" })),
  ];
}

function drawVolume(volume, group) {
  const o = volume.outline;
  if (o.type === "Polygon") {
    element("path", { d: pathOf([o.coordinates], true) }, group);
  } else {
    // Mercator stretches lengths by 1/cos(latitude), so the radius is scaled at the centre's latitude.
    const [cx, cy] = project(o.center);
    const metresPerUnit = (2 * Math.PI * EARTH_RADIUS_M * Math.cos((o.center[1] * Math.PI) / 180)) / WORLD;
    element("circle", { cx, cy, r: o.radius_m / metresPerUnit }, group);
  }
}

function draw(airspace) {
  const layers = { intent: "layer-intents", constraint: "layer-constraints", subscription: "layer-subscriptions", isa: "layer-isas" };
  for (const id of Object.values(layers)) document.getElementById(id).replaceChildren();
  for (const e of entities(airspace)) {
    const classes = ["entity", e.kind];
    if (e.kind === "intent") {
      classes.push(e.state);
      if (e.conflicts_with.length) classes.push("conflict");
    }
    if (e.id === state.selected) classes.push("selected");
    const group = element("g", { class: classes.join(" "), "data-id": e.id, "data-kind": e.kind }, document.getElementById(layers[e.kind]));
    element("title", {}, group).textContent = `${e.kind} ${e.id}`;
    for (const v of e.volumes) drawVolume(v, group);
    group.addEventListener("click", (event) => {
      event.stopPropagation();
      select(e.id);
    });
  }
  const intents = airspace.operational_intents.length;
  const summary = document.getElementById("summary");
  summary.dataset.state = "ready";
  summary.dataset.intents = intents;
  summary.dataset.conflicts = airspace.conflicts.length;
  if (!state.selected) {
    summary.textContent = `${intents} intents, ${airspace.conflicts.length} conflicts, ${airspace.constraints.length} constraints, ` +
      `${airspace.subscriptions.length} subscriptions, ${airspace.identification_service_areas.length} ISAs. Click a shape for details.`;
  }
  showDetails();
}

function select(id) {
  state.selected = id;
  for (const g of document.querySelectorAll(".entity")) g.classList.toggle("selected", g.dataset.id === id);
  showDetails();
}

function showDetails() {
  const fields = document.getElementById("fields");
  fields.replaceChildren();
  const e = state.shown && state.selected ? entities(state.shown).find((x) => x.id === state.selected) : null;
  if (!e) return;
  document.getElementById("summary").textContent = `${e.kind} ${e.id}`;
  // dt and dd are HTML elements of the panel, not SVG.
  const addField = (name, value) => {
    if (value === undefined || value === null || value === "") return;
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = value;
    fields.append(dt, dd);
  };
  addField("Kind", e.kind);
  addField("Manager", e.manager ?? e.owner);
  addField("State", e.state);
  addField("Version", e.version);
  addField("USS", e.uss_base_url ?? e.url);
  addField("Subscription", e.subscription_id);
  if (e.kind === "intent") addField("Conflicts with", e.conflicts_with.length ? e.conflicts_with.join(", ") : "none");
  if (e.kind === "subscription") {
    addField("Implicit", e.implicit ? "yes" : "no");
    addField("Notifies for", [e.notify_for_operational_intents && "intents", e.notify_for_constraints && "constraints"].filter(Boolean).join(", ") || "nothing");
    addField("Notification index", e.notification_index);
  }
  e.volumes.forEach((v, i) => {
    const where = v.outline.type === "Circle"
      ? `circle r=${Math.round(v.outline.radius_m)} m at ${v.outline.center[1].toFixed(5)}, ${v.outline.center[0].toFixed(5)}`
      : `polygon of ${v.outline.coordinates.length} vertices`;
    const alt = `${v.altitude_lower_m ?? "-∞"}–${v.altitude_upper_m ?? "∞"} m`;
    addField(`Volume ${i + 1}`, `${where}; ${alt}; ${v.time_start ?? "…"} → ${v.time_end ?? "…"}`);
  });
}

// The slider spans the earliest start to the latest end of every volume in the all-times view.
function timeRange() {
  const times = [];
  for (const e of entities(state.all)) for (const v of e.volumes) {
    if (v.time_start) times.push(Date.parse(v.time_start));
    if (v.time_end) times.push(Date.parse(v.time_end));
  }
  if (!times.length) return null;
  return [Math.min(...times), Math.max(...times)];
}

function sliderInstant() {
  const range = timeRange();
  if (!range) return null;
  const slider = document.getElementById("slider");
  return new Date(range[0] + ((range[1] - range[0]) * slider.value) / slider.max);
}

async function fetchAirspace(at) {
  const url = at ? `api/airspace?at=${encodeURIComponent(at.toISOString())}` : "api/airspace";
  const response = await fetch(url, { cache: "no-store" });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

// Coalesces bursts: at most one refresh runs, and notices arriving during it cause exactly one more.
async function refresh() {
  if (state.refreshing) {
    state.again = true;
    return state.refreshing;
  }
  state.refreshing = (async () => {
    do {
      state.again = false;
      try {
        state.all = await fetchAirspace(null);
        const allTimes = document.getElementById("all-times").checked;
        const instant = allTimes ? null : sliderInstant();
        state.shown = instant ? await fetchAirspace(instant) : state.all;
        document.getElementById("instant").textContent = instant ? instant.toISOString().replace(".000", "") : "all times";
        if (!state.fitted) {
          fit(boundsOf(state.all));
          state.fitted = true;
        }
        draw(state.shown);
      } catch (error) {
        document.getElementById("summary").textContent = `Cannot load the airspace: ${error.message}`;
      }
    } while (state.again);
    state.refreshing = null;
  })();
  return state.refreshing;
}

async function loadBasemap() {
  const basemap = await (await fetch("basemap.json")).json();
  const group = document.getElementById("basemap");
  element("path", { class: "land", d: pathOf(basemap.land, true) }, group);
  element("path", { class: "border", d: pathOf(basemap.borders, false) }, group);
}

function wireControls() {
  // The pointer is captured only once it moved, so a plain click still reaches the shape under it.
  let drag = null;
  map.addEventListener("pointerdown", (e) => {
    drag = { x: e.clientX, y: e.clientY, moved: false };
  });
  map.addEventListener("pointermove", (e) => {
    if (!drag) return;
    if (!drag.moved && Math.abs(e.clientX - drag.x) + Math.abs(e.clientY - drag.y) > 3) {
      drag.moved = true;
      map.setPointerCapture(e.pointerId);
      map.classList.add("dragging");
    }
    if (!drag.moved) return;
    view.x += e.clientX - drag.x;
    view.y += e.clientY - drag.y;
    drag.x = e.clientX;
    drag.y = e.clientY;
    applyView();
  });
  map.addEventListener("pointerup", () => {
    drag = null;
    map.classList.remove("dragging");
  });
  map.addEventListener("wheel", (e) => {
    e.preventDefault();
    const box = map.getBoundingClientRect();
    zoomAt(e.clientX - box.left, e.clientY - box.top, Math.exp(-e.deltaY / 300));
  }, { passive: false });
  for (const box of document.querySelectorAll("[data-layer]")) {
    const apply = () => document.getElementById(`layer-${box.dataset.layer}`).classList.toggle("hidden", !box.checked);
    box.addEventListener("change", apply);
    apply();
  }
  const allTimes = document.getElementById("all-times");
  const slider = document.getElementById("slider");
  allTimes.addEventListener("change", () => {
    slider.disabled = allTimes.checked;
    refresh();
  });
  // Dragging the slider fires many events; the refresh coalesces them.
  slider.addEventListener("input", () => refresh());
  document.getElementById("fit").addEventListener("click", () => state.all && fit(boundsOf(state.all)));
}

// The server announces every change on this stream; EventSource reconnects by itself after a drop.
function followChanges() {
  const live = document.getElementById("live");
  const events = new EventSource("api/events");
  events.addEventListener("airspace", () => {
    live.dataset.state = "live";
    live.textContent = "live";
    refresh();
  });
  events.addEventListener("error", () => {
    live.dataset.state = "disconnected";
    live.textContent = "reconnecting";
  });
}

wireControls();
applyView();
loadBasemap().catch((error) => console.error("basemap", error));
refresh();
followChanges();
