// The tracker's functions on one default tracker, for pages with one site to track.

import { type Options, type Properties, Tracker } from "./tracker";

export { type Options, type Properties, Tracker };
export type { Autocapture } from "./autocapture";

let current: Tracker | undefined;

// Once per page: a second call (a script tag's data attributes and the page's own init) would
// record everything twice, so it returns the tracker already running.
export function init(options: Options = {}): Tracker {
  if (current) {
    console.warn("sluice: init() was called again; the first tracker stays");
    return current;
  }
  current = new Tracker(options);
  return current;
}

export function track(type: string, properties?: Properties): void {
  current?.track(type, properties);
}

export function page(properties?: Properties): void {
  current?.page(properties);
}

export function identify(userId: string, traits?: Properties): void {
  current?.identify(userId, traits);
}

export function flush(): Promise<void> {
  return current ? current.flush() : Promise.resolve();
}

export function reset(): void {
  current?.reset();
}

export function optOut(): void {
  current?.optOut();
}

export function optIn(): void {
  current?.optIn();
}
