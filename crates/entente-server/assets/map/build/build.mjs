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
