// A tracker: the events of one page (or app), sent to one Sluice collection path.

import { type Autocapture, startAutocapture } from "./autocapture";
import { anonymousId, sessionId, uuidv7 } from "./ids";
import { Queue } from "./queue";
import { load, remove, save } from "./storage";

export interface Options {
  // Sluice's base URL ("https://collect.example.com"); empty: the page's own origin.
  endpoint?: string;
  // The path events are posted to: a stream's own ("/v1/streams/web/events") or a route
  // (docs/configuration.md `routes`). Default "/collect", the default route into `web`.
  path?: string;
  // Shorthand for path: "/v1/streams/<stream>/events".
  stream?: string;
  key?: string; // the stream's write key, if it has write_keys (sent as ?key=)
  batchSize?: number; // events per request (default 20)
  flushInterval?: number; // ms an event waits for a batch to fill (default 3000)
  maxQueue?: number; // events kept while the server cannot be reached (default 1000)
  autocapture?: boolean | Autocapture; // default: all on
  respectDoNotTrack?: boolean; // default true: no events from browsers that ask not to be tracked
  storagePrefix?: string; // localStorage key prefix (default "sluice_")
}

export type Properties = Record<string, unknown>;

export class Tracker {
  private readonly queue: Queue | undefined;
  private readonly prefix: string;
  private userId: string | undefined;
  private traits: Properties = {};

  constructor(options: Options = {}) {
    this.prefix = options.storagePrefix ?? "sluice_";
    const dnt = navigator.doNotTrack === "1" || (navigator as { globalPrivacyControl?: boolean }).globalPrivacyControl;
    if (this.optedOut() || (options.respectDoNotTrack !== false && dnt)) return;
    const path = options.path ?? (options.stream ? `/v1/streams/${encodeURIComponent(options.stream)}/events` : "/collect");
    const url = (options.endpoint ?? "").replace(/\/$/, "") + path + (options.key ? "?key=" + encodeURIComponent(options.key) : "");
    this.queue = new Queue({
      url,
      storageKey: this.prefix + "queue",
      batchSize: options.batchSize ?? 20,
      flushInterval: options.flushInterval ?? 3000,
      maxQueue: options.maxQueue ?? 1000,
    });
    this.userId = load(this.prefix + "uid") ?? undefined;
    const queue = this.queue;
    addEventListener("pagehide", () => queue.beacon());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") queue.beacon();
    });
    addEventListener("online", () => queue.online());
    void queue.flush(); // what an earlier page left
    if (options.autocapture !== false) {
      const what = options.autocapture === true || options.autocapture === undefined ? {} : options.autocapture;
      startAutocapture(what, (type, fields) => this.record(type, fields), () => this.page());
    }
  }

  // A named event with properties of its own.
  track(type: string, properties: Properties = {}): void {
    this.record(type, { properties });
  }

  page(properties?: Properties): void {
    this.record("page_view", properties ? { properties } : {});
  }

  // Ties later events to a user; traits go with each event until reset().
  identify(userId: string, traits: Properties = {}): void {
    this.userId = userId;
    this.traits = traits;
    save(this.prefix + "uid", userId);
    this.record("identify", { traits });
  }

  flush(): Promise<void> {
    return this.queue ? this.queue.flush() : Promise.resolve();
  }

  // Forgets the user (on logout): new anonymous id and session, no user id.
  reset(): void {
    this.userId = undefined;
    this.traits = {};
    for (const key of ["uid", "aid", "sid"]) remove(this.prefix + key);
  }

  // The visitor's choice, kept in localStorage: no events are recorded or sent after optOut(),
  // and the waiting ones are dropped. Takes effect for this tracker at once and for later pages.
  optOut(): void {
    save(this.prefix + "opt_out", "1");
    this.queue?.clear();
  }

  optIn(): void {
    remove(this.prefix + "opt_out");
  }

  optedOut(): boolean {
    return load(this.prefix + "opt_out") === "1";
  }

  private record(type: string, fields: Properties): void {
    if (!this.queue || this.optedOut()) return;
    const now = Date.now();
    this.queue.add({
      event_id: uuidv7(),
      event_type: type,
      timestamp: now,
      anonymous_id: anonymousId(this.prefix),
      session_id: sessionId(this.prefix, now),
      ...(this.userId ? { user_id: this.userId } : {}),
      ...(Object.keys(this.traits).length && type !== "identify" ? { traits: this.traits } : {}),
      page_url: location.href,
      page_path: location.pathname,
      page_title: document.title,
      referrer: document.referrer || undefined,
      screen: `${screen.width}x${screen.height}`,
      language: navigator.language,
      ...fields,
    });
  }
}
