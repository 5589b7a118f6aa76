// Copies the map's front-end libraries from node_modules (pinned by package-lock.json) into ../vendor, which
// the server embeds at build time, so `cargo build` needs no npm and the page needs no network. Source map
// references are dropped: the maps are not shipped, and a browser would ask for them.
// Run: npm ci && npm run build
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const out = new URL("../vendor/", import.meta.url).pathname;
mkdirSync(out, { recursive: true });

const maplibre = dirname(require.resolve("maplibre-gl/package.json"));
const version = JSON.parse(readFileSync(join(maplibre, "package.json"), "utf8")).version;
for (const name of ["maplibre-gl.mjs", "maplibre-gl-worker.mjs", "maplibre-gl.css"]) {
  const text = readFileSync(join(maplibre, "dist", name), "utf8").replace(/\n\/[/*]# sourceMappingURL=\S+(\s*\*\/)?\s*$/, "\n");
  writeFileSync(join(out, name), text);
}
copyFileSync(join(maplibre, "LICENSE.txt"), join(out, "maplibre-gl.LICENSE.txt"));
process.stdout.write(`maplibre-gl ${version} -> ${out}\n`);

// The PMTiles reader, as the package's self-contained script (it defines the global `pmtiles` and carries
// fflate inside). Its package ships no licence file, so the licence states what its package.json declares,
// followed by the licence of fflate, which the script includes.
const pmtiles = dirname(require.resolve("pmtiles/package.json"));
const pmtilesPackage = JSON.parse(readFileSync(join(pmtiles, "package.json"), "utf8"));
const fflate = dirname(require.resolve("fflate/package.json"));
const fflateVersion = JSON.parse(readFileSync(join(fflate, "package.json"), "utf8")).version;
const script = readFileSync(join(pmtiles, "dist", "pmtiles.js"), "utf8").replace(/\n\/\/# sourceMappingURL=\S+\s*$/, "\n");
writeFileSync(join(out, "pmtiles.js"), script);
writeFileSync(join(out, "pmtiles.LICENSE.txt"),
  `pmtiles ${pmtilesPackage.version} (${pmtilesPackage.homepage ?? pmtilesPackage.repository?.url ?? "npm package pmtiles"}) is licensed ${pmtilesPackage.license}, as its package.json declares.\n\n` +
  `It includes fflate ${fflateVersion}, under this licence:\n\n${readFileSync(join(fflate, "LICENSE"), "utf8")}`);
process.stdout.write(`pmtiles ${pmtilesPackage.version} -> ${out}\n`);
