// tracker.js in Debian's Chromium against a real `sluice run`: the demo page's page views (SPA
// navigation included), clicks, form submits, custom events and errors arrive in `web`; a
// queue kept offline survives a reload and is sent once back online; Do Not Track and
// opt-out send nothing.
//
// usage: node web/tests/tracker_test.mjs SLUICE_BINARY

import { Checks, Server, Site, assert, launchChromium, waitFor } from "./harness.mjs";

const binary = process.argv[2];
const checks = new Checks();
// The default `web` stream with the server's visitor id cookie and bot flagging on.
const server = await new Server(
  binary,
  `streams:
  web:
    id_field: event_id
    type_field: event_type
    cors_origins: ["*"]
    dead_letter: dead_letters
    id_cookie: {name: sluice_id}
    bots: {field: bot}
`,
).start();
const browser = await launchChromium();

const payloads = async (params = "") => (await server.events("stream=web" + (params ? "&" + params : ""))).map((e) => e.payload);

try {
  await checks.run("the demo page's page views, SPA navigation, clicks, form, custom events and errors are stored", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const pageErrors = [];
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    await page.goto(server.url + "/demo");
    await page.waitForFunction(() => window.sluice !== undefined);
    // The first post gets the server's id cookie; the browser sends it with every later one.
    await page.evaluate(() => window.sluice.flush());
    await waitFor(async () => (await context.cookies(server.url)).some((c) => c.name === "sluice_id"), 10000, "the id cookie");
    await page.click("#buy");
    await page.click("#custom");
    await page.click("#fail");
    await waitFor(() => pageErrors.length > 0, 5000, "the demo error");
    await page.click("text=Pricing");
    await page.click("#plan-pro");
    await page.click("text=Sign up");
    await page.click("button[type=submit]");
    await page.evaluate(() => window.sluice.track("after_signup"));
    const anonymous = await page.evaluate(() => localStorage.getItem("sluice_aid"));
    // The rest goes out in the beacon as the page is closed.
    await page.close({ runBeforeUnload: true });

    const mine = async () => (await payloads()).filter((p) => p.anonymous_id === anonymous);
    const events = await waitFor(async () => {
      const got = await mine();
      return got.some((p) => p.event_type === "after_signup") && got;
    }, 15000, "the demo page's events, the last ones by beacon");
    const types = events.map((p) => `${p.event_type} ${p.page_path}`);
    for (const want of [
      "page_view /demo",
      "click /demo",
      "demo_custom /demo",
      "error /demo",
      "page_view /demo/pricing",
      "click /demo/pricing",
      "page_view /demo/signup",
      "form_submit /demo/signup",
      "identify /demo/signup",
      "after_signup /demo/signup",
    ])
      assert(types.includes(want), () => `no "${want}" among ${JSON.stringify(types)}`);
    const buy = events.find((p) => p.event_type === "click" && p.track === "buy");
    assert(buy && buy.selector === "button#buy" && buy.text === "Buy now", () => JSON.stringify(buy));
    const form = events.find((p) => p.event_type === "form_submit");
    assert(JSON.stringify(form.fields) === '["name","email"]', () => JSON.stringify(form));
    assert(!JSON.stringify(form).includes("ada@example.com"), "the form's values were recorded");
    const custom = events.find((p) => p.event_type === "demo_custom");
    assert(custom.properties.cart_value === 42.5 && custom.user_id === undefined, () => JSON.stringify(custom));
    const after = events.find((p) => p.event_type === "after_signup");
    assert(after.user_id === "demo-ada" && after.traits.plan === "free", () => JSON.stringify(after));
    const error = events.find((p) => p.event_type === "error");
    assert(error.message.includes("demo error from the shop page"), () => JSON.stringify(error));
    assert(new Set(events.map((p) => p.session_id)).size === 1, "one session");
    assert(new Set(events.map((p) => p.event_id)).size === events.length, "an event stored twice");
    // The server's id cookie: one browser id on every post, beacons included.
    const browserIds = new Set(events.map((p) => p.browser_id));
    assert(browserIds.size === 1 && [...browserIds][0].length === 36, () => JSON.stringify([...browserIds]));
    const cookies = await context.cookies(server.url);
    const cookie = cookies.find((c) => c.name === "sluice_id");
    assert(cookie && cookie.httpOnly && cookie.value === [...browserIds][0], () => JSON.stringify(cookies));
    // Headless Chromium says so in its User-Agent.
    assert(events.every((p) => p.bot === "headlesschrome"), () => JSON.stringify(events.map((p) => p.bot)));
    // A later page of the same browser, after the script's own ids are gone: the same browser id.
    const later = await context.newPage();
    await later.goto(server.url + "/demo");
    await later.evaluate(() => localStorage.clear());
    await later.reload();
    const laterAnonymous = await later.evaluate(() => localStorage.getItem("sluice_aid"));
    assert(laterAnonymous && laterAnonymous !== anonymous, "a new anonymous id");
    await later.close({ runBeforeUnload: true });
    const again = await waitFor(async () => (await payloads()).find((p) => p.anonymous_id === laterAnonymous), 15000, "the later page view");
    assert(again.browser_id === [...browserIds][0], () => JSON.stringify(again));
    await context.close();
  });

  await checks.run("events tracked offline survive a reload and are sent once when back online", async () => {
    // A site on its own origin loads the tracker from Sluice; Sluice is stopped while the
    // browser is offline and started again (same port, same data) once the page has reloaded.
    const site = await new Site({
      "/shop": `<!doctype html><script src="${server.url}/tracker.js"></script>
        <script>sluice.init({endpoint: "${server.url}", autocapture: false});</script>`,
    }).start();
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const carried = new Map(); // event_id -> answers of the posts that carried it
      page.on("requestfinished", async (request) => {
        if (!request.url().includes("/collect")) return;
        const status = (await request.response())?.status();
        for (const event of JSON.parse(request.postData() || "{}").events || [])
          carried.set(event.event_id, [...(carried.get(event.event_id) || []), status]);
      });
      await page.goto(site.url + "/shop");
      await context.setOffline(true);
      await page.evaluate(() => {
        for (let i = 1; i <= 5; i++) window.sluice.track("offline_test", { n: i });
        return window.sluice.flush();
      });
      const queued = () => page.evaluate(() => JSON.parse(localStorage.getItem("sluice_queue") || "[]"));
      const offline = (await queued()).filter((e) => e.event_type === "offline_test");
      assert(offline.length === 5, () => `queued offline: ${offline.length}`);

      // Back online but the collector down: the post fails, and the reload's beacon too.
      await server.stop();
      await context.setOffline(false);
      await page.evaluate(() => window.sluice.flush());
      await page.reload();
      const kept = (await queued()).filter((e) => e.event_type === "offline_test");
      assert(JSON.stringify(kept.map((e) => e.event_id)) === JSON.stringify(offline.map((e) => e.event_id)), () => `after the reload: ${JSON.stringify(kept)}`);

      await server.start();
      assert((await payloads()).every((p) => p.event_type !== "offline_test"), "stored while the collector was down");
      await context.setOffline(true);
      await context.setOffline(false); // the browser's "online" event: the tracker sends at once
      const stored = await waitFor(async () => {
        const got = (await payloads()).filter((p) => p.event_type === "offline_test");
        return got.length >= 5 && got;
      }, 15000, "the offline events");
      assert(stored.length === 5, () => `stored ${stored.length}`);
      assert(JSON.stringify(stored.map((p) => p.properties.n).sort()) === "[1,2,3,4,5]", () => JSON.stringify(stored));
      await waitFor(async () => (await queued()).length === 0, 10000, "an empty queue");
      // The request listener reads each answer asynchronously.
      await waitFor(() => offline.every((e) => carried.has(e.event_id)), 10000, "the posts' answers");
      for (const event of offline) {
        const answers = (carried.get(event.event_id) || []).filter((status) => status !== undefined);
        assert(answers.length === 1 && answers[0] === 202, () => `${event.event_id} was posted with answers ${JSON.stringify(answers)}`);
      }
    } finally {
      await context.close();
      site.stop();
      if (server.proc.exitCode !== null) await server.start(); // for the checks after this one
    }
  });

  await checks.run("full batches go at once; 503 and 429 are retried with backoff, 400 is not", async () => {
    // A page of its own that starts one tracker itself.
    const site = await new Site({
      "/shop": `<!doctype html><script src="${server.url}/tracker.js"></script>
        <script>sluice.init({endpoint: "${server.url}", autocapture: false, batchSize: 5, flushInterval: 60000});</script>`,
    }).start();
    const context = await browser.newContext();
    const page = await context.newPage();
    const posts = []; // [time, answer, events]
    let refuse = ["503", "429"]; // the answers the first posts get
    await page.route("**/collect*", async (route) => {
      const events = JSON.parse(route.request().postData() || "{}").events || [];
      const answer = refuse.shift();
      posts.push([Date.now(), answer || "sluice", events.map((e) => e.event_type)]);
      if (answer) await route.fulfill({ status: Number(answer), body: "{}" });
      else await route.continue();
    });
    await page.goto(site.url + "/shop");
    await page.evaluate(() => {
      for (let i = 0; i < 5; i++) window.sluice.track("retry_test", { n: i });
    });
    const stored = await waitFor(async () => {
      const got = (await payloads()).filter((p) => p.event_type === "retry_test");
      return got.length === 5 && got;
    }, 20000, "the batch after two refusals");
    // Five events are a full batch: no waiting for the minute-long flush interval.
    const batchPosts = posts.filter(([, , types]) => types.includes("retry_test"));
    assert(batchPosts.length === 3 && batchPosts.map(([, a]) => a).join() === "503,429,sluice", () => JSON.stringify(batchPosts));
    const waits = [batchPosts[1][0] - batchPosts[0][0], batchPosts[2][0] - batchPosts[1][0]];
    // Backoff: about 1 s then about 2 s (with jitter: half to all of it).
    assert(waits[0] >= 450 && waits[1] >= 950 && waits[1] > waits[0] * 0.9, () => `waits ${waits}`);
    assert(new Set(stored.map((p) => p.properties.n)).size === 5, () => JSON.stringify(stored));

    // A 400 is final: the batch is dropped from the queue, not sent again.
    refuse = ["400"];
    posts.length = 0;
    await page.evaluate(() => {
      for (let i = 0; i < 5; i++) window.sluice.track("refused_test", { n: i });
    });
    await waitFor(async () => (await page.evaluate(() => JSON.parse(localStorage.getItem("sluice_queue") || "[]").length)) === 0, 10000, "an empty queue");
    await page.evaluate(() => window.sluice.flush());
    assert(posts.filter(([, , types]) => types.includes("refused_test")).length === 1, () => JSON.stringify(posts));
    await context.close();
    site.stop();
  });

  await checks.run("Do Not Track and opt-out: nothing is sent", async () => {
    const context = await browser.newContext();
    await context.addInitScript(() => Object.defineProperty(Navigator.prototype, "doNotTrack", { get: () => "1" }));
    const page = await context.newPage();
    await page.goto(server.url + "/demo");
    await page.evaluate(() => window.sluice.track("dnt_test"));
    await page.evaluate(() => window.sluice.flush());
    await page.close({ runBeforeUnload: true });

    const optOut = await browser.newContext();
    const second = await optOut.newPage();
    await second.goto(server.url + "/demo");
    await second.waitForFunction(() => window.sluice !== undefined);
    await second.evaluate(() => {
      window.sluice.optOut();
      window.sluice.track("opt_out_test");
      return window.sluice.flush();
    });
    await second.reload();
    await second.evaluate(() => window.sluice.track("opt_out_test"));
    await second.close({ runBeforeUnload: true });
    // A marker sent after both, from a tracking page: once it is stored, the others would be.
    const marker = await browser.newContext();
    const third = await marker.newPage();
    await third.goto(server.url + "/demo");
    await third.evaluate(() => window.sluice.track("marker_test"));
    await third.close({ runBeforeUnload: true });
    await waitFor(async () => (await payloads()).some((p) => p.event_type === "marker_test"), 15000, "the marker");
    const types = (await payloads()).map((p) => p.event_type);
    assert(!types.includes("dnt_test") && !types.includes("opt_out_test"), () => JSON.stringify(types));
    for (const c of [context, optOut, marker]) await c.close();
  });

  await checks.run("tracker.js is served gzipped with an ETag and revalidates with 304", async () => {
    const first = await fetch(server.url + "/tracker.js", { headers: { "Accept-Encoding": "gzip" } });
    assert(first.status === 200 && first.headers.get("content-encoding") === "gzip", `${first.status}`);
    assert(first.headers.get("content-type").startsWith("text/javascript"), first.headers.get("content-type"));
    const body = await first.text(); // fetch decompresses
    assert(body.includes("sendBeacon"), "not the tracker");
    const again = await fetch(server.url + "/tracker.js", { headers: { "If-None-Match": first.headers.get("etag") } });
    assert(again.status === 304 && (await again.text()) === "", `${again.status}`);
  });
} finally {
  await browser.close();
  if (checks.failed) console.log("sluice's log:\n" + server.stderr.slice(-20).join("\n"));
  await server.cleanup();
  checks.finish();
}
