// Live tail: GET /v1/tail over Server-Sent Events, newest first, the last 200 kept.

import { useEffect, useState } from "preact/hooks";
import { tail, type StoredEvent } from "../api";
import { FilterForm } from "./filter_form";

const KEPT = 200;

export function TailView({ params }: { params: URLSearchParams }) {
  const [streams, setStreams] = useState(params.getAll("stream").join(",") || "web");
  const [filter, setFilter] = useState(params.get("filter") || "");
  const [following, setFollowing] = useState({ streams, filter });
  const [events, setEvents] = useState<StoredEvent[]>([]);
  const [state, setState] = useState("connecting");

  useEffect(() => {
    const names = following.streams.split(",").map((s) => s.trim()).filter(Boolean);
    setEvents([]);
    if (names.length === 0) return;
    const source = tail(names, following.filter);
    source.onopen = () => setState("following");
    source.onerror = () => setState("reconnecting");
    source.addEventListener("event", (e) => {
      const event = JSON.parse((e as MessageEvent).data) as StoredEvent;
      setEvents((before) => [event, ...before].slice(0, KEPT));
    });
    source.addEventListener("dropped", (e) => setState(JSON.parse((e as MessageEvent).data).error));
    return () => source.close();
  }, [following.streams, following.filter]);

  return (
    <section>
      <FilterForm onSubmit={() => { setFollowing({ streams, filter }); }}>
        <label>
          streams
          <input name="streams" value={streams} onInput={(e) => setStreams((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          filter
          <input name="filter" value={filter} placeholder='severity == "high"' onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit">Follow</button>
        <span class="state" data-state={state}>
          {state}
        </span>
      </FilterForm>
      <table class="events tail">
        <tbody>
          {events.map((event) => (
            <tr class="event" data-id={event.id}>
              <td>{event.ts}</td>
              <td>{event.stream}</td>
              <td>{event.type ?? ""}</td>
              <td>
                <code>{JSON.stringify(event.payload).slice(0, 300)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
