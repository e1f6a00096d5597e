// The events explorer: GET /v1/events with its filters, page after page (next_cursor), each
// event's payload as JSON, and a page of its own per event (GET /v1/events/{id}).

import { useEffect, useState } from "preact/hooks";
import { get, type EventPage, type StoredEvent } from "../api";
import { Failure } from "./failure";
import { FilterForm } from "./filter_form";
import { Json } from "./json";

const FILTERS = ["stream", "type", "key", "where", "from", "to"] as const;

function link(view: string, params: Record<string, string>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value) query.set(name, value);
  return `#/${view}?${query}`;
}

export function EventsView({ params }: { params: URLSearchParams }) {
  const filters: Record<string, string> = {};
  for (const name of FILTERS) filters[name] = params.get(name) || "";
  const [form, setForm] = useState(filters);
  const [events, setEvents] = useState<StoredEvent[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);
  const key = params.toString();

  const load = (from: string | null) =>
    get<EventPage>("/v1/events", { ...filters, limit: "50", cursor: from || undefined })
      .then((page) => {
        setEvents((before) => (from && before ? [...before, ...page.events] : page.events));
        setCursor(page.next_cursor);
        setError(null);
      })
      .catch(setError);

  useEffect(() => {
    setForm(filters);
    setEvents(null);
    load(null);
  }, [key, attempt]);

  return (
    <section>
      <FilterForm onSubmit={() => { location.hash = link("events", form); }}>
        {FILTERS.map((name) => (
          <label>
            {name}
            <input
              name={name}
              value={form[name]}
              placeholder={name === "where" ? "page:eq:/pricing" : name === "from" || name === "to" ? "2026-12-01T00:00:00Z" : ""}
              onInput={(e) => setForm({ ...form, [name]: (e.target as HTMLInputElement).value })}
            />
          </label>
        ))}
        <button type="submit">Search</button>
      </FilterForm>
      {error ? <Failure error={error} retry={() => setAttempt(attempt + 1)} /> : null}
      {events === null && !error ? <p class="loading">Loading…</p> : null}
      {events && events.length === 0 ? <p class="empty">No events match.</p> : null}
      {events && events.length > 0 ? (
        <table class="events">
          <thead>
            <tr>
              <th>time</th>
              <th>stream</th>
              <th>key</th>
              <th>payload</th>
            </tr>
          </thead>
          <tbody>
            {events.map((event) => (
              <tr class="event" data-id={event.id} onClick={() => setOpen(open === event.id ? null : event.id)}>
                <td>
                  <a href={link("event", { id: event.id, stream: event.stream })} onClick={(e) => e.stopPropagation()}>
                    {event.ts}
                  </a>
                </td>
                <td>{event.stream}</td>
                <td>{event.key ?? ""}</td>
                <td>{open === event.id ? <Json value={event.payload} /> : <code>{JSON.stringify(event.payload).slice(0, 160)}</code>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {cursor ? (
        <button class="more" onClick={() => load(cursor)}>
          More
        </button>
      ) : null}
    </section>
  );
}

export function EventView({ params }: { params: URLSearchParams }) {
  const id = params.get("id") || "";
  const [event, setEvent] = useState<StoredEvent | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    get<StoredEvent>(`/v1/events/${encodeURIComponent(id)}`, { stream: params.get("stream") || undefined })
      .then((e) => {
        setEvent(e);
        setError(null);
      })
      .catch(setError);
  }, [id, attempt]);
  if (error) return <Failure error={error} retry={() => setAttempt(attempt + 1)} />;
  if (!event) return <p class="loading">Loading…</p>;
  return (
    <section class="one-event">
      <dl>
        <dt>id</dt>
        <dd>{event.id}</dd>
        <dt>stream</dt>
        <dd>{event.stream}</dd>
        <dt>time</dt>
        <dd>{event.ts}</dd>
        <dt>received</dt>
        <dd>{event.received_at}</dd>
        <dt>key</dt>
        <dd>{event.key ?? "—"}</dd>
      </dl>
      <Json value={event.payload} />
    </section>
  );
}
