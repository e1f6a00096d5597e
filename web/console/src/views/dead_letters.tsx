// Rejected events with their reasons (GET /v1/dead-letters), newest first.

import { EventList } from "./event_list";

export function DeadLettersView({ params }: { params: URLSearchParams }) {
  const filters: Record<string, string> = {};
  for (const name of ["source", "pipeline", "stream"]) if (params.get(name)) filters[name] = params.get(name)!;
  return (
    <EventList
      path="/v1/dead-letters"
      params={filters}
      empty="No dead letters."
      columns={[
        { title: "from", cell: (e, p) => String(p.stream ?? p.pipeline ?? e.stream) },
        { title: "reason", cell: (_, p) => <span class="error">{String(p.error ?? "")}</span> },
        { title: "event", cell: (_, p) => <code>{(typeof p.event === "string" ? p.event : JSON.stringify(p.event ?? null)).slice(0, 200)}</code> },
      ]}
    />
  );
}
