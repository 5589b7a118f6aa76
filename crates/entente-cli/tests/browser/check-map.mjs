// Drives the web map in Debian's Chromium for entente-cli's integration test (tests/integration/serve.rs),
// which reads one JSON line per step on stdout and answers on stdin. Usage:
//   node check-map.mjs CHROMIUM URL SCREENSHOT_DIR
// Steps: "loaded" (what the page drew), then it waits for an intent id on stdin, written by the test
// after the page loaded, and reports "updated" once the page drew it without a reload, with the details
// panel after a click on it; "early" is what the page draws with the time slider at its start.
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const [executablePath, url, screenshots] = process.argv.slice(2);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const report = (step, fields) => console.log(JSON.stringify({ step, ...fields }));

// Everything the test checks about the drawing: each shape's id and classes.
const drawn = (page) =>
  page.$$eval(".entity", (nodes) => nodes.map((n) => ({ id: n.dataset.id, kind: n.dataset.kind, classes: n.getAttribute("class") })));

const browser = await chromium.launch({
  executablePath,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
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
  await page.waitForSelector('#summary[data-state="ready"]', { timeout: 20000 });
  await page.waitForSelector('#live[data-state="live"]', { timeout: 20000 });
  await page.screenshot({ path: `${screenshots}/seeded.png` });
  report("loaded", { entities: await drawn(page), land: await page.locator(".land").count(), errors, elsewhere });

  const { value: id } = await lines.next();
  const written = page.locator(`[data-id="${id}"]`);
  await written.waitFor({ state: "attached", timeout: 15000 });
  await written.dispatchEvent("click");
  const details = await page.locator("#details").innerText();
  await page.screenshot({ path: `${screenshots}/live-update.png` });
  report("updated", { entities: await drawn(page), details, errors });

  await page.uncheck("#all-times");
  await page.locator("#slider").fill("0");
  await page.waitForFunction(() => document.getElementById("instant").textContent !== "all times");
  await page.waitForSelector('#summary[data-state="ready"]');
  await page.screenshot({ path: `${screenshots}/time-slider-start.png` });
  report("early", { entities: await drawn(page), instant: await page.locator("#instant").innerText(), errors });
} finally {
  await browser.close();
}
