// The Entente airspace map: MapLibre GL JS (vendored under vendor/, embedded in the binary like this file)
// draws the DSS's airspace, the basemap and Remote ID; nothing is loaded from elsewhere (unless the operator
// gave the server a basemap of their own, --basemap-url), so an operator without internet sees everything. Every volume is a GeoJSON feature whose properties say how it is drawn
// (kind, state, conflict, own, blocking, selected) and, in 3D, between which altitudes it is extruded.
import * as maplibregl from "./vendor/maplibre-gl.mjs";

// The PMTiles reader (vendor/pmtiles.js, a classic script loaded before this module, defines `pmtiles`):
// MapLibre asks it for each tile of a `pmtiles://` source, and it reads them from the archive by byte range.
maplibregl.addProtocol("pmtiles", new pmtiles.Protocol().tile);

const EARTH_RADIUS_M = 6371008.8;
// Volumes without an upper altitude are extruded this far above their lower one: high enough to stand out
// at drone scale, without towering over the view.
const OPEN_TOP_M = 300;
const EMPTY = { type: "FeatureCollection", features: [] };

const $ = (id) => document.getElementById(id);
const state = {
  all: null, // the latest view over all times: sets the slider's range and the first fit
  shown: null, // what is drawn: the same, or the view at the slider's instant
  selected: null, // id of the entity whose details are shown
  fitted: false,
  refreshing: null, // the refresh in flight, so change notices arriving meanwhile cause one more
  again: false,
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
  flights: [], // the operator's flights as its USS lists them
};

// ---- Time: UTC, labelled, with the local time beside it, everywhere ------------------------------------

const pad = (n) => String(n).padStart(2, "0");
function timeText(t) {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return "…";
  const utc = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
  return `${utc} (${pad(d.getHours())}:${pad(d.getMinutes())} local)`;
}

// ---- The map and its layers -----------------------------------------------------------------------------

const STATE_COLOURS = ["match", ["get", "state"],
  "Accepted", "#3b7dd8", "Activated", "#2e9e5b", "Nonconforming", "#f08a24", "Contingent", "#d7263d", "#3b7dd8"];
const STATE_STROKES = ["match", ["get", "state"],
  "Accepted", "#1f4f94", "Activated", "#1b6b3b", "Nonconforming", "#a85a0c", "Contingent", "#8c1020", "#1f4f94"];
const KIND_COLOURS = ["match", ["get", "kind"], "intent", STATE_COLOURS, "#8b1e3f"];
const kindIs = (kind) => ["==", ["get", "kind"], kind];
const selected = ["boolean", ["get", "selected"], false];

const WATER = "#cfe3f2";
const pmtilesUrl = (url) => `pmtiles://${new URL(url, location.href).href}`;

// The basemap the server embeds: the world (Natural Earth 1:50m land and borders, GeoJSON) under the
// region the demo flies in (Natural Earth 1:10m water, national and cantonal borders around Lake Geneva,
// vector tiles in region.pmtiles), so Lake Geneva is water and not land at drone scale, and the region's
// named places (GeoNames, places.json), which "go to" also searches.
const EMBEDDED_BASEMAP = {
  sources: {
    world: { type: "geojson", data: new URL("basemap.json", location.href).href, attribution: "Natural Earth" },
    region: { type: "vector", url: pmtilesUrl("region.pmtiles"), attribution: "Natural Earth" },
    places: { type: "geojson", data: EMPTY, attribution: "GeoNames" },
  },
  layers: [
    { id: "world-land", type: "fill", source: "world", filter: kindIs("land"), paint: { "fill-color": "#f2efe6", "fill-antialias": false } },
    { id: "world-border", type: "line", source: "world", filter: kindIs("border"), paint: { "line-color": "#b9b2a0", "line-width": 0.8, "line-dasharray": [3, 2] } },
    { id: "region-water", type: "fill", source: "region", "source-layer": "water", paint: { "fill-color": WATER } },
    { id: "region-shore", type: "line", source: "region", "source-layer": "water", paint: { "line-color": "#9cc3e0", "line-width": 1 } },
    { id: "region-province", type: "line", source: "region", "source-layer": "province", paint: { "line-color": "#c9c2b0", "line-width": 0.8, "line-dasharray": [1, 2] } },
    { id: "region-place", type: "circle", source: "places", minzoom: 8,
      paint: { "circle-color": "#6b6250", "circle-radius": ["case", [">=", ["get", "population"], 30000], 3.5, 2] } },
  ],
};

// The operator's basemap (--basemap-url), drawn instead of the embedded one: a `{z}/{x}/{y}` template is a
// raster tile server; a PMTiles archive says itself whether its tiles are images or vector tiles. Vector
// tiles come without a style, so each layer the archive lists is drawn plainly (areas filled, lines
// stroked), water in the map's water colour.
async function operatorBasemap(url) {
  const attribution = "Operator's basemap";
  const raster = (source) => ({ sources: { operator: source }, layers: [{ id: "operator-raster", type: "raster", source: "operator" }] });
  if (url.includes("{z}")) return raster({ type: "raster", tiles: [url], tileSize: 256, attribution });
  const archive = new pmtiles.PMTiles(url);
  if ((await archive.getHeader()).tileType !== pmtiles.TileType.Mvt) return raster({ type: "raster", url: pmtilesUrl(url), tileSize: 256, attribution });
  const layerIds = ((await archive.getMetadata()).vector_layers ?? []).map((layer) => layer.id);
  return {
    sources: { operator: { type: "vector", url: pmtilesUrl(url), attribution } },
    layers: layerIds.flatMap((layer) => {
      const water = /water|ocean|lake|river|sea/i.test(layer);
      return [
        { id: `operator-${layer}-fill`, type: "fill", source: "operator", "source-layer": layer, filter: ["==", ["geometry-type"], "Polygon"],
          paint: { "fill-color": water ? WATER : "#e4e0d4", "fill-opacity": water ? 1 : 0.6 } },
        { id: `operator-${layer}-line`, type: "line", source: "operator", "source-layer": layer, filter: ["==", ["geometry-type"], "LineString"],
          paint: { "line-color": water ? "#9cc3e0" : "#a89f8a", "line-width": 1 } },
      ];
    }),
  };
}

// A geographical zone's colour by its restriction: prohibited red, authorisation required orange, conditional
// amber, the others (no restriction, U-space airspace) blue.
const ZONE_COLOURS = ["match", ["get", "restriction"],
  "PROHIBITED", "#c0392b", "REQ_AUTHORISATION", "#e67e22", "CONDITIONAL", "#c9a400", "#2e86c1"];

function style(basemap) {
  // The page's own sources cut their shapes into tiles with a margin of 16 tile pixels (MapLibre's default is
  // 128) around each tile: enough for the widest stroke (4 px), and each shape near a tile's edge is no longer
  // processed again for every neighbour it reaches into, which a renderer without a GPU pays for per vertex.
  const source = () => ({ type: "geojson", data: EMPTY, buffer: 16 });
  return {
    version: 8,
    sources: {
      ...basemap.sources,
      airspace: source(),
      draft: source(),
      preview: source(),
      rid: source(),
      zones: source(),
    },
    layers: [
      { id: "water", type: "background", paint: { "background-color": WATER } },
      ...basemap.layers,
      { id: "subscriptions-line", type: "line", source: "airspace", filter: kindIs("subscription"), layout: { visibility: "none" },
        paint: { "line-color": "#555", "line-width": ["case", selected, 3, 1.5], "line-dasharray": [4, 2] } },
      // Each area's fill is drawn without MapLibre's antialiasing outline (a second pass over every edge), since a
      // line layer strokes the same edges over it.
      // Geographical zones as the acting operator's USS knows them, coloured by restriction, under the airspace.
      { id: "zones-fill", type: "fill", source: "zones", paint: { "fill-antialias": false, "fill-color": ZONE_COLOURS, "fill-opacity": 0.12 } },
      { id: "zones-line", type: "line", source: "zones", paint: { "line-color": ZONE_COLOURS, "line-width": 1.5, "line-dasharray": [1, 1] } },
      { id: "isas-fill", type: "fill", source: "airspace", filter: kindIs("isa"), paint: { "fill-antialias": false, "fill-color": "#7b5cd6", "fill-opacity": 0.15 } },
      { id: "isas-line", type: "line", source: "airspace", filter: kindIs("isa"), paint: { "line-color": "#4b34a0", "line-width": ["case", selected, 3, 1.5] } },
      { id: "constraints-fill", type: "fill", source: "airspace", filter: kindIs("constraint"), paint: { "fill-antialias": false, "fill-color": "#8b1e3f", "fill-opacity": 0.2 } },
      { id: "constraints-line", type: "line", source: "airspace", filter: kindIs("constraint"),
        paint: { "line-color": ["case", ["get", "blocking"], "#000", "#5c0f28"], "line-width": ["case", ["get", "blocking"], 4, selected, 3, 1.5], "line-dasharray": [2, 2] } },
      { id: "intents-fill", type: "fill", source: "airspace", filter: kindIs("intent"),
        paint: { "fill-antialias": false, "fill-color": STATE_COLOURS, "fill-opacity": ["case", ["get", "blocking"], 0.6, selected, 0.55, 0.35] } },
      { id: "intents-line", type: "line", source: "airspace", filter: kindIs("intent"),
        paint: { "line-color": STATE_STROKES, "line-width": ["case", selected, 3, ["get", "own"], 2.5, 1.5] } },
      // A conflict must stand out whatever the state: a thick dashed magenta outline; what blocks the
      // operator's plan: thick solid black over it.
      { id: "intents-conflict", type: "line", source: "airspace", filter: ["all", kindIs("intent"), ["get", "conflict"]],
        paint: { "line-color": "#d100d1", "line-width": 3, "line-dasharray": [2, 1] } },
      { id: "intents-blocking", type: "line", source: "airspace", filter: ["all", kindIs("intent"), ["get", "blocking"]],
        paint: { "line-color": "#000", "line-width": 4 } },
      // 4D: each intent's and constraint's volume in force at the slider's instant, between its altitudes
      // (metres above the WGS84 ellipsoid, drawn from sea level: the map has no terrain). Shown in the 3D
      // view only; ISAs and subscriptions, kilometres high, stay flat so they do not wall the view in.
      { id: "volumes-3d", type: "fill-extrusion", source: "airspace", filter: ["in", ["get", "kind"], ["literal", ["intent", "constraint"]]], layout: { visibility: "none" },
        paint: { "fill-extrusion-color": KIND_COLOURS, "fill-extrusion-base": ["get", "lo"], "fill-extrusion-height": ["get", "hi"], "fill-extrusion-opacity": 0.6 } },
      { id: "draft-fill", type: "fill", source: "draft", filter: ["==", ["geometry-type"], "Polygon"], paint: { "fill-color": "#ffd400", "fill-opacity": 0.35 } },
      { id: "draft-line", type: "line", source: "draft", filter: ["!=", ["geometry-type"], "Point"], paint: { "line-color": "#8a6d00", "line-width": 2, "line-dasharray": [3, 2] } },
      { id: "draft-3d", type: "fill-extrusion", source: "draft", filter: ["==", ["geometry-type"], "Polygon"], layout: { visibility: "none" },
        paint: { "fill-extrusion-color": "#8a6d00", "fill-extrusion-base": ["get", "lo"], "fill-extrusion-height": ["get", "hi"], "fill-extrusion-opacity": 0.5 } },
      { id: "draft-vertex", type: "circle", source: "draft", filter: ["==", ["geometry-type"], "Point"], paint: { "circle-color": "#8a6d00", "circle-radius": 4 } },
      { id: "preview-fill", type: "fill", source: "preview", paint: { "fill-color": "#ffd400", "fill-opacity": 0.35 } },
      { id: "preview-line", type: "line", source: "preview", paint: { "line-color": "#8a6d00", "line-width": 2, "line-dasharray": [3, 2] } },
      { id: "preview-3d", type: "fill-extrusion", source: "preview", layout: { visibility: "none" },
        paint: { "fill-extrusion-color": "#ffd400", "fill-extrusion-base": ["get", "lo"], "fill-extrusion-height": ["get", "hi"], "fill-extrusion-opacity": 0.7 } },
      { id: "rid-cluster-fill", type: "fill", source: "rid", filter: kindIs("cluster"), paint: { "fill-color": "#0a6e78", "fill-opacity": 0.2 } },
      { id: "rid-cluster-line", type: "line", source: "rid", filter: kindIs("cluster"), paint: { "line-color": "#0a6e78", "line-width": 1.5 } },
      { id: "rid-trail", type: "line", source: "rid", filter: kindIs("trail"),
        paint: { "line-color": ["case", ["get", "alert"], "#e00000", "#0a6e78"], "line-width": 2, "line-opacity": 0.6 } },
      { id: "rid-alert-pair", type: "line", source: "rid", filter: kindIs("pair"), paint: { "line-color": "#e00000", "line-width": 2, "line-dasharray": [2, 1.5] } },
    ],
  };
}

// The layers an entity is drawn in, by the layer toggle that shows them.
const TOGGLED = {
  zones: ["zones-fill", "zones-line"],
  intents: ["intents-fill", "intents-line", "intents-conflict", "intents-blocking"],
  constraints: ["constraints-fill", "constraints-line"],
  subscriptions: ["subscriptions-line"],
  isas: ["isas-fill", "isas-line"],
};
// Where a click or a query finds entities, topmost first.
const ENTITY_LAYERS = ["intents-fill", "constraints-fill", "isas-fill", "subscriptions-line"];

// The server says whether the operator gave a basemap of their own; if asking fails, the embedded one.
const operatorUrl = await fetch("api/basemap").then((r) => r.json()).then((b) => b.url).catch(() => null);
const map = new maplibregl.Map({
  container: "map",
  style: style(operatorUrl ? await operatorBasemap(operatorUrl) : EMBEDDED_BASEMAP),
  center: [6.63, 46.52],
  zoom: 3,
  maxPitch: 70,
  attributionControl: { compact: false },
  // The page keeps the map's canvas, so a test can read its pixels and a screenshot matches the screen.
  canvasContextAttributes: { preserveDrawingBuffer: true },
});
// A style without a sky (the map's never has one) gets MapLibre's default, transparent, which MapLibre 6 still
// shades over the whole canvas before every frame: it changes no pixel, but on a machine without a GPU (the
// browser renders in software) it costs a quarter of a frame. So a sky is drawn only when the style has one.
const painter = map.painter;
if (painter?.drawFunctions?.sky) {
  const drawSky = painter.drawFunctions.sky;
  painter.drawFunctions = { ...painter.drawFunctions, sky: (...args) => map.getSky() && drawSky(...args) };
}
map.addControl(new maplibregl.NavigationControl({ visualizePitch: true }), "top-left");
map.addControl(new maplibregl.ScaleControl({ unit: "metric", maxWidth: 160 }), "bottom-left");
const styled = new Promise((resolve) => map.on("load", resolve));

// ---- Named places: drawn, labelled and searched -----------------------------------------------------------

// The embedded basemap's places (none over an operator's basemap), largest first.
const places = operatorUrl ? [] : await fetch("places.json").then((r) => r.json()).then((c) => c.features).catch(() => []);
if (places.length) styled.then(() => map.getSource("places").setData({ type: "FeatureCollection", features: places }));
// The smallest population labelled at a zoom: only towns in a regional view, every village close up.
const labelledFrom = (zoom) => (zoom < 8 ? Infinity : zoom < 10 ? 30000 : zoom < 12 ? 5000 : 0);
const labels = new Map(); // place name and position -> its marker, for the labels shown now
function labelPlaces() {
  const bounds = map.getBounds();
  const least = labelledFrom(map.getZoom());
  const wanted = new Set();
  for (const place of places) {
    const { name, population } = place.properties;
    const [lng, lat] = place.geometry.coordinates;
    if (population < least || !bounds.contains([lng, lat])) continue;
    const key = `${name} ${lng} ${lat}`;
    wanted.add(key);
    if (labels.has(key)) continue;
    const element = Object.assign(document.createElement("div"), { className: population >= 30000 ? "place-label large" : "place-label", textContent: name });
    labels.set(key, new maplibregl.Marker({ element, anchor: "left", offset: [5, 0] }).setLngLat([lng, lat]).addTo(map));
  }
  for (const [key, marker] of labels) if (!wanted.has(key)) { marker.remove(); labels.delete(key); }
}
if (places.length) map.on("moveend", labelPlaces);

// Letters without accents or case, so "geneve" finds Genève.
const folded = (text) => text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase().trim();
// The place a name means: one whose name or other name is it, else one whose name starts with it; the
// largest first.
function findPlace(text) {
  const wanted = folded(text);
  const names = (place) => [place.properties.name, ...place.properties.other].map(folded);
  return places.find((p) => names(p).includes(wanted)) ?? places.find((p) => names(p).some((n) => n.startsWith(wanted)));
}

// A circle's outline as a polygon of 64 sides, fine enough at any zoom an operator uses.
function circleRing([lng, lat], radius) {
  const dLat = (radius / EARTH_RADIUS_M) * (180 / Math.PI);
  const dLng = dLat / Math.cos((lat * Math.PI) / 180);
  const ring = [];
  for (let i = 0; i <= 64; i++) {
    const a = (i / 64) * 2 * Math.PI;
    ring.push([lng + dLng * Math.cos(a), lat + dLat * Math.sin(a)]);
  }
  return ring;
}

function outlineRing(outline) {
  if (outline.type === "Circle") return circleRing(outline.center, outline.radius_m);
  const ring = outline.coordinates.slice();
  if (ring.length) ring.push(ring[0]);
  return ring;
}

function volumeFeature(volume, properties) {
  const lo = volume.altitude_lower_m ?? 0;
  const hi = volume.altitude_upper_m ?? lo + OPEN_TOP_M;
  return {
    type: "Feature",
    properties: { ...properties, lo, hi },
    geometry: { type: "Polygon", coordinates: [outlineRing(volume.outline)] },
  };
}

// The classes an entity is drawn with: what the test and the legend call its look.
function classesOf(e) {
  const classes = ["entity", e.kind];
  if (e.kind === "intent") {
    classes.push(e.state);
    if (e.conflicts_with.length) classes.push("conflict");
    if (e.manager === currentOperator()) classes.push("own");
  }
  if (planner.blocking.has(e.id)) classes.push("blocking");
  if (e.id === state.selected) classes.push("selected");
  return classes.join(" ");
}

function entities(airspace) {
  return [
    ...airspace.operational_intents.map((e) => ({ ...e, kind: "intent" })),
    ...airspace.constraints.map((e) => ({ ...e, kind: "constraint" })),
    ...airspace.subscriptions.map((e) => ({ ...e, kind: "subscription" })),
    ...airspace.identification_service_areas.map((e) => ({ ...e, kind: "isa" })),
  ];
}

// "north-uss 1a2b3c4d": an intent named by its operator and short id; the full id is a click away.
const shortName = (e) => `${e.manager ?? e.owner ?? e.kind} ${e.id.slice(0, 8)}`;

// Every draw ends when the map rendered it: the summary says "ready" only then, so whoever reads the
// map (a test, say) sees what the data says.
function settle(summary) {
  summary.dataset.state = "drawing";
  map.once("idle", () => { summary.dataset.state = "ready"; });
  map.triggerRepaint();
}

function draw(airspace) {
  const features = [];
  for (const e of entities(airspace)) {
    const properties = {
      id: e.id, kind: e.kind, state: e.state ?? null, classes: classesOf(e),
      conflict: Boolean(e.conflicts_with && e.conflicts_with.length),
      own: e.kind === "intent" && e.manager === currentOperator(),
      blocking: planner.blocking.has(e.id), selected: e.id === state.selected,
    };
    for (const v of e.volumes) features.push(volumeFeature(v, properties));
  }
  map.getSource("airspace").setData({ type: "FeatureCollection", features });
  const intents = airspace.operational_intents.length;
  const summary = $("summary");
  summary.dataset.intents = intents;
  summary.dataset.conflicts = airspace.conflicts.length;
  if (!state.selected) {
    summary.textContent = `${intents} intents, ${airspace.conflicts.length} conflicts, ${airspace.constraints.length} constraints, ` +
      `${airspace.subscriptions.length} subscriptions, ${airspace.identification_service_areas.length} ISAs. Click a shape for details.`;
  }
  settle(summary);
  showDetails();
  // A flight selected before it was drawn (one just accepted) gets its USS status once it is.
  if (state.selected && planner.asked !== state.selected) loadFlightStatus();
}

// What the map renders of the entities now: each one's id, kind and classes, from MapLibre's own query.
function drawn() {
  const layers = ENTITY_LAYERS.filter((l) => map.getLayoutProperty(l, "visibility") !== "none");
  const seen = new Map();
  for (const f of map.queryRenderedFeatures({ layers })) {
    const p = f.properties;
    if (!seen.has(p.id)) seen.set(p.id, { id: p.id, kind: p.kind, classes: p.classes });
  }
  // In the airspace's order, not the renderer's.
  const order = new Map((state.shown ? entities(state.shown) : []).map((e, i) => [e.id, i]));
  return [...seen.values()].sort((a, b) => (order.get(a.id) ?? Infinity) - (order.get(b.id) ?? Infinity));
}

function select(id) {
  state.selected = id;
  $("flight-message").textContent = "";
  $("flight-message").dataset.state = "idle";
  planner.asked = null;
  planner.status = null;
  redraw();
  loadFlightStatus();
}

function copyButton(text) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "copy";
  button.textContent = "copy id";
  button.title = text;
  button.addEventListener("click", (event) => {
    event.stopPropagation();
    navigator.clipboard?.writeText(text).then(() => { button.textContent = "copied"; }, () => { button.textContent = text; });
  });
  return button;
}

function showDetails() {
  const fields = $("fields");
  fields.replaceChildren();
  const e = state.shown && state.selected ? entities(state.shown).find((x) => x.id === state.selected) : null;
  // Actions are offered only for a flight that is on the map and the operator's own, as its USS says.
  $("flight-actions").classList.add("hidden");
  drawProfile(e);
  if (!e) return;
  $("summary").textContent = `${e.kind} ${shortName(e)} — ${e.id}`;
  const addField = (name, value, extra) => {
    if (value === undefined || value === null || value === "") return;
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = value;
    if (extra) dd.append(" ", extra);
    fields.append(dt, dd);
    return dd;
  };
  addField("Kind", e.kind);
  addField("Id", e.id, copyButton(e.id));
  addField("Manager", e.manager ?? e.owner);
  addField("State", e.state);
  addField("Version", e.version);
  addField("USS", e.uss_base_url ?? e.url);
  addField("Subscription", e.subscription_id);
  if (e.kind === "intent") {
    const all = entities(state.all ?? state.shown);
    const dd = addField("Conflicts with", e.conflicts_with.length ? "" : "none");
    for (const id of e.conflicts_with) {
      const other = all.find((x) => x.id === id);
      const link = document.createElement("a");
      link.href = "#";
      link.className = "entity-link";
      link.dataset.id = id;
      link.textContent = other ? shortName(other) : id.slice(0, 8);
      link.title = id;
      link.addEventListener("click", (event) => { event.preventDefault(); select(id); });
      dd?.append(link, " ");
    }
  }
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
    addField(`Volume ${i + 1}`, `${where}; ${alt}; ${v.time_start ? timeText(v.time_start) : "…"} → ${v.time_end ? timeText(v.time_end) : "…"}`);
  });
  const own = e.kind === "intent" && e.manager === currentOperator();
  if (own && planner.status && planner.status.id === e.id) {
    const flight = planner.status.body;
    addField("USS state", flight.state);
    addField("Reason", flight.state_reason);
    addField("Priority", flight.priority);
    addField("Alerts", flight.alerts && flight.alerts.length ? flight.alerts.join("; ") : "none");
    showActions(flight.state);
  } else if (e.kind === "intent" && planner.operators.includes(e.manager) && !own) {
    addField("Actions", `act as ${e.manager} to activate or end it`);
  }
}

// The height profile of the selected intent and of the intents it meets: each volume a box from its start
// to its end (across) and from its lower to its upper altitude (up), so where they meet in time and height
// shows at a glance. SVG built here, in the panel; nothing is drawn for other kinds.
const SVG = "http://www.w3.org/2000/svg";
function drawProfile(e) {
  const svg = $("profile");
  svg.replaceChildren();
  svg.classList.toggle("hidden", !e || e.kind !== "intent");
  if (!e || e.kind !== "intent") return;
  const all = entities(state.all ?? state.shown);
  const boxes = [];
  const add = (entity, role) => {
    for (const v of entity.volumes) {
      if (!v.time_start || !v.time_end) continue;
      const lo = v.altitude_lower_m ?? 0;
      boxes.push({ id: entity.id, role, state: entity.state, t0: Date.parse(v.time_start), t1: Date.parse(v.time_end), lo, hi: v.altitude_upper_m ?? lo + OPEN_TOP_M });
    }
  };
  add(e, "selected");
  for (const id of e.conflicts_with) {
    const other = all.find((x) => x.id === id);
    if (other) add(other, "meets");
  }
  if (!boxes.length) return;
  const [W, H, left, bottom] = [300, 150, 42, 20];
  const t0 = Math.min(...boxes.map((b) => b.t0));
  const t1 = Math.max(...boxes.map((b) => b.t1));
  const top = Math.max(...boxes.map((b) => b.hi)) * 1.1 || 1;
  const x = (t) => left + ((W - left - 6) * (t - t0)) / Math.max(1, t1 - t0);
  const y = (m) => H - bottom - ((H - bottom - 6) * Math.max(0, m)) / top;
  const node = (name, attributes, text) => {
    const n = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attributes)) n.setAttribute(k, v);
    if (text !== undefined) n.textContent = text;
    svg.append(n);
    return n;
  };
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  node("line", { x1: left, y1: y(0), x2: W - 4, y2: y(0), class: "axis" });
  node("line", { x1: left, y1: y(0), x2: left, y2: 4, class: "axis" });
  node("text", { x: left - 4, y: y(top / 1.1) + 4, "text-anchor": "end" }, `${Math.round(top / 1.1)} m`);
  node("text", { x: left - 4, y: y(0), "text-anchor": "end" }, "0 m");
  const hhmm = (t) => `${pad(new Date(t).getUTCHours())}:${pad(new Date(t).getUTCMinutes())}`;
  node("text", { x: left, y: H - 5 }, `${hhmm(t0)} UTC`);
  node("text", { x: W - 4, y: H - 5, "text-anchor": "end" }, `${hhmm(t1)} UTC`);
  for (const b of boxes) {
    const rect = node("rect", {
      x: x(b.t0), y: y(b.hi), width: Math.max(1, x(b.t1) - x(b.t0)), height: Math.max(1, y(b.lo) - y(b.hi)),
      class: `profile-box ${b.role} ${b.state ?? ""}`,
    });
    rect.dataset.id = b.id;
    rect.dataset.role = b.role;
    rect.dataset.lo = b.lo;
    rect.dataset.hi = b.hi;
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${b.role === "selected" ? "this flight" : "meets"}: ${b.lo}–${b.hi} m, ${timeText(b.t0)} → ${timeText(b.t1)}`;
    rect.append(title);
  }
  const now = Date.now();
  if (now >= t0 && now <= t1) node("line", { x1: x(now), y1: 4, x2: x(now), y2: y(0), class: "now" });
}

// The actions a flight in `flightState` allows: Activate an Accepted one, End any not yet ended.
const ACTIONS = {
  Accepted: ["activate", "end"], Activated: ["end"], Nonconforming: ["end"], Contingent: ["end"],
};
function showActions(flightState) {
  const actions = ACTIONS[flightState] ?? [];
  $("flight-actions").classList.toggle("hidden", !actions.length);
  $("activate").classList.toggle("hidden", !actions.includes("activate"));
  $("end-flight").classList.toggle("hidden", !actions.includes("end"));
}

// The slider spans the earliest start to the latest end of every volume in the all-times view.
function timeRange() {
  if (!state.all) return null;
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
  const slider = $("slider");
  return new Date(range[0] + ((range[1] - range[0]) * slider.value) / slider.max);
}

// "Now" as a tick over the slider, where the current instant falls in its range (none outside it).
function markNow() {
  const range = timeRange();
  const tick = $("now-tick");
  const now = Date.now();
  if (!range || now < range[0] || now > range[1] || range[1] === range[0]) {
    tick.classList.add("hidden");
    return;
  }
  tick.classList.remove("hidden");
  tick.style.left = `${(100 * (now - range[0])) / (range[1] - range[0])}%`;
  tick.title = `now: ${timeText(now)}`;
}

async function fetchAirspace(at) {
  const url = at ? `api/airspace?at=${encodeURIComponent(at.toISOString())}` : "api/airspace";
  const response = await fetch(url, { cache: "no-store" });
  if (!response.ok) throw new Error(`the airspace could not be read (HTTP ${response.status})`);
  return response.json();
}

// Coalesces bursts: at most one refresh runs, and notices arriving during it cause exactly one more.
async function refresh() {
  if (state.refreshing) {
    state.again = true;
    return state.refreshing;
  }
  state.refreshing = (async () => {
    await styled;
    do {
      state.again = false;
      try {
        state.all = await fetchAirspace(null);
        const instant = $("all-times").checked ? null : sliderInstant();
        state.shown = instant ? await fetchAirspace(instant) : state.all;
        $("instant").textContent = instant ? timeText(instant) : "all times";
        markNow();
        if (!state.fitted) {
          fit(state.all);
          state.fitted = true;
        }
        draw(state.shown);
      } catch (error) {
        $("summary").textContent = `Cannot load the airspace: ${error.message}.`;
      }
    } while (state.again);
    state.refreshing = null;
    loadMyFlights();
  })();
  return state.refreshing;
}

function boundsOf(airspace) {
  const b = new maplibregl.LngLatBounds();
  for (const e of entities(airspace)) for (const v of e.volumes) for (const p of outlineRing(v.outline)) b.extend(p);
  return b;
}

function fit(airspace) {
  const bounds = boundsOf(airspace);
  if (bounds.isEmpty()) {
    map.jumpTo({ center: [0, 20], zoom: 1 });
    return;
  }
  // A lone small entity would zoom in absurdly far: zoom 16 shows about a kilometre around it.
  map.fitBounds(bounds, { padding: 40, maxZoom: 16, animate: false });
}

// Centres the map on [lng, lat] with `metres` across its diagonal (at zoom z a 512-pixel tile spans the
// world, so a pixel is 2πR·cos(lat) / (512·2^z) metres).
function centreOn([lng, lat], metres) {
  const { width, height } = map.getContainer().getBoundingClientRect();
  const metresPerPixel = metres / Math.hypot(width, height);
  const zoom = Math.log2((2 * Math.PI * EARTH_RADIUS_M * Math.cos((lat * Math.PI) / 180)) / (512 * metresPerPixel));
  map.jumpTo({ center: [lng, lat], zoom });
}

function wireControls() {
  for (const box of document.querySelectorAll("[data-layer]")) {
    const apply = () => {
      for (const layer of TOGGLED[box.dataset.layer]) map.setLayoutProperty(layer, "visibility", box.checked ? "visible" : "none");
    };
    box.addEventListener("change", apply);
    styled.then(apply);
  }
  const allTimes = $("all-times");
  const slider = $("slider");
  allTimes.addEventListener("change", () => {
    slider.disabled = allTimes.checked;
    refresh();
  });
  // Dragging the slider fires many events; the refresh coalesces them.
  slider.addEventListener("input", () => refresh());
  $("fit").addEventListener("click", () => state.all && fit(state.all));
  $("view-3d").addEventListener("change", () => show3d($("view-3d").checked));
  map.on("mousemove", (event) => {
    const { lng, lat } = event.lngLat;
    $("coords").textContent = `${lat.toFixed(5)}, ${lng.toFixed(5)}`;
    const over = !planner.drawing && map.queryRenderedFeatures(event.point, { layers: visibleEntityLayers() }).length > 0;
    map.getCanvas().style.cursor = planner.drawing ? "crosshair" : over ? "pointer" : "";
  });
  map.on("click", (event) => {
    if (planner.drawing) return;
    const hit = map.queryRenderedFeatures(event.point, { layers: visibleEntityLayers() })[0];
    if (hit) select(hit.properties.id);
  });
  $("goto").addEventListener("submit", (event) => {
    event.preventDefault();
    goTo($("goto-text").value);
  });
  setInterval(markNow, 10000);
}

const visibleEntityLayers = () => ENTITY_LAYERS.filter((l) => map.getLayoutProperty(l, "visibility") !== "none");

// The 3D view: volumes extruded between their altitudes, the map tilted; back to the flat, north-up map.
const LAYERS_3D = ["volumes-3d", "draft-3d", "preview-3d"];
function show3d(on) {
  for (const layer of LAYERS_3D) map.setLayoutProperty(layer, "visibility", on ? "visible" : "none");
  map.jumpTo(on ? { pitch: 60 } : { pitch: 0, bearing: 0 });
}

// "46.52, 6.63" (latitude first, as operators read coordinates) centres the map there, about 2 km across;
// a place's name ("Lausanne", "geneve") centres it on that place, about 4 km across.
function goTo(text) {
  const message = $("goto-message");
  const match = /^\s*(-?\d+(?:\.\d+)?)\s*[,;\s]\s*(-?\d+(?:\.\d+)?)\s*$/.exec(text);
  const lat = match && Number(match[1]);
  const lng = match && Number(match[2]);
  const place = !match && text.trim() && findPlace(text);
  if (place) {
    message.textContent = `${place.properties.name} (${place.properties.country})`;
    delete message.dataset.state;
    centreOn(place.geometry.coordinates, 4000);
    return;
  }
  if (!match) {
    message.textContent = places.length
      ? `No place named "${text.trim()}" here; or type a latitude and a longitude in degrees, e.g. 46.52, 6.63.`
      : "Type a latitude and a longitude in degrees, e.g. 46.52, 6.63.";
  } else if (Math.abs(lat) > 85) {
    message.textContent = `Latitude ${lat} is out of the map: between -85 and 85 degrees.`;
  } else if (Math.abs(lng) > 180) {
    message.textContent = `Longitude ${lng} is out of range: between -180 and 180 degrees.`;
  } else {
    message.textContent = "";
    centreOn([lng, lat], 2000);
    return;
  }
  message.dataset.state = "error";
}

// The server announces every change on this stream; EventSource reconnects by itself after a drop.
function followChanges() {
  const live = $("live");
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
  const outline = draftOutline();
  const hint = $("draw-hint");
  if (shapeKind() === "circle") {
    hint.textContent = planner.center ? "Click elsewhere to move the centre; set the radius above." : "Click the map to place the centre.";
  } else {
    const n = planner.vertices.length;
    hint.textContent = n < 3 ? `Click the map to add vertices: ${n} of at least 3.` : `${n} vertices; click to add more.`;
  }
  const features = [];
  if (outline) {
    if (outline.type === "Polygon" && outline.coordinates.length < 3) {
      features.push({ type: "Feature", properties: {}, geometry: { type: "LineString", coordinates: outline.coordinates } });
    } else {
      // Extruded in 3D between the form's altitudes, so an alternative's preview compares with the plan.
      const altitude = (id) => ($(id).value === "" ? null : Number($(id).value));
      features.push(volumeFeature({ outline, altitude_lower_m: altitude("alt-lower"), altitude_upper_m: altitude("alt-upper") }, {}));
    }
    const points = outline.type === "Polygon" ? outline.coordinates : [outline.center];
    for (const p of points) features.push({ type: "Feature", properties: {}, geometry: { type: "Point", coordinates: p } });
  }
  map.getSource("draft")?.setData({ type: "FeatureCollection", features });
  $("planner").dataset.vertices = outline ? (outline.type === "Polygon" ? outline.coordinates.length : 1) : 0;
}

function drawPreview() {
  const alternative = planner.alternatives[planner.previewed];
  const features = alternative
    ? alternative.request.volumes.map((v) => volumeFeature(viewVolume(v), { alternative: planner.previewed }))
    : [];
  map.getSource("preview")?.setData({ type: "FeatureCollection", features });
}

// The planner's times are UTC, as everything the map shows; the local time is shown beside each.
const utcInput = (date) => date.toISOString().slice(0, 16);
const fromUtcInput = (value) => new Date(`${value}Z`);
function showLocal(input) {
  const date = fromUtcInput(input.value);
  $(`${input.id}-local`).textContent = Number.isNaN(date.getTime()) ? "" : `${pad(date.getHours())}:${pad(date.getMinutes())} local`;
}

function openPlanner() {
  planner.drawing = true;
  $("planner").classList.remove("hidden");
  $("planner-operator").textContent = currentOperator();
  if (!$("time-start").value) {
    const now = Date.now();
    $("time-start").value = utcInput(new Date(now + 5 * 60000));
    $("time-end").value = utcInput(new Date(now + 35 * 60000));
  }
  showLocal($("time-start"));
  showLocal($("time-end"));
  showLatestEnd();
  drawDraft();
}

function closePlanner() {
  planner.drawing = false;
  $("planner").classList.add("hidden");
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
    throw new Error(shapeKind() === "circle" ? "Place the circle's centre on the map." : "Draw at least 3 vertices on the map.");
  }
  if (outline.type === "Circle" && !(outline.radius_m > 0)) throw new Error("The radius must be above 0 m.");
  const lower = Number($("alt-lower").value);
  const upper = Number($("alt-upper").value);
  if ($("alt-lower").value === "" || $("alt-upper").value === "" || !Number.isFinite(lower) || !Number.isFinite(upper)) {
    throw new Error("Give both altitudes in metres.");
  }
  if (lower > upper) throw new Error("The lower altitude must not exceed the upper one.");
  const start = fromUtcInput($("time-start").value);
  const end = fromUtcInput($("time-end").value);
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime())) throw new Error("Give the start and the end (UTC).");
  if (start >= end) throw new Error("The start must come before the end.");
  const priority = Number($("priority").value || 0);
  if (!Number.isInteger(priority) || Math.abs(priority) > 2 ** 31 - 1) throw new Error("The priority must be a whole number.");
  const altitude = (value) => ({ value, reference: "W84", units: "M" });
  const limits = draftLimits(end);
  return {
    volumes: [{
      volume: { ...wireOutline(outline), altitude_lower: altitude(lower), altitude_upper: altitude(upper) },
      time_start: wireTime(start),
      time_end: wireTime(end),
    }],
    priority,
    ...(Object.keys(limits).length ? { limits } : {}),
    ...($("best-effort").checked ? { best_effort: true } : {}),
  };
}

const wireTime = (date) => ({ value: date.toISOString(), format: "RFC3339" });

// A number the limits form holds, or null when its field is empty; throws with what to fix.
function limitField(id, what) {
  const text = $(id).value.trim();
  if (text === "") {
    // A number input reads as empty while it holds what is not a number.
    if ($(id).validity.badInput) throw new Error(`${what} must be a number.`);
    return null;
  }
  const value = Number(text);
  if (!Number.isFinite(value)) throw new Error(`${what} must be a number.`);
  if (value < 0) throw new Error(`${what} must not be negative.`);
  return value;
}

// The limits form as the operator API's PlanLimits: only what the operator filled in, so every bound left empty
// stays the USS's own. The largest delay counts from the plan's `end` (UTC, as the form's times).
function draftLimits(end) {
  const floor = limitField("limit-floor", "The altitude floor");
  const ceiling = limitField("limit-ceiling", "The altitude ceiling");
  const delay = limitField("limit-delay", "The largest delay");
  const lateral = limitField("limit-lateral", "The largest sideways deviation");
  if (floor !== null && ceiling !== null && ceiling < floor) throw new Error("The altitude ceiling must not be below the floor.");
  const limits = {};
  if (floor !== null) limits.altitude_floor_m = floor;
  if (ceiling !== null) limits.altitude_ceiling_m = ceiling;
  if (delay !== null) limits.latest_end = wireTime(new Date(end.getTime() + delay * 60000));
  if (lateral !== null) limits.max_lateral_m = lateral;
  // Three ways: the USS's default sends nothing, so that "no" can be said as plainly as "yes".
  const shape = $("limit-shape").value;
  if (shape !== "") limits.shape_may_change = shape === "yes";
  return limits;
}

// Beside the largest delay: the latest end it allows, in UTC with the local time, as every time the map shows.
function showLatestEnd() {
  const end = fromUtcInput($("time-end").value);
  const delay = Number($("limit-delay").value);
  const shown = $("limit-delay-end");
  shown.textContent = $("limit-delay").value === "" || !(delay >= 0) || Number.isNaN(end.getTime())
    ? "" : `ends by ${timeText(end.getTime() + delay * 60000)}`;
}

function showResult(resultState, message) {
  $("plan-result").dataset.state = resultState;
  $("plan-message").textContent = message;
  $("plan-message").dataset.state = resultState;
  showPlannedInstead(null);
  if (resultState !== "conflict") {
    planner.blocking = new Set();
    planner.alternatives = [];
    planner.previewed = null;
    $("conflicting").replaceChildren();
    $("alternatives").replaceChildren();
    drawPreview();
  }
}

// What an answer that is not the expected one means, in words: the server's own message when it gave one
// (it names the field and the rule), never a parser's.
function refusal(what, status, answer) {
  const reasons = {
    400: "the request was refused", 401: "this server may not act for the operator", 403: "this server may not act for the operator",
    404: "it is not known there", 409: "it conflicts with the state of the airspace", 413: "it is too large",
    502: "the USS or the DSS behind it did not answer properly", 503: "the USS is not available", 504: "the USS did not answer in time",
  };
  const reason = reasons[status] ?? `the server answered HTTP ${status}`;
  const message = typeof answer.message === "string" && answer.message && !/ at line \d+ column \d+/.test(answer.message)
    ? `: ${answer.message}` : "";
  return `${what}: ${reason}${message}.`;
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
      showResult("accepted", `Accepted: flight ${name} ${answer.id.slice(0, 8)} (${answer.state}).`);
      showPlannedInstead(answer.planned_instead);
      $("plan-result").dataset.flight = answer.id;
      clearShape();
      select(answer.id);
      refresh();
    } else if (status === 409 && Array.isArray(answer.alternatives)) {
      showConflict(answer);
    } else {
      showResult("error", refusal("Not planned", status, answer));
    }
  } catch (error) {
    showResult("error", `Cannot reach this server (${error.message}).`);
  }
}

// How an alternative differs from the plan, and what it costs (the USS ranks alternatives by cost).
function changeText(alternative) {
  const parts = [];
  const minutes = Math.round(alternative.time_shift_seconds / 60);
  if (minutes) parts.push(`${Math.abs(minutes)} min ${minutes > 0 ? "later" : "earlier"}`);
  const metres = Math.round(alternative.altitude_shift_m);
  if (metres) parts.push(`${Math.abs(metres)} m ${metres > 0 ? "higher" : "lower"}`);
  const sideways = Math.round(alternative.lateral_m ?? 0);
  if (sideways) parts.push(`${sideways} m sideways`);
  return `${parts.join(", ") || "unchanged"} (cost ${(alternative.cost ?? 0).toFixed(1)})`;
}

function shiftText(alternative) {
  const v = viewVolume(alternative.request.volumes[0]);
  return `${changeText(alternative)}: ${v.altitude_lower_m}–${v.altitude_upper_m} m, ${timeText(v.time_start)} → ${timeText(v.time_end)}`;
}

// The highest altitude an alternative's volumes reach (metres, W84), or null when one has no upper altitude.
function highestOf(request) {
  const uppers = request.volumes.map((v) => viewVolume(v).altitude_upper_m);
  return uppers.some((u) => u === undefined || u === null) ? null : Math.max(...uppers);
}

// A best-effort plan that conflicted as asked was planned as one of its alternatives: what changed, and what
// the plan as asked met, so the operator knows the flight is not quite the one they drew.
function showPlannedInstead(instead) {
  const note = $("plan-instead");
  note.classList.toggle("hidden", !instead);
  for (const key of ["timeShift", "altitudeShift", "lateral", "cost"]) delete note.dataset[key];
  if (!instead) {
    note.textContent = "";
    return;
  }
  const a = instead.alternative;
  Object.assign(note.dataset, { timeShift: a.time_shift_seconds, altitudeShift: a.altitude_shift_m, lateral: a.lateral_m ?? 0, cost: a.cost ?? 0 });
  const met = instead.conflicting_intents.map((id) => id.slice(0, 8)).join(", ");
  note.textContent = `Planned instead of the plan as asked: ${shiftText(a)}. As asked, it met ${met || "other flights"}.`;
}

function showConflict(answer) {
  showResult("conflict", `${answer.message}. Pick an alternative, or change the plan.`);
  planner.blocking = new Set(answer.conflicting_intents);
  planner.alternatives = answer.alternatives;
  const conflicting = $("conflicting");
  const all = state.all ? entities(state.all) : [];
  for (const id of answer.conflicting_intents) {
    const li = document.createElement("li");
    const known = all.find((x) => x.id === id);
    const name = document.createElement("span");
    name.className = "entity-link";
    name.textContent = known ? shortName(known) : id.slice(0, 8);
    name.title = id;
    li.append(name, " ", copyButton(id));
    li.dataset.id = id;
    name.addEventListener("click", () => select(id));
    conflicting.append(li);
  }
  const list = $("alternatives");
  answer.alternatives.forEach((alternative, index) => {
    const li = document.createElement("li");
    li.dataset.index = index;
    li.dataset.altitudeShift = alternative.altitude_shift_m;
    li.dataset.lateral = alternative.lateral_m ?? 0;
    li.dataset.cost = alternative.cost ?? 0;
    const highest = highestOf(alternative.request);
    if (highest !== null) li.dataset.altitudeUpper = highest;
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

async function flightAction(action, id = state.selected) {
  const message = $("flight-message");
  message.dataset.state = "working";
  message.textContent = `${action}…`;
  const { status, answer } = await post(operatorPath(currentOperator(), `/${id}/${action}`), {});
  if (status === 200) {
    if (id === state.selected) planner.status = { id, body: answer };
    message.dataset.state = "done";
    message.textContent = `${action}: now ${answer.state}`;
  } else {
    message.dataset.state = "error";
    message.textContent = refusal(`Cannot ${action}`, status, answer);
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
  $("my-flights").classList.remove("hidden");
  $("act-as").dataset.ready = "true";
}

// The operator's own flights, as its USS lists them: state, why, and what can be done next.
async function loadMyFlights() {
  const name = currentOperator();
  if (!name) return;
  const list = $("my-flights-list");
  try {
    const response = await fetch(operatorPath(name, ""), { cache: "no-store" });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      $("my-flights-status").textContent = refusal(`${name}'s flights`, response.status, answer);
      return;
    }
    if (currentOperator() !== name) return;
    planner.flights = answer.flights;
  } catch (error) {
    $("my-flights-status").textContent = `Cannot reach this server (${error.message}).`;
    return;
  }
  $("my-flights-status").textContent = planner.flights.length ? "" : `${name} has no flights.`;
  list.replaceChildren();
  for (const f of planner.flights) {
    const li = document.createElement("li");
    li.dataset.id = f.id;
    li.dataset.state = f.state;
    const name2 = document.createElement("span");
    name2.className = "entity-link";
    name2.textContent = `${name} ${f.id.slice(0, 8)}`;
    name2.title = f.id;
    name2.addEventListener("click", () => {
      select(f.id);
      const e = state.all && entities(state.all).find((x) => x.id === f.id);
      if (e) map.fitBounds(boundsOf({ operational_intents: [e], constraints: [], subscriptions: [], identification_service_areas: [] }), { padding: 80, maxZoom: 16, animate: false });
    });
    const what = document.createElement("span");
    what.className = `flight-state ${f.state}`;
    what.textContent = f.state;
    li.append(name2, " ", what);
    if (f.state_reason) {
      const why = document.createElement("small");
      why.textContent = ` — ${f.state_reason}`;
      li.append(why);
    }
    for (const action of ACTIONS[f.state] ?? []) {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.action = action;
      button.textContent = action === "activate" ? "Activate" : "End";
      button.addEventListener("click", () => flightAction(action, f.id));
      li.append(" ", button);
    }
    list.append(li);
  }
}

function wirePlanner() {
  map.on("click", (event) => {
    if (!planner.drawing) return;
    const point = [event.lngLat.lng, event.lngLat.lat];
    if (shapeKind() === "circle") planner.center = point;
    else planner.vertices.push(point);
    drawDraft();
  });
  $("plan").addEventListener("click", openPlanner);
  $("close-planner").addEventListener("click", closePlanner);
  $("clear-shape").addEventListener("click", clearShape);
  for (const radio of document.querySelectorAll('input[name="shape"]')) radio.addEventListener("change", clearShape);
  for (const id of ["radius", "alt-lower", "alt-upper"]) $(id).addEventListener("input", drawDraft);
  for (const input of [$("time-start"), $("time-end")]) input.addEventListener("input", () => showLocal(input));
  for (const id of ["time-end", "limit-delay"]) $(id).addEventListener("input", showLatestEnd);
  $("operator").addEventListener("change", () => {
    $("planner-operator").textContent = currentOperator();
    showResult("idle", "");
    planner.status = null;
    planner.asked = null;
    planner.flights = [];
    $("my-flights-list").replaceChildren();
    $("my-flights-operator").textContent = currentOperator();
    redraw();
    loadMyFlights();
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

// ---- Geographical zones ------------------------------------------------------------------------------
// The zones in force over the next day as the acting operator's USS knows them (the data sets imported into
// it), drawn by restriction; a click on one tells its terms: message, conditions, whom to contact, when.

const zones = { list: [] };

async function loadZones() {
  const name = currentOperator();
  if (!name) return;
  const box = $("zones-info");
  try {
    const response = await fetch(`api/operators/${encodeURIComponent(name)}/geozones`, { cache: "no-store" });
    const answer = await response.json().catch(() => ({}));
    if (currentOperator() !== name) return;
    zones.list = response.ok ? answer.zones : [];
    box.textContent = response.ok ? `${zones.list.length} geographical zones known to ${name}` : refusal("Zones", response.status, answer);
  } catch (error) {
    box.textContent = `Cannot reach this server (${error.message}).`;
    return;
  }
  const features = zones.list.flatMap((z, index) =>
    z.volumes.map((v) => volumeFeature(viewVolume(v), { index, restriction: z.restriction, zone: z.zone })));
  await styled;
  map.getSource("zones").setData({ type: "FeatureCollection", features });
  box.dataset.zones = zones.list.length;
}

function zoneText(z) {
  const when = [...new Set(z.volumes.map((v) => `${timeText(v.time_start.value)} to ${timeText(v.time_end.value)}`))];
  const contacts = z.contacts.map((c) => [c.name, c.phone, c.email, c.site_url, c.purpose && `for ${c.purpose.toLowerCase()}`].filter(Boolean).join(", "));
  return [
    `${z.name} (${z.zone}, set ${z.set}): ${z.restriction.replaceAll("_", " ").toLowerCase()}`,
    ...z.message,
    z.conditions && `Conditions: ${z.conditions.replaceAll("\n", "; ")}`,
    ...contacts.map((c) => `Contact: ${c}`),
    `In force: ${when.slice(0, 3).join("; ")}${when.length > 3 ? "; …" : ""}`,
    z.ground_unknown && "Limits above ground are taken at their widest (no terrain data here).",
  ].filter(Boolean);
}

function wireZones() {
  map.on("click", "zones-fill", (event) => {
    if (planner.drawing) return;
    // A flight drawn over the zone takes the click; a constraint does not, being how the authority's USS
    // publishes a prohibited zone, whose terms the popup tells beside the constraint's details.
    if (map.queryRenderedFeatures(event.point, { layers: ["intents-fill"] }).length) return;
    const shown = [...new Set(event.features.map((f) => f.properties.index))].map((i) => zones.list[i]).filter(Boolean);
    if (!shown.length) return;
    const body = document.createElement("div");
    body.className = "zone-popup";
    for (const z of shown) {
      for (const line of zoneText(z)) {
        const p = document.createElement("p");
        p.textContent = line;
        body.append(p);
      }
    }
    new maplibregl.Popup({ maxWidth: "320px" }).setLngLat(event.lngLat).setDOMContent(body).addTo(map);
  });
  $("operator").addEventListener("change", loadZones);
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
  markers: new Map(), // aircraft id or cluster key -> maplibregl.Marker
  seen: new Map(), // aircraft id -> its last position [lng, lat], kept when the view no longer shows it
  drawn: "[]", // the features of the rid source, as JSON, so an unchanged round is not drawn again
};

function distanceM([lat1, lng1], [lat2, lng2]) {
  const rad = Math.PI / 180;
  const a = Math.sin(((lat2 - lat1) * rad) / 2) ** 2 +
    Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(((lng2 - lng1) * rad) / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)));
}

// What the map shows, as [latLo, lngLo, latHi, lngHi].
function shownRect() {
  const b = map.getBounds();
  return [b.getSouth(), b.getWest(), b.getNorth(), b.getEast()];
}

const diagonalM = (r) => distanceM([r[0], r[1]], [r[2], r[3]]);
const rectParam = (r) => r.map((v) => v.toFixed(6)).join(",");
const inside = (outer, r) => outer[0] <= r[0] && outer[1] <= r[1] && outer[2] >= r[2] && outer[3] >= r[3];

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
    ridStatus("error", refusal(`Remote ID: ${operator} cannot watch this area`, status, answer));
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
        ridStatus("error", refusal("Remote ID", response.status, answer));
      }
    }
    const alerts = await fetch(ridPath(operator, "alerts"), { cache: "no-store" });
    rid.alerts = alerts.ok ? (await alerts.json()).alerts : [];
  } catch (error) {
    ridStatus("error", `Remote ID: cannot reach this server (${error.message}).`);
  } finally {
    rid.busy = false;
  }
  drawRid();
}

function element(tag, className, parent) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (parent) parent.append(node);
  return node;
}

// Aircraft are HTML markers (a dot, a heading tick and a label, kept at screen size at every zoom); trails,
// clusters and alert pairs are map layers.
function drawRid() {
  const alerted = new Set(rid.alerts.flatMap((a) => a.aircraft));
  const features = [];
  const wanted = new Set();
  for (const [i, c] of rid.clusters.entries()) {
    const [a, b] = c.corners;
    const ring = [[a.lng, a.lat], [b.lng, a.lat], [b.lng, b.lat], [a.lng, b.lat], [a.lng, a.lat]];
    features.push({ type: "Feature", properties: { kind: "cluster", flights: c.number_of_flights }, geometry: { type: "Polygon", coordinates: [ring] } });
    const key = `cluster ${i}`;
    wanted.add(key);
    const node = marker(key, [(a.lng + b.lng) / 2, (a.lat + b.lat) / 2], "rid-cluster");
    node.dataset.flights = c.number_of_flights;
    node.textContent = c.number_of_flights;
  }
  const at = new Map();
  for (const f of rid.flights) {
    const p = f.position;
    at.set(f.id, [p.lng, p.lat]);
    rid.seen.set(f.id, [p.lng, p.lat]);
    wanted.add(f.id);
    const alert = alerted.has(f.id);
    const trail = [...f.recent_positions, p].map((r) => [r.lng, r.lat]);
    if (trail.length > 1) features.push({ type: "Feature", properties: { kind: "trail", id: f.id, alert }, geometry: { type: "LineString", coordinates: trail } });
    const node = marker(f.id, [p.lng, p.lat], "rid-aircraft", { alert, simulated: Boolean(f.simulated) });
    Object.assign(node.dataset, { id: f.id, lat: p.lat, lng: p.lng, age: p.age_s });
    if (!node.firstChild) {
      element("span", "rid-marker", node);
      element("span", "rid-heading", node);
      element("span", "rid-label", node);
    }
    const heading = node.querySelector(".rid-heading");
    heading.classList.toggle("hidden", f.track_deg === undefined);
    heading.style.transform = `rotate(${f.track_deg ?? 0}deg)`;
    const label = `${f.id} · ${Math.max(0, Math.round(p.age_s))} s${p.alt_m !== undefined ? ` · ${Math.round(p.alt_m)} m` : ""}`;
    node.querySelector(".rid-label").textContent = label;
    node.title = `${f.id} (${f.provider}${f.simulated ? ", simulated" : ""}): ${label}`;
  }
  for (const [key, m] of rid.markers) {
    if (!wanted.has(key)) {
      m.remove();
      rid.markers.delete(key);
    }
  }
  for (const a of rid.alerts) {
    const [one, other] = a.aircraft;
    if (at.has(one) && at.has(other)) {
      features.push({ type: "Feature", properties: { kind: "pair", pair: `${one} ${other}` }, geometry: { type: "LineString", coordinates: [at.get(one), at.get(other)] } });
    }
  }
  // Each round usually brings what the map already shows (nothing, in wide views): a render on the CPU-bound
  // renderers of machines without a GPU is spared then.
  const data = JSON.stringify(features);
  if (data !== rid.drawn) {
    rid.drawn = data;
    map.getSource("rid")?.setData({ type: "FeatureCollection", features });
  }
  showAlerts();
}

// The marker `key` at `lngLat`, made with class `base` the first time; `flags` are classes set or unset.
function marker(key, lngLat, base, flags = {}) {
  let m = rid.markers.get(key);
  if (!m) {
    const node = document.createElement("div");
    node.classList.add(base);
    m = new maplibregl.Marker({ element: node }).setLngLat(lngLat).addTo(map);
    rid.markers.set(key, m);
  }
  m.setLngLat(lngLat);
  for (const [name, on] of Object.entries(flags)) m.getElement().classList.toggle(name, on);
  return m.getElement();
}

// The alert list is kept, item by item, across the ticks, so a click is never lost to a rebuild.
function showAlerts() {
  const list = $("rid-alerts");
  const keys = new Set();
  for (const a of rid.alerts) {
    const [one, other] = a.aircraft;
    const key = `${one} ${other}`;
    keys.add(key);
    let li = [...list.children].find((x) => x.dataset.aircraft === key);
    if (!li) {
      li = document.createElement("li");
      li.dataset.aircraft = key;
      li.title = "Show this pair";
      li.addEventListener("click", () => showPair(li.dataset.aircraft.split(" ")));
      list.append(li);
    }
    const inS = Math.round((Date.parse(a.loss_start.value) - Date.now()) / 1000);
    li.textContent = `${one} and ${other}: ${inS > 0 ? `loss of separation in ${inS} s` : "separation lost"}, closest ${Math.round(a.cpa_distance_m)} m`;
  }
  for (const li of [...list.children]) if (!keys.has(li.dataset.aircraft)) li.remove();
  $("rid").dataset.alerts = rid.alerts.length;
}

// Brings a pair of aircraft into a view where each is drawn (under 2 km across), from any view: where the
// USS's alert places them (their latest reports), or where this page saw them last.
function showPair(ids) {
  const alert = rid.alerts.find((a) => a.aircraft.join(" ") === ids.join(" "));
  const points = ids.map((id) => alertPosition(alert, id) ?? rid.seen.get(id)).filter(Boolean);
  if (!points.length) {
    ridStatus("error", "This pair's position is not known yet: zoom in where it flies.");
    return;
  }
  const lng = points.reduce((s, p) => s + p[0], 0) / points.length;
  const lat = points.reduce((s, p) => s + p[1], 0) / points.length;
  const apart = points.length > 1 ? distanceM([points[0][1], points[0][0]], [points[1][1], points[1][0]]) : 0;
  if ($("view-3d").checked) {
    $("view-3d").checked = false;
    show3d(false);
  }
  centreOn([lng, lat], Math.min(RID_FLIGHTS_M * 0.9, Math.max(RID_FLIGHTS_M * 0.5, apart * 2)));
  ridTick();
}

// Where an alert says aircraft `id` was when it was raised ([lng, lat]), if it says.
function alertPosition(alert, id) {
  const position = alert?.positions?.[alert.aircraft.indexOf(id)];
  return position ? [position.lng, position.lat] : null;
}

function followRemoteId() {
  if (!planner.operators.length) return;
  $("rid").classList.remove("hidden");
  setInterval(ridTick, 1000);
  ridTick();
  window.addEventListener("pagehide", () => rid.watch && endWatch(rid.watch));
}

// Resolves once the map rendered every change made so far.
const settled = () => new Promise((resolve) => (map.loaded() ? resolve() : map.once("idle", resolve)));

// What a test (or the browser's console) reads of the page; nothing here is needed to use the map.
window.entente = { map, state, planner, rid, zones, drawn, settled, centreOn, select, draw, drawRid };

wireControls();
wirePlanner();
wireZones();
styled.then(() => {
  drawDraft();
  drawPreview();
});
loadOperators().then(() => {
  $("my-flights-operator").textContent = currentOperator() ?? "";
  redraw();
  followRemoteId();
  loadMyFlights();
  loadZones();
}).catch((error) => console.error("operators", error));
refresh();
followChanges();
