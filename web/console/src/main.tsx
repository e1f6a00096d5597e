// The console: what Sluice holds and does, in the browser, over the same API and read tokens
// as any client. One page; the view is in the location's hash (#/events?stream=web).

import { render, type JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { AlertsView } from "./views/alerts";
import { DeadLettersView } from "./views/dead_letters";
import { EventView, EventsView } from "./views/events";
import { PipelinesView } from "./views/pipelines";
import { SqlView } from "./views/sql";
import { StatsView } from "./views/stats";
import { StreamsView } from "./views/streams";
import { TailView } from "./views/tail";
import { WindowsView } from "./views/windows";

interface Route {
  view: string;
  params: URLSearchParams;
}

function current(): Route {
  const hash = location.hash.replace(/^#\/?/, "");
  const [view, query] = hash.split("?");
  return { view: view || "streams", params: new URLSearchParams(query || "") };
}

const TABS: Array<[string, string]> = [
  ["streams", "Streams"],
  ["events", "Events"],
  ["tail", "Live tail"],
  ["stats", "Stats"],
  ["windows", "Windows"],
  ["alerts", "Alerts"],
  ["dead-letters", "Dead letters"],
  ["pipelines", "Pipelines"],
  ["sql", "SQL"],
];

// Each view by the name in the hash; each takes the hash's parameters.
const VIEWS: Record<string, (props: { params: URLSearchParams }) => JSX.Element> = {
  streams: StreamsView,
  events: EventsView,
  event: EventView,
  tail: TailView,
  stats: StatsView,
  windows: WindowsView,
  alerts: AlertsView,
  "dead-letters": DeadLettersView,
  pipelines: PipelinesView,
  sql: SqlView,
};

function App() {
  const [route, setRoute] = useState(current());
  useEffect(() => {
    const changed = () => setRoute(current());
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  const View = VIEWS[route.view] || StreamsView;
  const body = <View params={route.params} />;
  const active = route.view === "event" ? "events" : route.view;
  return (
    <>
      <header>
        <a class="brand" href="#/streams">
          Sluice
        </a>
        <nav>
          {TABS.map(([view, label]) => (
            <a href={`#/${view}`} class={active === view ? "active" : ""} data-view={view}>
              {label}
            </a>
          ))}
        </nav>
      </header>
      <main data-view={route.view}>{body}</main>
    </>
  );
}

render(<App />, document.getElementById("app")!);
