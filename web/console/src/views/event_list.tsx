// A list of stored events from an endpoint paged like GET /v1/events (alerts, dead letters),
// with the columns a view picks from their payloads.

import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { get, type EventPage, type StoredEvent } from "../api";
import { Failure } from "./failure";
import { Json } from "./json";
import { useLoad } from "./use_load";

export interface Column {
  title: string;
  cell: (event: StoredEvent, payload: Record<string, unknown>) => ComponentChildren;
}

export function EventList({ path, params, columns, empty }: { path: string; params: Record<string, string>; columns: Column[]; empty: string }) {
  const [open, setOpen] = useState<string | null>(null);
  const { data, error, retry } = useLoad(() => get<EventPage>(path, { ...params, limit: "100" }), path + JSON.stringify(params), 5000);
  if (error) return <Failure error={error} retry={retry} />;
  if (!data) return <p class="loading">Loading…</p>;
  if (data.events.length === 0) return <p class="empty">{empty}</p>;
  return (
    <table class="events">
      <thead>
        <tr>
          <th>time</th>
          {columns.map((c) => (
            <th>{c.title}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {data.events.map((event) => {
          const payload = (event.payload || {}) as Record<string, unknown>;
          return (
            <tr class="event" data-id={event.id} onClick={() => setOpen(open === event.id ? null : event.id)}>
              <td>{event.ts}</td>
              {columns.map((c) => (
                <td>{c.cell(event, payload)}</td>
              ))}
              {open === event.id ? (
                <td>
                  <Json value={payload} />
                </td>
              ) : null}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
