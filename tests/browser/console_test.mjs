// The web console in a real browser: headless Chromium, driven with
// puppeteer-core, against a live weir-example-ops_console.
//   node console_test.mjs CHROMIUM WEIR_CLI OPS_CONSOLE SCRATCH_DIR
// Checks: the page loads; its lag numbers match `weir groups`; a skewed
// partition shows its hot key; the status lookup shows a dead-lettered
// event with its reason; the DLQ browser filters and shows one letter in
// full; a dead letter is redriven from the page (dry run, then confirm) and
// then handled; a paused group resumes from the page; actions without the
// token are refused. Leaves SCRATCH_DIR/console.png as the test's artefact.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer from "puppeteer-core";

const [chromium, weirCli, example, scratch] = process.argv.slice(2);
if (!scratch) {
  console.error("usage: console_test.mjs CHROMIUM WEIR_CLI OPS_CONSOLE SCRATCH_DIR");
  process.exit(2);
}
rmSync(scratch, { recursive: true, force: true });
mkdirSync(scratch, { recursive: true });
const dir = join(scratch, "bus");
const started = Date.now();

function fail(message) {
  console.error("FAIL: " + message);
  process.exitCode = 1;
  throw new Error(message);
}
function weir(...args) {
  return execFileSync(weirCli, args, { encoding: "utf8" });
}
function rows(...args) {
  return weir(...args, "--json").split("\n").filter(Boolean).map((l) => JSON.parse(l));
}
async function eventually(what, pred, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) fail("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const owner = spawn(example, ["--dir", dir], { stdio: ["ignore", "pipe", "inherit"] });
let ownerOut = "";
owner.stdout.on("data", (d) => { ownerOut += d; });
let browser;
const profile = mkdtempSync(join(tmpdir(), "weir-chromium-"));
try {
  await eventually("the example to start", () => ownerOut.includes("ready\n"), 20000);
  const url = weir("console-url", dir).trim();
  if (!url.startsWith("http://127.0.0.1:") || !url.includes("#token=")) fail("console-url printed " + url);
  if (!ownerOut.includes("console " + url)) fail("console-url differs from the owner's: " + ownerOut);

  // Without the token, changing actions are refused.
  const base = url.split("#")[0];
  const denied = await fetch(base + "api/control", { method: "POST", body: '{"verb":"resume","group":"shipping"}' });
  if (denied.status !== 403) fail("an action without the token got HTTP " + denied.status);

  browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    userDataDir: profile,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  const page = await browser.newPage();
  page.on("pageerror", (e) => fail("page error: " + e.message));
  await page.setViewport({ width: 1280, height: 1400 });
  await page.goto(url, { waitUntil: "load" });
  await page.waitForSelector('.group[data-group="shipping"] tr[data-partition]', { timeout: 10000 });
  const text = (sel) => page.$eval(sel, (e) => e.textContent.trim());
  await eventually("billing's three dead letters on the page",
                   async () => (await text('.group[data-group="billing"] .dlq-count')) === "3");

  // Lag per partition on the page matches `weir groups` (the owner's
  // offsets are persisted every 50 ms, so both settle).
  const pageLags = (group) => page.$$eval(`.group[data-group="${group}"] tr[data-partition]`, (trs) =>
    Object.fromEntries(trs.map((tr) => [tr.dataset.partition, Number(tr.querySelector(".lag").textContent)])));
  const cliLags = (group) => Object.fromEntries(rows("groups", dir, "--group", group).map((r) => [String(r.partition), r.lag]));
  for (const group of ["shipping", "billing"]) {
    await eventually(`${group} lags to match weir groups`, async () => {
      const a = await pageLags(group), b = cliLags(group);
      return Object.keys(b).length === 4 && JSON.stringify(a) === JSON.stringify(b);
    });
  }
  const shippingLag = Object.values(cliLags("shipping")).reduce((a, b) => a + b, 0);
  if (shippingLag !== 240) fail("paused shipping should lag by 240, weir groups says " + shippingLag);
  if (!(await page.$('.group[data-group="shipping"] .paused'))) fail("shipping is not shown as paused");

  // Fraud is stuck on order-hot: its partition is skewed, with order-hot
  // as its hot key; the other partitions are not.
  await eventually("fraud's skewed partition with its hot key", async () =>
    (await page.$$eval('.group[data-group="fraud"] tr.skewed .hot-keys', (tds) => tds.map((td) => td.textContent)))
      .some((t) => t.includes("order-hot")));
  const skewedRows = await page.$$('.group[data-group="fraud"] tr.skewed');
  if (skewedRows.length !== 1) fail("fraud should have one skewed partition, the page shows " + skewedRows.length);
  if (!(await text('.group[data-group="billing"] .dlq-sla')).startsWith("15.0 min")) fail("billing's triage SLA is not shown");

  // Event status: a dead-lettered order, with its reason; then one in flight.
  await page.select("#loc-group", "billing");
  await page.select("#loc-by", "key");
  await page.type("#loc-value", "order-5");
  await page.click("#loc-go");
  await eventually("the status of order-5", async () => (await page.$$("#locations tbody tr[data-offset]")).length === 1);
  if ((await text("#locations tbody .state")) !== "dead-lettered") fail("order-5 is " + (await text("#locations tbody .state")));
  const why = await text("#locations tbody .detail");
  if (!why.includes("card declined by the payment provider")) fail("order-5's detail has no reason: " + why);
  const cliState = rows("status", dir, "orders", "--group", "billing", "--key", "order-5");
  if (cliState.length !== 1 || cliState[0].state !== "dead_lettered") fail("weir status says " + JSON.stringify(cliState));

  // The DLQ browser: filter like the CLI, then one letter in full.
  await page.select("#dlq-group", "billing");
  await page.type("#dlq-type", "shop.order.placed");
  await page.type("#dlq-key", "order-18");
  await page.click("#dlq-load");
  await eventually("the filtered list", async () => (await page.$$("#dlq tbody tr")).length === 1);
  await page.click("#dlq tbody button.show");
  await eventually("one letter in full", async () => !(await page.$eval("#letter", (e) => e.hidden)));
  const letter = await text("#letter");
  for (const want of ["order-18", "card declined by the payment provider", "bad-18", "weir.dlq.reason="])
    if (!letter.includes(want)) fail(`the letter shown lacks '${want}': ${letter}`);
  await page.$eval("#dlq-type", (e) => { e.value = ""; });
  await page.$eval("#dlq-key", (e) => { e.value = ""; });

  // Redrive from the page: dry run first, then confirm.
  await page.select("#dlq-group", "billing");
  await page.click("#redrive-dry");
  await eventually("the dry run's plan", async () => (await text("#plan-text")).startsWith("3 dead letters"));
  if ((await page.$$("#dlq tbody tr")).length !== 3) fail("the dry run lists " + (await page.$$("#dlq tbody tr")).length);
  if (rows("dlq", "list", dir, "--group", "billing").length !== 3) fail("the dry run moved something");
  await page.click("#redrive-confirm");
  await eventually("the redrive", async () => (await text("#message")).startsWith("redrove 3"));
  await eventually("the redriven letters to be handled", () =>
    rows("dlq", "list", dir, "--group", "billing").length === 0 &&
    Object.values(cliLags("billing")).every((l) => l === 0));
  await eventually("billing's DLQ to show 0", async () => (await text('.group[data-group="billing"] .dlq-count')) === "0");

  // Resume the paused group from the page.
  await page.click('.group[data-group="shipping"] .resume');
  await eventually("shipping to catch up", () => Object.values(cliLags("shipping")).every((l) => l === 0));
  await eventually("the page to show shipping caught up",
                   async () => (await text('.group[data-group="shipping"] .lag-total')) === "0" &&
                               !(await page.$('.group[data-group="shipping"] .paused')));

  await page.screenshot({ path: join(scratch, "console.png"), fullPage: true });
  console.log(`browser console test passed in ${Date.now() - started} ms; screenshot ${join(scratch, "console.png")}`);
} catch (e) {
  process.exitCode = 1;
  console.error(e.stack || String(e));
} finally {
  if (browser) await browser.close().catch(() => {});
  owner.kill("SIGTERM");
  await new Promise((r) => owner.once("exit", r));
  rmSync(profile, { recursive: true, force: true });
}
