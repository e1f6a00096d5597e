// The events waiting to be sent, kept in localStorage so that a reload, a crash of the tab or
// a spell offline loses nothing, and the sending of them: batches by count and time, retries
// with backoff, a beacon when the page goes away.
//
// Every change re-reads the stored queue first: tabs of one site share it. Two tabs may then
// send the same event; the server keeps an event id once, so it is stored once.

import { load, save } from "./storage";

export type TrackedEvent = Record<string, unknown> & { event_id: string };

export interface QueueOptions {
  url: string; // where batches are posted, write key included
  storageKey: string;
  batchSize: number;
  flushInterval: number; // ms an event may wait for a batch to fill
  maxQueue: number; // oldest events are dropped beyond this many
}

// Beacons are limited to 64 KiB by browsers; stay under.
const BEACON_BYTES = 60000;
const MAX_BACKOFF_MS = 30000;

export class Queue {
  private sending = false;
  private inflight = new Set<string>(); // ids of the batch being posted
  private failures = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly options: QueueOptions) {}

  events(): TrackedEvent[] {
    try {
      const parsed = JSON.parse(load(this.options.storageKey) || "[]");
      return Array.isArray(parsed) ? parsed : [];
    } catch {
      return [];
    }
  }

  add(event: TrackedEvent): void {
    const events = this.events();
    events.push(event);
    this.store(events.slice(-this.options.maxQueue));
    if (this.failures) return; // a retry is due
    if (events.length >= this.options.batchSize) void this.flush();
    else if (this.timer === undefined) this.schedule(this.options.flushInterval);
  }

  clear(): void {
    this.store([]);
  }

  // Posts the oldest batch, then the next, until the queue is empty or a post fails.
  async flush(): Promise<void> {
    if (this.sending || !navigator.onLine) return;
    const batch = this.events().slice(0, this.options.batchSize);
    if (!batch.length) return;
    this.sending = true;
    this.inflight = new Set(batch.map((e) => e.event_id));
    clearTimeout(this.timer);
    this.timer = undefined;
    let retry = false;
    try {
      const answer = await fetch(this.options.url, {
        method: "POST",
        // text/plain keeps the request CORS-simple: no preflight round trip.
        headers: { "Content-Type": "text/plain" },
        body: envelope(batch),
        keepalive: true,
      });
      // 408, 429 and 5xx are worth another try; any other answer is final (a 400 or 413
      // would be refused again).
      retry = answer.status === 408 || answer.status === 429 || answer.status >= 500;
    } catch {
      retry = true; // offline, the server unreachable, or blocked
    }
    this.sending = false;
    this.inflight.clear();
    save(this.options.storageKey + "_ok", retry ? "0" : "1");
    if (retry) {
      this.failures++;
      const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (this.failures - 1));
      this.schedule(backoff * (0.5 + Math.random() / 2));
      return;
    }
    this.failures = 0;
    this.forget(batch);
    if (this.events().length) void this.flush();
  }

  // The page is going away: what is left goes in one beacon, which the browser sends after
  // the page is gone. A beacon's fate is never known, so the events are forgotten only when
  // the last post reached the server; otherwise (the collector unreachable, blocked) they stay
  // for the next page to send again, and the server keeps each id once. Offline, no beacon.
  beacon(): void {
    if (!navigator.onLine || !navigator.sendBeacon) return;
    const batch: TrackedEvent[] = [];
    let size = 0;
    // A batch being posted is left to its post (a keepalive request outlives the page); if
    // that fails, the next page sends it.
    for (const event of this.events().filter((e) => !this.inflight.has(e.event_id))) {
      size += JSON.stringify(event).length + 1;
      if (size > BEACON_BYTES) break;
      batch.push(event);
    }
    const sent = batch.length > 0 && navigator.sendBeacon(this.options.url, envelope(batch));
    if (sent && load(this.options.storageKey + "_ok") === "1") this.forget(batch);
  }

  // Back online: try at once, with a fresh backoff.
  online(): void {
    this.failures = 0;
    void this.flush();
  }

  private forget(sent: TrackedEvent[]): void {
    const ids = new Set(sent.map((e) => e.event_id));
    this.store(this.events().filter((e) => !ids.has(e.event_id)));
  }

  private store(events: TrackedEvent[]): void {
    save(this.options.storageKey, JSON.stringify(events));
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, ms);
  }
}

// The batch envelope: its fields are added to every event by the server.
function envelope(events: TrackedEvent[]): string {
  return JSON.stringify({ sent_at: Date.now(), events });
}
