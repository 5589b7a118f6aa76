// Turns Natural Earth data (public domain) from the npm package world-atlas into the map's world basemap: one
// GeoJSON FeatureCollection with the land (a MultiPolygon, lakes and inland seas as holes) and the borders
// between countries (a MultiLineString), positions rounded to 0.01 degree (about 1 km, finer than 1:50m data
// carries), so the browser needs no TopoJSON decoder.
// Run: npm ci && node convert.mjs > ../basemap.json
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { feature, mesh } from "topojson-client";

const require = createRequire(import.meta.url);
const scale = process.argv[2] ?? "50m";
const countries = JSON.parse(readFileSync(require.resolve(`world-atlas/countries-${scale}.json`), "utf8"));
const land = JSON.parse(readFileSync(require.resolve(`world-atlas/land-${scale}.json`), "utf8"));

const round = (ring) => ring.map(([lng, lat]) => [Math.round(lng * 100) / 100, Math.round(lat * 100) / 100]);

const polygons = [];
for (const f of feature(land, land.objects.land).features) {
  const parts = f.geometry.type === "Polygon" ? [f.geometry.coordinates] : f.geometry.coordinates;
  for (const polygon of parts) polygons.push(polygon.map(round));
}
// Borders are the arcs shared by two different countries, so coastlines are not drawn twice.
const borders = mesh(countries, countries.objects.countries, (a, b) => a !== b).coordinates.map(round);

process.stdout.write(JSON.stringify({
  type: "FeatureCollection",
  source: `Natural Earth ${scale} via world-atlas`,
  features: [
    { type: "Feature", properties: { kind: "land" }, geometry: { type: "MultiPolygon", coordinates: polygons } },
    { type: "Feature", properties: { kind: "border" }, geometry: { type: "MultiLineString", coordinates: borders } },
  ],
}));
