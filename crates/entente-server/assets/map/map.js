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
  dragged: false, // whether the last press moved the map, so its click is not a click on the map
};
// Planning as one of the operators this server plans for (none when the map only shows the airspace).
const planner = {
  operators: [], // names, each a USS identity and so the manager of its intents
  drawing: false,
  vertices: [], // [lng, lat] of the polygon being drawn
  center: null, // [lng, lat] of the circle being drawn
  blocking: new Set(), // ids the last refused plan may not conflict with
  alternatives: [],
  previewed: null, // index of the alternative drawn as a preview
  status: null, // the USS's status of the selected own flight: { id, body }
  asked: null, // the flight whose status was last asked for, so each selection asks once
};
const $ = (id) => document.getElementById(id);

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
      if (e.manager === currentOperator()) classes.push("own");
    }
    if (planner.blocking.has(e.id)) classes.push("blocking");
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
  // A flight selected before it was drawn (one just accepted) gets its USS status once it is.
  if (state.selected && planner.asked !== state.selected) loadFlightStatus();
}

function select(id) {
  state.selected = id;
  for (const g of document.querySelectorAll(".entity")) g.classList.toggle("selected", g.dataset.id === id);
  $("flight-message").textContent = "";
  $("flight-message").dataset.state = "idle";
  planner.asked = null;
  showDetails();
  loadFlightStatus();
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
  const own = e.kind === "intent" && e.manager === currentOperator();
  $("flight-actions").classList.toggle("hidden", !own);
  if (own && planner.status && planner.status.id === e.id) {
    const flight = planner.status.body;
    addField("USS state", flight.state);
    addField("Priority", flight.priority);
    addField("Alerts", flight.alerts && flight.alerts.length ? flight.alerts.join("; ") : "none");
  } else if (e.kind === "intent" && planner.operators.includes(e.manager) && !own) {
    addField("Actions", `act as ${e.manager} to activate or end it`);
  }
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
    state.dragged = Boolean(drag && drag.moved);
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

// ---- Planning ------------------------------------------------------------------------------------------
// The page talks only to this server: api/operators/* forwards to the chosen operator's USS with a token the
// server signs, so the page holds no token.

function currentOperator() {
  return planner.operators.length ? $("operator").value : null;
}

function unproject(sx, sy) {
  const x = (sx - view.x) / view.scale;
  const y = (sy - view.y) / view.scale;
  const lng = (x / WORLD) * 360 - 180;
  const lat = ((2 * Math.atan(Math.exp(((WORLD / 2 - y) * 2 * Math.PI) / WORLD)) - Math.PI / 2) * 180) / Math.PI;
  return [lng, lat];
}

function shapeKind() {
  return document.querySelector('input[name="shape"]:checked').value;
}

// A volume as the operator API takes it (Volume4D), and the same as the airspace view draws it.
function wireOutline(outline) {
  if (outline.type === "Circle") {
    const [lng, lat] = outline.center;
    return { outline_circle: { center: { lat, lng }, radius: { value: outline.radius_m, units: "M" } } };
  }
  return { outline_polygon: { vertices: outline.coordinates.map(([lng, lat]) => ({ lat, lng })) } };
}

function viewVolume(wire) {
  const v = wire.volume;
  const outline = v.outline_circle
    ? { type: "Circle", center: [v.outline_circle.center.lng, v.outline_circle.center.lat], radius_m: v.outline_circle.radius.value }
    : { type: "Polygon", coordinates: v.outline_polygon.vertices.map((p) => [p.lng, p.lat]) };
  return {
    outline,
    altitude_lower_m: v.altitude_lower && v.altitude_lower.value,
    altitude_upper_m: v.altitude_upper && v.altitude_upper.value,
    time_start: wire.time_start && wire.time_start.value,
    time_end: wire.time_end && wire.time_end.value,
  };
}

function draftOutline() {
  if (shapeKind() === "circle") {
    return planner.center ? { type: "Circle", center: planner.center, radius_m: Number($("radius").value) } : null;
  }
  return planner.vertices.length ? { type: "Polygon", coordinates: planner.vertices } : null;
}

function drawDraft() {
  const layer = $("layer-draft");
  layer.replaceChildren();
  const outline = draftOutline();
  const hint = $("draw-hint");
  if (shapeKind() === "circle") {
    hint.textContent = planner.center ? "Click elsewhere to move the centre; set the radius above." : "Click the map to place the centre.";
  } else {
    const n = planner.vertices.length;
    hint.textContent = n < 3 ? `Click the map to add vertices: ${n} of at least 3.` : `${n} vertices; click to add more.`;
  }
  if (!outline) return;
  const group = element("g", { class: "draft" }, layer);
  if (outline.type === "Polygon" && outline.coordinates.length < 3) {
    element("path", { d: pathOf([outline.coordinates], false) }, group);
  } else {
    drawVolume({ outline }, group);
  }
  const points = outline.type === "Polygon" ? outline.coordinates : [outline.center];
  for (const p of points) {
    const [cx, cy] = project(p);
    element("circle", { class: "draft-vertex", cx, cy, r: 4 / view.scale }, layer);
  }
}

function drawPreview() {
  const layer = $("layer-preview");
  layer.replaceChildren();
  const alternative = planner.alternatives[planner.previewed];
  if (!alternative) return;
  const group = element("g", { class: "preview", "data-alternative": planner.previewed }, layer);
  for (const v of alternative.request.volumes) drawVolume(viewVolume(v), group);
}

function localInput(date) {
  return new Date(date.getTime() - date.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

function openPlanner() {
  planner.drawing = true;
  $("planner").classList.remove("hidden");
  $("planner-operator").textContent = currentOperator();
  map.classList.add("drawing");
  if (!$("time-start").value) {
    const now = Date.now();
    $("time-start").value = localInput(new Date(now + 5 * 60000));
    $("time-end").value = localInput(new Date(now + 35 * 60000));
  }
  drawDraft();
}

function closePlanner() {
  planner.drawing = false;
  $("planner").classList.add("hidden");
  map.classList.remove("drawing");
  clearShape();
  showResult("idle", "");
  redraw();
}

function clearShape() {
  planner.vertices = [];
  planner.center = null;
  drawDraft();
}

function redraw() {
  if (state.shown) draw(state.shown);
}

// The form as an operator API request; throws with what to fix.
function draftRequest() {
  const outline = draftOutline();
  if (!outline || (outline.type === "Polygon" && outline.coordinates.length < 3)) {
    throw new Error(shapeKind() === "circle" ? "place the circle's centre on the map" : "draw at least 3 vertices on the map");
  }
  if (outline.type === "Circle" && !(outline.radius_m > 0)) throw new Error("the radius must be above 0 m");
  const lower = Number($("alt-lower").value);
  const upper = Number($("alt-upper").value);
  if (!Number.isFinite(lower) || !Number.isFinite(upper) || lower > upper) throw new Error("the lower altitude must not exceed the upper one");
  const start = new Date($("time-start").value);
  const end = new Date($("time-end").value);
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || start >= end) throw new Error("the start must come before the end");
  const altitude = (value) => ({ value, reference: "W84", units: "M" });
  const time = (date) => ({ value: date.toISOString(), format: "RFC3339" });
  return {
    volumes: [{
      volume: { ...wireOutline(outline), altitude_lower: altitude(lower), altitude_upper: altitude(upper) },
      time_start: time(start),
      time_end: time(end),
    }],
    priority: Number($("priority").value) || 0,
  };
}

function showResult(resultState, message) {
  $("plan-result").dataset.state = resultState;
  $("plan-message").textContent = message;
  $("plan-message").dataset.state = resultState;
  if (resultState !== "conflict") {
    planner.blocking = new Set();
    planner.alternatives = [];
    planner.previewed = null;
    $("conflicting").replaceChildren();
    $("alternatives").replaceChildren();
    drawPreview();
  }
}

function operatorPath(name, tail) {
  return `api/operators/${encodeURIComponent(name)}/flights${tail}`;
}

async function post(url, body) {
  const response = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const answer = await response.json().catch(() => ({}));
  return { status: response.status, answer };
}

async function submitFlight(request) {
  const name = currentOperator();
  showResult("submitting", `Submitting to ${name}…`);
  try {
    const { status, answer } = await post(operatorPath(name, ""), request);
    if (status === 201) {
      showResult("accepted", `Accepted: flight ${answer.id} of ${name} (${answer.state}).`);
      $("plan-result").dataset.flight = answer.id;
      clearShape();
      select(answer.id);
      refresh();
    } else if (status === 409 && Array.isArray(answer.alternatives)) {
      showConflict(answer);
    } else {
      showResult("error", `Refused (HTTP ${status}): ${answer.message ?? "no message"}`);
    }
  } catch (error) {
    showResult("error", `Cannot reach this server: ${error.message}`);
  }
}

function shiftText(alternative) {
  const parts = [];
  const minutes = Math.round(alternative.time_shift_seconds / 60);
  if (minutes) parts.push(`${Math.abs(minutes)} min ${minutes > 0 ? "later" : "earlier"}`);
  const metres = Math.round(alternative.altitude_shift_m);
  if (metres) parts.push(`${Math.abs(metres)} m ${metres > 0 ? "higher" : "lower"}`);
  const v = viewVolume(alternative.request.volumes[0]);
  const at = (t) => new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return `${parts.join(", ") || "unchanged"}: ${v.altitude_lower_m}–${v.altitude_upper_m} m, ${at(v.time_start)}–${at(v.time_end)}`;
}

function showConflict(answer) {
  showResult("conflict", `${answer.message}. Pick an alternative, or change the plan.`);
  planner.blocking = new Set(answer.conflicting_intents);
  planner.alternatives = answer.alternatives;
  const conflicting = $("conflicting");
  for (const id of answer.conflicting_intents) {
    const li = document.createElement("li");
    li.textContent = id;
    li.dataset.id = id;
    li.addEventListener("click", () => select(id));
    conflicting.append(li);
  }
  const list = $("alternatives");
  answer.alternatives.forEach((alternative, index) => {
    const li = document.createElement("li");
    li.dataset.index = index;
    li.append(shiftText(alternative));
    const preview = document.createElement("button");
    preview.type = "button";
    preview.className = "preview-alternative";
    preview.textContent = "Preview";
    preview.addEventListener("click", () => {
      planner.previewed = index;
      for (const item of list.children) item.classList.toggle("previewed", item === li);
      drawPreview();
    });
    const accept = document.createElement("button");
    accept.type = "button";
    accept.className = "accept-alternative";
    accept.textContent = "Accept";
    accept.addEventListener("click", () => submitFlight(alternative.request));
    li.append(preview, accept);
    list.append(li);
  });
  redraw();
}

async function loadFlightStatus() {
  const id = state.selected;
  const e = state.shown && entities(state.shown).find((x) => x.id === id);
  if (!e || e.kind !== "intent" || e.manager !== currentOperator()) return;
  planner.asked = id;
  const response = await fetch(operatorPath(e.manager, `/${id}`), { cache: "no-store" });
  if (!response.ok || state.selected !== id) return;
  planner.status = { id, body: await response.json() };
  showDetails();
}

async function flightAction(action) {
  const id = state.selected;
  const message = $("flight-message");
  message.dataset.state = "working";
  message.textContent = `${action}…`;
  const { status, answer } = await post(operatorPath(currentOperator(), `/${id}/${action}`), {});
  if (status === 200) {
    planner.status = { id, body: answer };
    message.dataset.state = "done";
    message.textContent = `${action}: now ${answer.state}`;
  } else {
    message.dataset.state = "error";
    message.textContent = `${action} refused (HTTP ${status}): ${answer.message ?? "no message"}`;
  }
  showDetails();
  refresh();
}

async function loadOperators() {
  const response = await fetch("api/operators", { cache: "no-store" });
  if (!response.ok) return;
  planner.operators = (await response.json()).operators.map((o) => o.name);
  if (!planner.operators.length) return;
  const select = $("operator");
  for (const name of planner.operators) {
    const option = document.createElement("option");
    option.value = option.textContent = name;
    select.append(option);
  }
  $("act-as").classList.remove("hidden");
  $("act-as").dataset.ready = "true";
}

function wirePlanner() {
  map.addEventListener("click", (event) => {
    if (!planner.drawing || state.dragged) return;
    const box = map.getBoundingClientRect();
    const point = unproject(event.clientX - box.left, event.clientY - box.top);
    if (shapeKind() === "circle") planner.center = point;
    else planner.vertices.push(point);
    drawDraft();
  });
  $("plan").addEventListener("click", openPlanner);
  $("close-planner").addEventListener("click", closePlanner);
  $("clear-shape").addEventListener("click", clearShape);
  for (const radio of document.querySelectorAll('input[name="shape"]')) radio.addEventListener("change", clearShape);
  $("radius").addEventListener("input", drawDraft);
  $("operator").addEventListener("change", () => {
    $("planner-operator").textContent = currentOperator();
    showResult("idle", "");
    planner.status = null;
    planner.asked = null;
    redraw();
  });
  $("submit").addEventListener("click", () => {
    let request;
    try {
      request = draftRequest();
    } catch (error) {
      showResult("error", error.message);
      return;
    }
    submitFlight(request);
  });
  $("activate").addEventListener("click", () => flightAction("activate"));
  $("end-flight").addEventListener("click", () => flightAction("end"));
}

// ---- Remote ID ---------------------------------------------------------------------------------------
// The chosen operator's USS is a Remote ID display provider: the page keeps a watch (a DSS subscription) over
// the area it shows, asks once a second (F3411's polling rate for a display) what the USS sees there, and
// lists the tactical alerts the USS raised. F3411 shows aircraft only in views up to 2 km across, clusters up
// to 7 km, and nothing wider.
const RID_FLIGHTS_M = 2000;
const RID_MAX_M = 7000;
const WATCH_S = 600;
const rid = {
  watch: null, // { operator, id, rect: [latLo, lngLo, latHi, lngHi], end: ms }
  busy: false,
  flights: [],
  clusters: [],
  alerts: [],
};

function distanceM([lat1, lng1], [lat2, lng2]) {
  const rad = Math.PI / 180;
  const a = Math.sin(((lat2 - lat1) * rad) / 2) ** 2 +
    Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(((lng2 - lng1) * rad) / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)));
}

// What the map shows, as [latLo, lngLo, latHi, lngHi].
function shownRect() {
  const box = map.getBoundingClientRect();
  const [lng1, lat1] = unproject(0, box.height);
  const [lng2, lat2] = unproject(box.width, 0);
  return [lat1, lng1, lat2, lng2];
}

const diagonalM = (r) => distanceM([r[0], r[1]], [r[2], r[3]]);
const rectParam = (r) => r.map((v) => v.toFixed(6)).join(",");
const inside = (outer, r) => outer[0] <= r[0] && outer[1] <= r[1] && outer[2] >= r[2] && outer[3] >= r[3];

// Centres the map on [lng, lat] with `metres` across its diagonal.
function centreOn([lng, lat], metres) {
  const { width, height } = map.getBoundingClientRect();
  const metresPerUnit = (2 * Math.PI * EARTH_RADIUS_M * Math.cos((lat * Math.PI) / 180)) / WORLD;
  view.scale = Math.hypot(width, height) / (metres / metresPerUnit);
  const [x, y] = project([lng, lat]);
  view.x = width / 2 - x * view.scale;
  view.y = height / 2 - y * view.scale;
  applyView();
}

function ridPath(operator, tail) {
  return `api/operators/${encodeURIComponent(operator)}/${tail}`;
}

function endWatch(watch) {
  fetch(ridPath(watch.operator, `rid/watches/${watch.id}`), {
    method: "DELETE", headers: { "Content-Type": "application/json" }, keepalive: true,
  }).catch(() => {});
}

// Keeps a watch over `rect` (and some margin, so a small pan needs no new one) at `operator`'s USS.
async function ensureWatch(operator, rect) {
  const w = rid.watch;
  if (w && w.operator === operator && inside(w.rect, rect) && w.end - Date.now() > 60000) return true;
  const grow = Math.min(1.5, (RID_MAX_M * 0.95) / diagonalM(rect));
  const [cLat, cLng] = [(rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2];
  const [hLat, hLng] = [((rect[2] - rect[0]) / 2) * grow, ((rect[3] - rect[1]) / 2) * grow];
  const wanted = [cLat - hLat, cLng - hLng, cLat + hLat, cLng + hLng];
  const { status, answer } = await post(ridPath(operator, "rid/watches"), { view: rectParam(wanted), duration_s: WATCH_S });
  if (status !== 201) {
    ridStatus("error", `Remote ID: ${operator} cannot watch this area (HTTP ${status}): ${answer.message ?? "no message"}`);
    return false;
  }
  if (w) endWatch(w);
  rid.watch = { operator, id: answer.id, rect: wanted, end: Date.now() + WATCH_S * 1000 };
  return true;
}

function ridStatus(status, text) {
  $("rid-status").dataset.state = status;
  $("rid-status").textContent = text;
}

async function ridTick() {
  const operator = currentOperator();
  if (!operator || rid.busy) return;
  rid.busy = true;
  try {
    const rect = shownRect();
    const across = diagonalM(rect);
    rid.flights = [];
    rid.clusters = [];
    if (across > RID_MAX_M) {
      ridStatus("zoom", `Zoom in to see Remote ID: the view is ${(across / 1000).toFixed(1)} km across, at most 7 km shows clusters, 2 km aircraft.`);
    } else if (await ensureWatch(operator, rect)) {
      const response = await fetch(`${ridPath(operator, "rid/flights")}?view=${rectParam(rect)}`, { cache: "no-store" });
      const answer = await response.json().catch(() => ({}));
      if (response.ok) {
        rid.flights = answer.flights;
        rid.clusters = answer.clusters;
        ridStatus(across > RID_FLIGHTS_M ? "clusters" : "flights", across > RID_FLIGHTS_M
          ? `${answer.clusters.reduce((n, c) => n + c.number_of_flights, 0)} aircraft in clusters; zoom in below 2 km across to see each.`
          : `${answer.flights.length} aircraft seen by ${operator}.`);
      } else {
        ridStatus("error", `Remote ID (HTTP ${response.status}): ${answer.message ?? "no message"}`);
      }
    }
    const alerts = await fetch(ridPath(operator, "alerts"), { cache: "no-store" });
    rid.alerts = alerts.ok ? (await alerts.json()).alerts : [];
  } catch (error) {
    ridStatus("error", `Remote ID: ${error.message}`);
  } finally {
    rid.busy = false;
  }
  drawRid();
}

function drawRid() {
  const layer = $("layer-rid");
  layer.replaceChildren();
  const px = 1 / view.scale; // one screen pixel in world units
  const alerted = new Set(rid.alerts.flatMap((a) => a.aircraft));
  for (const c of rid.clusters) {
    const [a, b] = c.corners;
    const [x0, y0] = project([a.lng, a.lat]);
    const [x1, y1] = project([b.lng, b.lat]);
    const group = element("g", { class: "rid-cluster", "data-flights": c.number_of_flights }, layer);
    element("rect", { x: Math.min(x0, x1), y: Math.min(y0, y1), width: Math.abs(x1 - x0), height: Math.abs(y1 - y0) }, group);
    element("text", { x: (x0 + x1) / 2, y: (y0 + y1) / 2, "font-size": 13 * px, "stroke-width": 3 * px }, group).textContent = c.number_of_flights;
  }
  const at = new Map();
  for (const f of rid.flights) {
    const p = f.position;
    at.set(f.id, [p.lng, p.lat]);
    const classes = ["rid-aircraft"];
    if (alerted.has(f.id)) classes.push("alert");
    if (f.simulated) classes.push("simulated");
    const group = element("g", {
      class: classes.join(" "), "data-id": f.id, "data-lat": p.lat, "data-lng": p.lng, "data-age": p.age_s,
    }, layer);
    const trail = [...f.recent_positions, p].map((r) => project([r.lng, r.lat]).map((v) => v.toFixed(5)).join(","));
    if (trail.length > 1) element("polyline", { class: "rid-trail", points: trail.join(" ") }, group);
    const [x, y] = project([p.lng, p.lat]);
    if (f.track_deg !== undefined) {
      const rad = (f.track_deg * Math.PI) / 180;
      element("line", { class: "rid-heading", x1: x, y1: y, x2: x + Math.sin(rad) * 16 * px, y2: y - Math.cos(rad) * 16 * px }, group);
    }
    element("circle", { class: "rid-marker", cx: x, cy: y, r: 5 * px }, group);
    const label = `${f.id} · ${Math.max(0, Math.round(p.age_s))} s${p.alt_m !== undefined ? ` · ${Math.round(p.alt_m)} m` : ""}`;
    element("text", { x: x + 8 * px, y: y - 8 * px, "font-size": 11 * px, "stroke-width": 3 * px }, group).textContent = label;
    element("title", {}, group).textContent = `${f.id} (${f.provider}${f.simulated ? ", simulated" : ""}): ${label}`;
  }
  const list = $("rid-alerts");
  list.replaceChildren();
  for (const a of rid.alerts) {
    const [one, other] = a.aircraft;
    if (at.has(one) && at.has(other)) {
      const [x1, y1] = project(at.get(one));
      const [x2, y2] = project(at.get(other));
      element("line", { class: "rid-alert-pair", "data-pair": `${one} ${other}`, x1, y1, x2, y2 }, layer);
    }
    const li = document.createElement("li");
    li.dataset.aircraft = `${one} ${other}`;
    li.title = "Centre the map on this pair";
    const inS = Math.round((Date.parse(a.loss_start.value) - Date.now()) / 1000);
    li.textContent = `${one} and ${other}: ${inS > 0 ? `loss of separation in ${inS} s` : "separation lost"}, closest ${Math.round(a.cpa_distance_m)} m`;
    li.addEventListener("click", () => {
      const where = at.get(one) ?? at.get(other);
      if (where) centreOn(where, RID_FLIGHTS_M * 0.75);
    });
    list.append(li);
  }
  $("rid").dataset.alerts = rid.alerts.length;
}

function followRemoteId() {
  if (!planner.operators.length) return;
  $("rid").classList.remove("hidden");
  setInterval(ridTick, 1000);
  ridTick();
  window.addEventListener("pagehide", () => rid.watch && endWatch(rid.watch));
}

wireControls();
wirePlanner();
applyView();
loadBasemap().catch((error) => console.error("basemap", error));
loadOperators().then(() => {
  redraw();
  followRemoteId();
}).catch((error) => console.error("operators", error));
refresh();
followChanges();
