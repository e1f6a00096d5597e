// React bindings: <TrackerProvider options={...}> creates one tracker for the app, and
// useTracker() returns it (track, page, identify...) in any component below.

import { createContext, createElement, type ReactNode, useContext, useState } from "react";
import { type Options, Tracker } from "./tracker";

export { Tracker, type Options };

const TrackerContext = createContext<Tracker | null>(null);

export function TrackerProvider(props: { options: Options; children?: ReactNode }) {
  const [tracker] = useState(() => new Tracker(props.options));
  return createElement(TrackerContext.Provider, { value: tracker }, props.children);
}

export function useTracker(): Tracker {
  const tracker = useContext(TrackerContext);
  if (!tracker) throw new Error("useTracker() needs a <TrackerProvider> above it");
  return tracker;
}
