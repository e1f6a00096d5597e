// The console at / in Debian's Chromium against a real `sluice run`: the streams overview, the
// events explorer (filters, paging, a payload, one event's page), the live tail and the SQL
// tab; the demo page's page views, SPA navigation, clicks and form submits appear in the
// explorer and the live tail; a screenshot of each view is kept; and the first view renders
// in under a second with 1 000 000 stored events (the figure is printed).
//
// usage: node web/tests/console_test.mjs SLUICE_BINARY [ARTIFACTS_DIR]

import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Checks, Server, assert, launchChromium, waitFor } from "./harness.mjs";

const binary = process.argv[2];
const artifacts = process.argv[3] || "console-screenshots";
mkdirSync(artifacts, { recursive: true });
const checks = new Checks();
const archive = mkdtempSync(join(tmpdir(), "sluice-console-archive-"));
const server = await new Server(
  binary,
  `streams:
  web: {id_field: event_id, type_field: event_type, cors_origins: ["*"], dead_letter: dead_letters}
  bulk: {id_field: "", type_field: kind}
  iot:
    type_field: type
    stats_fields: [device]
    dead_letter: dead_letters
    schema: {type: object, required: [device]}
sinks:
  files: {file: {dir: ${archive}}}
pipelines:
  archive: {from: [iot], to: [files]}
windows:
  per_device: {from: [iot], key: [device], tumbling: 1m, aggregates: {n: count, hottest: max(temp)}}
alerts:
  hot: {from: [iot], when: "temp > 90", severity: high, message: "{device} is at {temp}"}
`,
).start();
const browser = await launchChromium();
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(String(e)));
const shot = (name) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });

async function post(stream, body, type = "application/json") {
  const answer = await fetch(`${server.url}/v1/streams/${stream}/events`, { method: "POST", headers: { "Content-Type": type }, body });
  assert(answer.status === 202, `post: ${answer.status} ${await answer.text()}`);
}

try {
  await checks.run("streams overview: every stream with what it took and stored", async () => {
    await post("web", JSON.stringify([{ event_id: "w1", event_type: "page_view", page: "/pricing" }, { event_id: "w2", event_type: "click", page: "/" }]));
    // Refused (a number too large for a double): counted as rejected.
    const refused = await fetch(`${server.url}/v1/streams/web/events`, { method: "POST", body: '{"event_id":"w3","n":1e999}' });
    assert(refused.status === 400, `refused: ${refused.status}`);
    await page.goto(server.url + "/");
    const row = page.locator('tr[data-stream="web"]');
    await waitFor(async () => (await row.locator("td").nth(3).textContent()) === "2", 10000, "web: 2 stored");
    assert((await row.locator("td").nth(6).textContent()).startsWith("1"), "one rejected");
    assert(await page.locator('tr[data-stream="bulk"]').count() === 1, "the bulk stream is listed");
    await shot("streams");
  });

  await checks.run("events explorer: a stream's events, a where filter, a payload, one event's page", async () => {
    await page.click('tr[data-stream="web"] a');
    await page.waitForSelector('tr.event[data-id="w2"]');
    assert(await page.locator("tr.event").count() === 2, "two events");
    await page.fill('input[name="where"]', "page:eq:/pricing");
    await page.click('form.filters button[type="submit"]');
    await waitFor(async () => (await page.locator("tr.event").count()) === 1, 5000, "the where filter");
    await page.click('tr.event[data-id="w1"]');
    await page.waitForSelector("pre.json");
    assert((await page.textContent("pre.json")).includes('"page": "/pricing"'), "the payload as JSON");
    await shot("events");
    await page.click('tr.event[data-id="w1"] a');
    await page.waitForSelector("section.one-event");
    assert((await page.textContent("section.one-event")).includes("w1"), "the event's own page");
    await shot("event");
  });

  await checks.run("explorer pages with More", async () => {
    const lines = Array.from({ length: 120 }, (_, i) => JSON.stringify({ kind: i % 2 ? "odd" : "even", i })).join("\n");
    await post("bulk", lines, "application/x-ndjson");
    await page.goto(server.url + "/#/events?stream=bulk");
    await waitFor(async () => (await page.locator("tr.event").count()) === 50, 10000, "the first page");
    await page.click("button.more");
    await waitFor(async () => (await page.locator("tr.event").count()) === 100, 5000, "the second page");
  });

  await checks.run("the demo page's page views, SPA navigation, clicks and form submits reach the live tail and the explorer", async () => {
    await page.goto(server.url + "/#/tail?stream=web");
    await page.waitForSelector('.state[data-state="following"]');
    const demo = await browser.newPage();
    await demo.goto(server.url + "/demo");
    await demo.waitForFunction(() => window.sluice !== undefined);
    await demo.click("#buy");
    await demo.click("text=Pricing");
    await demo.click("text=Sign up");
    await demo.fill("#signup [name=name]", "Ann");
    await demo.click("button[type=submit]");
    await demo.evaluate(() => window.sluice.flush());
    const tailed = async () => (await page.locator("tr.event").allTextContents()).join("\n");
    let text = "";
    await waitFor(async () => {
      text = await tailed();
      return ["page_view", "click", "form_submit", "/demo/pricing", "/demo/signup"].every((w) => text.includes(w));
    }, 15000, "the demo's events in the live tail").catch((e) => {
      throw new Error(`${e.message}; the tail shows:\n${text.slice(0, 2000)}`);
    });
    await shot("tail");
    await demo.close();
    await page.goto(server.url + "/#/events?stream=web&type=form_submit");
    await page.waitForSelector("tr.event");
    await page.goto(server.url + "/#/events?stream=web&type=page_view&where=page_path:eq:/demo/signup");
    await page.waitForSelector("tr.event");
  });

  await checks.run("SQL tab: a read-only statement as a table and a chart; a write is refused", async () => {
    await page.goto(server.url + "/#/sql");
    await page.click('form.sql button[type="submit"]');
    await page.waitForSelector("table.result tbody tr");
    const text = await page.textContent("table.result");
    assert(text.includes("bulk") && text.includes("120"), `the counts by stream: ${text}`);
    assert(await page.locator(".bars .bar").count() >= 2, "the chart");
    await shot("sql");
    await page.fill('textarea[name="sql"]', "DELETE FROM events");
    await page.click('form.sql button[type="submit"]');
    await page.waitForSelector(".error");
    assert(await page.locator("table.result").count() === 1, "the last result stays");
  });

  await checks.run("stats, windows, alerts, dead letters and pipelines views", async () => {
    const now = Date.now();
    const readings = [];
    for (let m = 5; m >= 1; m--) {
      for (const device of ["d-1", "d-2", "d-3"]) {
        readings.push({ type: "reading", device, temp: device === "d-3" && m === 1 ? 95 : 20 + m, timestamp: new Date(now - m * 60000).toISOString() });
      }
    }
    readings.push({ type: "reading", device: "d-1", temp: 21, timestamp: new Date(now).toISOString() });
    readings.push({ type: "reading", temp: 30 });  // no device: refused by the schema
    const answer = await fetch(`${server.url}/v1/streams/iot/events`, { method: "POST", body: JSON.stringify(readings) });
    assert(answer.status === 202, `iot: ${answer.status}`);

    await page.goto(server.url + "/#/stats?stream=iot&group_by=device&bucket=minute");
    await page.waitForSelector("table.stats tbody tr");
    await page.waitForSelector(".chart canvas");
    assert((await page.locator(".chart").getAttribute("data-series")) === "3", "one line per device");
    await shot("stats");

    await page.goto(server.url + "/#/windows");
    await page.waitForSelector('tr[data-window="per_device"]');
    await waitFor(async () => (await page.locator(".window-results tbody tr").count()) >= 3, 20000, "window results");
    await page.waitForSelector(".window-results .chart canvas");
    assert(await page.locator('tr[data-rule="hot"]').count() === 1, "the rule is listed");
    await shot("windows");

    await page.goto(server.url + "/#/alerts");
    await waitFor(async () => (await page.locator("tr.event").allTextContents()).join().includes("d-3 is at 95"), 15000, "the alert");
    await shot("alerts");

    await page.goto(server.url + "/#/dead-letters");
    await waitFor(async () => (await page.locator("tr.event").allTextContents()).join().includes("device"), 15000, "the dead letter and its reason");
    await shot("dead-letters");

    await page.goto(server.url + "/#/pipelines");
    await page.waitForSelector('tr[data-pipeline="archive"]');
    await waitFor(async () => Number(await page.locator('tr[data-pipeline="archive"] td').nth(6).textContent()) >= 16, 15000, "the pipeline's deliveries");
    await shot("pipelines");
  });

  await checks.run("first view with 1 000 000 stored events renders in under 1 s", async () => {
    const batch = (n) => Array.from({ length: 10000 }, (_, i) => `{"kind":"k${(n + i) % 7}","i":${n + i},"page":"/p/${i % 100}"}`).join("\n");
    for (let n = 0; n < 1000000; n += 10000) await post("bulk", batch(n), "application/x-ndjson");
    await waitFor(async () => {
      const streams = (await server.get("/v1/streams")).streams;
      return streams.find((s) => s.name === "bulk").stored >= 1000120;
    }, 240000, "1 000 120 events stored");
    const timings = [];
    for (const [view, selector] of [["/", 'tr[data-stream="bulk"]'], ["/#/events?stream=bulk", "tr.event"]]) {
      await page.goto("about:blank");
      const started = Date.now();
      await page.goto(server.url + view);
      await page.waitForSelector(selector);
      timings.push([view, Date.now() - started]);
    }
    console.log(`first view with 1000120 events: ${timings.map(([v, ms]) => `${v} ${ms} ms`).join(", ")}`);
    for (const [view, ms] of timings) assert(ms < 1000, `${view} took ${ms} ms`);
    await shot("streams-1m");
  });

  await checks.run("no errors on the console's pages", async () => {
    assert(pageErrors.length === 0, pageErrors.join("\n"));
  });
} finally {
  await browser.close();
  await server.cleanup();
  rmSync(archive, { recursive: true, force: true });
}
checks.finish();
