// The console: what Sluice holds and does, in the browser, over the same API and read tokens
// as any client. One page; the view is in the location's hash (#/events?stream=web).

import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { EventView, EventsView } from "./views/events";
import { SqlView } from "./views/sql";
import { StreamsView } from "./views/streams";
import { TailView } from "./views/tail";

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
  ["sql", "SQL"],
];

function App() {
  const [route, setRoute] = useState(current());
  useEffect(() => {
    const changed = () => setRoute(current());
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  let body;
  switch (route.view) {
    case "events":
      body = <EventsView params={route.params} />;
      break;
    case "event":
      body = <EventView params={route.params} />;
      break;
    case "tail":
      body = <TailView params={route.params} />;
      break;
    case "sql":
      body = <SqlView />;
      break;
    default:
      body = <StreamsView />;
  }
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
