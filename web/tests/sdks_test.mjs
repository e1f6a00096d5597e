// The analytics SDKs that sites already run, unchanged but for their host, against a real
// `sluice run`: @segment/analytics-node, posthog-node and @snowplow/node-tracker from Node, and
// the browser builds of @segment/analytics-next, posthog-js and @snowplow/browser-tracker in
// Debian's Chromium. Every event an SDK sends (read from the requests it made) is stored
// once, with the mapping docs/compatibility.md gives: id, time, type and key from the SDK's
// own fields, write keys not kept.
//
// usage: node web/tests/sdks_test.mjs SLUICE_BINARY

import { createRequire } from "node:module";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { build } from "esbuild";
import { Checks, Server, Site, assert, launchChromium, waitFor } from "./harness.mjs";

const require = createRequire(import.meta.url);
const binary = process.argv[2];
const checks = new Checks();
// The default streams and SDK endpoints, with two of our own: Segment into a stream that
// needs a write key, PostHog under a prefix (a site's reverse-proxy path).
const server = await new Server(
  binary,
  `streams:
  app: {write_keys: [wk-good]}
routes:
  segment_app: {protocol: segment, path: /keyed, stream: app}
  posthog_proxy: {protocol: posthog, path: /ingest, stream: web}
`,
).start();

// What the Node SDKs post, as they post it: every fetch they make is recorded.
const sent = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init = {}) => {
  if (input instanceof Request) {
    const body = Buffer.from(await input.clone().arrayBuffer());
    sent.push({ url: input.url, body, headers: Object.fromEntries(input.headers) });
    return realFetch(input, init);
  }
  let body = init.body;
  if (body instanceof Blob) body = Buffer.from(await body.arrayBuffer());
  sent.push({ url: String(input), body, headers: init.headers });
  return realFetch(input, init);
};

function bodyText(body, gzipped) {
  const bytes = typeof body === "string" ? Buffer.from(body) : Buffer.from(body);
  return (gzipped || (bytes[0] === 0x1f && bytes[1] === 0x8b) ? gunzipSync(bytes) : bytes).toString();
}

// The events in the bodies an SDK sent: each SDK's batch field, or the body itself.
function sentEvents(bodies) {
  const events = [];
  for (const text of bodies) {
    const parsed = JSON.parse(text);
    const list = Array.isArray(parsed) ? parsed : parsed.batch || parsed.data || [parsed];
    events.push(...list);
  }
  return events;
}

const stored = async (stream, params = "") => server.events(`stream=${stream}${params ? "&" + params : ""}`);
const byId = (events) => new Map(events.map((e) => [e.id, e]));
const sameTime = (a, b) => Math.abs(Date.parse(a) - (typeof b === "number" ? b : Date.parse(b))) < 1;

// Every sent event stored exactly once under its id, and `check` holds for each.
async function allStored(stream, sentList, idOf, check) {
  assert(sentList.length > 0, "the SDK sent nothing");
  const ids = sentList.map(idOf);
  assert(new Set(ids).size === ids.length, "the SDK sent an id twice");
  const events = await waitFor(async () => {
    const got = byId(await stored(stream));
    return ids.every((id) => got.has(id)) && got;
  }, 15000, `${ids.length} events in ${stream}`);
  for (const event of sentList) check(events.get(idOf(event)), event);
  const all = await stored(stream);
  for (const id of ids) {
    const copies = all.filter((e) => e.id === id).length;
    assert(copies === 1, `${id} stored ${copies} times`);
  }
}

const typeCount = async (stream, type) => (await stored(stream, "type=" + encodeURIComponent(type))).length;

try {
  await checks.run("@segment/analytics-node: track, identify, page, screen, group and alias are stored", async () => {
    const { Analytics } = require("@segment/analytics-node");
    const analytics = new Analytics({ writeKey: "wk-any", host: server.url, flushAt: 4, flushInterval: 200 });
    for (let i = 0; i < 5; i++) analytics.track({ userId: "u-node", event: "Order Completed", properties: { order: i, total: 9.5 } });
    analytics.identify({ userId: "u-node", traits: { plan: "pro" } });
    analytics.page({ anonymousId: "a-node", name: "Home", properties: { url: "https://shop.example/" } });
    analytics.screen({ userId: "u-node", name: "Cart" });
    analytics.group({ userId: "u-node", groupId: "g-1" });
    analytics.alias({ userId: "u-node", previousId: "a-node" });
    await analytics.closeAndFlush();
    const bodies = sent.filter((s) => s.url.startsWith(server.url + "/v1/batch")).map((s) => bodyText(s.body));
    const messages = sentEvents(bodies);
    assert(messages.length === 10, `sent ${messages.length} messages`);
    await allStored("web", messages, (m) => m.messageId, (event, message) => {
      assert(sameTime(event.ts, message.timestamp), `ts ${event.ts} for ${message.timestamp}`);
      assert(event.key === (message.anonymousId ?? null), `key ${event.key}`);
      assert(event.payload.type === message.type && event.payload.userId === message.userId, JSON.stringify(event.payload));
      assert(!("writeKey" in event.payload), "the write key was kept");
    });
    assert((await typeCount("web", "Order Completed")) === 5, "type: a track call's event name");
    for (const type of ["identify", "page", "screen", "group", "alias"]) assert((await typeCount("web", type)) === 1, `type ${type}`);
  });

  await checks.run("@segment/analytics-node: the write key (Basic auth) is the stream's", async () => {
    const { Analytics } = require("@segment/analytics-node");
    const errors = [];
    // The route's prefix goes before the SDK's own path.
    const keyed = { host: server.url, path: "/keyed/v1/batch" };
    const wrong = new Analytics({ writeKey: "wk-bad", ...keyed, flushAt: 1, maxRetries: 0 });
    wrong.on("error", (e) => errors.push(e));
    wrong.track({ userId: "u-key", event: "Refused" });
    await wrong.closeAndFlush();
    const right = new Analytics({ writeKey: "wk-good", ...keyed, flushAt: 1 });
    right.track({ userId: "u-key", event: "Allowed" });
    await right.closeAndFlush();
    const refused = sent.find((s) => s.url.startsWith(server.url + "/keyed") && bodyText(s.body).includes("Refused"));
    assert(refused, "the wrong key's post was not sent");
    await waitFor(async () => (await typeCount("app", "Allowed")) === 1, 10000, "the right key's event");
    assert((await typeCount("app", "Refused")) === 0, "an event with the wrong key was stored");
    assert(errors.length > 0, "the SDK was not told of the refusal");
  });

  await checks.run("posthog-node: capture, identify and alias (gzip) are stored", async () => {
    const { PostHog } = require("posthog-node");
    const posthog = new PostHog("phc_node", { host: server.url, flushAt: 3, flushInterval: 200 });
    for (let i = 0; i < 4; i++) posthog.capture({ distinctId: "d-node", event: "file uploaded", properties: { size: i } });
    posthog.identify({ distinctId: "d-node", properties: { email: "n@example.com" } });
    posthog.alias({ distinctId: "d-node", alias: "d-old" });
    await posthog.shutdown();
    const posts = sent.filter((s) => s.url.startsWith(server.url + "/batch"));
    assert(posts.some((s) => s.headers?.["Content-Encoding"] === "gzip" || s.headers?.["content-encoding"] === "gzip"), "posthog-node sent nothing gzipped");
    const events = sentEvents(posts.map((s) => bodyText(s.body)));
    assert(events.length === 6, `sent ${events.length} events`);
    await allStored("web", events, (e) => e.uuid, (event, sentEvent) => {
      assert(sameTime(event.ts, sentEvent.timestamp), `ts ${event.ts}`);
      assert(event.key === sentEvent.distinct_id, `key ${event.key}`);
      assert(event.payload.event === sentEvent.event, "event name");
      assert(!("api_key" in event.payload), "the project key was kept");
    });
    assert((await typeCount("web", "file uploaded")) === 4, "type: the event name");
    assert((await typeCount("web", "$identify")) === 1, "type $identify");
  });

  await checks.run("@snowplow/node-tracker: structured, self-describing and page view events are stored", async () => {
    const snowplow = require("@snowplow/node-tracker");
    const tracker = snowplow.newTracker({ namespace: "node-ns", appId: "shop" }, { endpoint: server.url, bufferSize: 2 });
    tracker.track(snowplow.buildStructEvent({ category: "checkout", action: "pay", label: "card", value: 12 }));
    tracker.track(snowplow.buildSelfDescribingEvent({ event: { schema: "iglu:com.acme/signup/jsonschema/1-0-0", data: { plan: "pro" } } }));
    tracker.track(snowplow.buildPageView({ pageUrl: "https://shop.example/cart", pageTitle: "Cart" }));
    tracker.track(snowplow.buildStructEvent({ category: "checkout", action: "done" }));
    await tracker.flush();
    const posts = await waitFor(() => {
      const got = sent.filter((s) => s.url.includes("/com.snowplowanalytics.snowplow/tp2"));
      return sentEvents(got.map((s) => bodyText(s.body))).length === 4 && got;
    }, 10000, "the tracker's posts");
    const events = sentEvents(posts.map((s) => bodyText(s.body)));
    await allStored("web", events, (e) => e.eid, (event, sentEvent) => {
      assert(sameTime(event.ts, Number(sentEvent.dtm)), `ts ${event.ts} for dtm ${sentEvent.dtm}`);
      assert(event.payload.e === sentEvent.e && event.payload.aid === "shop", JSON.stringify(event.payload));
      assert(!("schema" in event.payload), "the envelope's schema was kept");
    });
    assert((await typeCount("web", "se")) === 2 && (await typeCount("web", "ue")) === 1 && (await typeCount("web", "pv")) === 1, "types se, ue, pv");
  });

  // The browser SDKs as a site bundles them from npm, on a page of another origin.
  const bundle = async (source) =>
    (await build({ stdin: { contents: source, resolveDir: dirname(fileURLToPath(import.meta.url)) }, bundle: true, format: "iife", write: false, logLevel: "error" })).outputFiles[0].text;
  const js = (body) => ({ type: "text/javascript", body });
  const site = await new Site({
    "/segment.js": js(await bundle(`import { AnalyticsBrowser } from "@segment/analytics-next"; window.AnalyticsBrowser = AnalyticsBrowser;`)),
    "/posthog.js": js(await bundle(`import posthog from "posthog-js"; window.posthog = posthog;`)),
    "/snowplow.js": js(await bundle(`import * as snowplow from "@snowplow/browser-tracker"; window.snowplow = snowplow;`)),
    "/segment": `<title>shop</title><script src="/segment.js"></script>`,
    "/posthog": `<title>shop</title><script src="/posthog.js"></script>`,
    "/snowplow": `<title>shop</title><script src="/snowplow.js"></script>`,
  }).start();
  const browser = await launchChromium();
  // Every request a page makes to the server, with its body.
  const recordRequests = (page) => {
    const requests = [];
    page.on("request", (request) => {
      if (request.url().startsWith(server.url)) requests.push({ url: request.url(), method: request.method(), body: request.postDataBuffer() });
    });
    return requests;
  };

  try {
    await checks.run("@segment/analytics-next in Chromium: settings from Sluice, track, page and identify stored", async () => {
      const page = await browser.newPage();
      const requests = recordRequests(page);
      await page.goto(site.url + "/segment");
      await page.evaluate(async (host) => {
        const analytics = window.AnalyticsBrowser.load({ writeKey: "wk-browser", cdnURL: host });
        await analytics.page();
        await analytics.track("Product Viewed", { sku: "A-1" });
        await analytics.track("Product Added", { sku: "A-1" });
        await analytics.identify("u-browser", { plan: "team" });
      }, server.url);
      const posts = requests.filter((r) => r.method === "POST");
      assert(requests.some((r) => r.url.endsWith("/v1/projects/wk-browser/settings")), "the settings were not loaded from Sluice");
      const messages = sentEvents(posts.map((r) => r.body.toString()));
      assert(messages.length === 4, `sent ${messages.length}`);
      await allStored("web", messages, (m) => m.messageId, (event, message) => {
        assert(event.key === message.anonymousId, "key: the anonymous id");
        assert(sameTime(event.ts, message.timestamp), "ts");
        assert(!("writeKey" in event.payload), "the write key was kept");
        assert(event.payload.context.page.url === site.url + "/segment", "the page context");
      });
      assert((await typeCount("web", "Product Viewed")) === 1, "type: the event name");
      await page.close();
    });

    await checks.run("posthog-js in Chromium, under a proxy path: remote config and flags answered, gzip-js batches stored", async () => {
      const page = await browser.newPage();
      const requests = recordRequests(page);
      await page.goto(site.url + "/posthog");
      await page.evaluate((host) => {
        // HeadlessChrome's user agent is on posthog-js's own bot list.
        window.posthog.init("phc_browser", { api_host: host + "/ingest", opt_out_useragent_filter: true, persistence: "localStorage", autocapture: false });
        window.posthog.capture("report exported", { format: "csv" });
        window.posthog.identify("u-ph-browser");
      }, server.url);
      // Once it has Sluice's answer to /flags, it compresses (gzip-js).
      await waitFor(() => requests.some((r) => r.url.includes("/ingest/flags")), 10000, "the flags request");
      await waitFor(() => requests.filter((r) => r.url.includes("/ingest/e/")).length >= 2, 10000, "posts after the flags");
      await page.evaluate(() => {
        for (let i = 0; i < 2; i++) window.posthog.capture("report exported", { format: "pdf", i });
      });
      const posts = () => requests.filter((r) => r.method === "POST" && /\/ingest\/(e|i\/v0\/e|batch)\//.test(new URL(r.url).pathname + "/"));
      const events = await waitFor(() => {
        const got = sentEvents(posts().map((r) => bodyText(r.body)));
        return got.filter((e) => e.event === "report exported").length === 3 && got.some((e) => e.event === "$identify") && got;
      }, 15000, "posthog-js's posts");
      assert(requests.some((r) => r.url.includes("/ingest/flags") || r.url.includes("/ingest/decide")), "the flags were not asked of Sluice");
      // gzip-js: gzip bytes in a text/plain body, maybe with ?compression=gzip-js.
      assert(posts().some((r) => r.body[0] === 0x1f && r.body[1] === 0x8b), "nothing was sent compressed");
      await allStored("web", events, (e) => e.uuid, (event, sentEvent) => {
        assert(event.payload.event === sentEvent.event && !("api_key" in event.payload), JSON.stringify(event.payload).slice(0, 200));
        if (sentEvent.timestamp) assert(sameTime(event.ts, sentEvent.timestamp), "ts");
      });
      assert((await typeCount("web", "report exported")) === 3, "type: the event name");
      await page.close();
    });

    await checks.run("@snowplow/browser-tracker in Chromium: POST with cookies and the GET pixel stored", async () => {
      const page = await browser.newPage();
      const requests = recordRequests(page);
      await page.goto(site.url + "/snowplow");
      await page.evaluate((host) => {
        const { newTracker, trackPageView, trackStructEvent, trackSelfDescribingEvent } = window.snowplow;
        newTracker("sp-post", host, { appId: "web-shop", eventMethod: "post", bufferSize: 1 });
        newTracker("sp-get", host, { appId: "web-shop", eventMethod: "get" });
        trackPageView({}, ["sp-post"]);
        trackStructEvent({ category: "nav", action: "open-menu" }, ["sp-post"]);
        trackSelfDescribingEvent({ event: { schema: "iglu:com.acme/like/jsonschema/1-0-0", data: { item: "x" } } }, ["sp-post"]);
        trackPageView({}, ["sp-get"]);
        trackStructEvent({ category: "nav", action: "close-menu" }, ["sp-get"]);
      }, server.url);
      const sentList = () => {
        const posted = sentEvents(requests.filter((r) => r.method === "POST" && r.url.endsWith("/tp2")).map((r) => r.body.toString()));
        const pixels = requests.filter((r) => r.method === "GET" && new URL(r.url).pathname === "/i").map((r) => Object.fromEntries(new URL(r.url).searchParams));
        return { posted, pixels };
      };
      const { posted, pixels } = await waitFor(() => {
        const got = sentList();
        return got.posted.length === 3 && got.pixels.length === 2 && got;
      }, 15000, "the trackers' requests");
      await allStored("web", [...posted, ...pixels], (e) => e.eid, (event, sentEvent) => {
        assert(event.payload.e === sentEvent.e && event.payload.tna === sentEvent.tna, JSON.stringify(event.payload).slice(0, 200));
        assert(event.key === sentEvent.duid, "key: the domain user id");
        assert(sameTime(event.ts, Number(sentEvent.dtm)), "ts: dtm");
      });
      await page.close();
    });
  } finally {
    await browser.close();
    site.stop();
  }
} finally {
  await server.cleanup();
}
checks.finish();
