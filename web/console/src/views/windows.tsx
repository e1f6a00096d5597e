// Windows: each definition's state (GET /v1/windows), and a definition's results over time per
// key, open (early) and final (GET /v1/windows/{name}).

import { get } from "../api";
import { bySeries, TimeChart } from "./chart";
import { Failure } from "./failure";
import { useLoad } from "./use_load";

interface WindowState {
  name: string;
  state: string;
  lag: number | null;
  read: number;
  late: number;
  results: number;
  open_windows: number;
  watermark: string | null;
  last_error: string | null;
}

interface RuleState {
  name: string;
  state: string;
  matched: number;
  alerts: number;
  suppressed: number;
  last_error: string | null;
}

interface WindowResult {
  key: Record<string, unknown>;
  start: string;
  end: string;
  events: number;
  values: Record<string, unknown>;
  final: boolean;
}

function Results({ name }: { name: string }) {
  const { data, error, retry } = useLoad(() => get<{ results: WindowResult[] }>(`/v1/windows/${encodeURIComponent(name)}`, { limit: "1000" }), name, 5000);
  if (error) return <Failure error={error} retry={retry} />;
  if (!data) return <p class="loading">Loading…</p>;
  const keyText = (r: WindowResult) => Object.values(r.key).map(String).join(" / ") || "all";
  const chart = bySeries(data.results.map((r) => ({ time: Date.parse(r.start) / 1000, group: keyText(r), value: r.events })));
  const open = data.results.filter((r) => !r.final).length;
  return (
    <div class="window-results" data-window={name}>
      <p class="aside">
        {data.results.length} results: {data.results.length - open} final, {open} open
      </p>
      {chart.x.length > 0 ? <TimeChart title={`${name}: events per window, by key`} x={chart.x} series={chart.series} /> : null}
      <table class="result">
        <thead>
          <tr>
            <th>start</th>
            <th>end</th>
            <th>key</th>
            <th class="number">events</th>
            <th>values</th>
            <th>final</th>
          </tr>
        </thead>
        <tbody>
          {data.results.slice(0, 200).map((r) => (
            <tr class={r.final ? "final" : "open"}>
              <td>{r.start}</td>
              <td>{r.end}</td>
              <td>{keyText(r)}</td>
              <td class="number">{r.events}</td>
              <td>
                <code>{JSON.stringify(r.values)}</code>
              </td>
              <td>{r.final ? "final" : "open"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function WindowsView({ params }: { params: URLSearchParams }) {
  const { data, error, retry } = useLoad(() => get<{ windows: WindowState[]; rules: RuleState[] }>("/v1/windows"), "", 5000);
  const chosen = params.get("name") || data?.windows[0]?.name || "";
  if (error) return <Failure error={error} retry={retry} />;
  if (!data) return <p class="loading">Loading…</p>;
  return (
    <section>
      <table class="windows">
        <thead>
          <tr>
            <th>window</th>
            <th>state</th>
            <th class="number">lag</th>
            <th class="number">read</th>
            <th class="number">late</th>
            <th class="number">results</th>
            <th class="number">open</th>
            <th>watermark</th>
            <th>last error</th>
          </tr>
        </thead>
        <tbody>
          {data.windows.map((w) => (
            <tr data-window={w.name} class={w.name === chosen ? "chosen" : ""}>
              <td>
                <a href={`#/windows?name=${encodeURIComponent(w.name)}`}>{w.name}</a>
              </td>
              <td>{w.state}</td>
              <td class="number">{w.lag ?? "—"}</td>
              <td class="number">{w.read}</td>
              <td class="number">{w.late}</td>
              <td class="number">{w.results}</td>
              <td class="number">{w.open_windows}</td>
              <td>{w.watermark ?? "—"}</td>
              <td class="error">{w.last_error ?? ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {data.rules.length > 0 ? (
        <table class="rules">
          <thead>
            <tr>
              <th>rule</th>
              <th>state</th>
              <th class="number">matched</th>
              <th class="number">alerts</th>
              <th class="number">suppressed</th>
              <th>last error</th>
            </tr>
          </thead>
          <tbody>
            {data.rules.map((r) => (
              <tr data-rule={r.name}>
                <td>{r.name}</td>
                <td>{r.state}</td>
                <td class="number">{r.matched}</td>
                <td class="number">{r.alerts}</td>
                <td class="number">{r.suppressed}</td>
                <td class="error">{r.last_error ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {data.windows.length === 0 ? <p class="empty">No windows are configured (docs/streaming.md).</p> : null}
      {chosen ? <Results name={chosen} /> : null}
    </section>
  );
}
