// Alerts raised by windows and rules (GET /v1/alerts), newest first.

import { EventList } from "./event_list";

export function AlertsView({ params }: { params: URLSearchParams }) {
  const filters: Record<string, string> = {};
  for (const name of ["rule", "severity"]) if (params.get(name)) filters[name] = params.get(name)!;
  return (
    <EventList
      path="/v1/alerts"
      params={filters}
      empty="No alerts raised."
      columns={[
        { title: "rule", cell: (_, p) => String(p.rule ?? "") },
        { title: "severity", cell: (_, p) => <span class={`severity ${String(p.severity ?? "")}`}>{String(p.severity ?? "")}</span> },
        { title: "key", cell: (_, p) => (p.key === undefined ? "" : typeof p.key === "string" ? p.key : JSON.stringify(p.key)) },
        { title: "message", cell: (_, p) => String(p.message ?? "") },
      ]}
    />
  );
}
