// Turns Natural Earth data (public domain) from the npm package world-atlas into the map's basemap:
// land outlines and country borders as arrays of [lng, lat] rings and lines, rounded to 0.01 degree
// (about 1 km, finer than 1:50m data carries), so the browser needs no TopoJSON decoder.
// Run: npm ci && node convert.mjs > ../basemap.json
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { feature, mesh } from "topojson-client";

const require = createRequire(import.meta.url);
const scale = process.argv[2] ?? "50m";
const countries = JSON.parse(readFileSync(require.resolve(`world-atlas/countries-${scale}.json`), "utf8"));
const land = JSON.parse(readFileSync(require.resolve(`world-atlas/land-${scale}.json`), "utf8"));

const round = (ring) => ring.map(([lng, lat]) => [Math.round(lng * 100) / 100, Math.round(lat * 100) / 100]);

// Each land polygon becomes its rings; holes (lakes, inland seas) are kept as rings too and drawn with
// the even-odd rule, which is all a flat basemap needs.
const landRings = [];
for (const f of feature(land, land.objects.land).features) {
  const polygons = f.geometry.type === "Polygon" ? [f.geometry.coordinates] : f.geometry.coordinates;
  for (const polygon of polygons) for (const ring of polygon) landRings.push(round(ring));
}
// Borders are the arcs shared by two different countries, so coastlines are not drawn twice.
const borders = mesh(countries, countries.objects.countries, (a, b) => a !== b).coordinates.map(round);

process.stdout.write(JSON.stringify({ source: `Natural Earth ${scale} via world-atlas`, land: landRings, borders }));
