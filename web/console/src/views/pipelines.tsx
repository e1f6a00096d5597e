// Pipelines with their state, lag, counts and last error (GET /v1/pipelines).

import { get } from "../api";
import { Failure } from "./failure";
import { useLoad } from "./use_load";

interface PipelineState {
  name: string;
  state: string;
  from: string[];
  to: string[];
  lag: number | null;
  read: number;
  dropped: number;
  delivered: number;
  dead_lettered: number;
  retries: number;
  last_error: string | null;
}

export function PipelinesView(_: { params: URLSearchParams }) {
  const { data, error, retry } = useLoad(() => get<{ pipelines: PipelineState[] }>("/v1/pipelines"), "", 2000);
  if (error) return <Failure error={error} retry={retry} />;
  if (!data) return <p class="loading">Loading…</p>;
  if (data.pipelines.length === 0) return <p class="empty">No pipelines are configured (docs/pipelines.md).</p>;
  return (
    <table class="pipelines">
      <thead>
        <tr>
          <th>pipeline</th>
          <th>state</th>
          <th>from → to</th>
          <th class="number">lag</th>
          <th class="number">read</th>
          <th class="number">dropped</th>
          <th class="number">delivered</th>
          <th class="number">dead-lettered</th>
          <th class="number">retries</th>
          <th>last error</th>
        </tr>
      </thead>
      <tbody>
        {data.pipelines.map((p) => (
          <tr data-pipeline={p.name}>
            <td>{p.name}</td>
            <td class={`state ${p.state}`}>{p.state}</td>
            <td>
              {p.from.join(", ")} → {p.to.join(", ")}
            </td>
            <td class="number">{p.lag ?? "—"}</td>
            <td class="number">{p.read}</td>
            <td class="number">{p.dropped}</td>
            <td class="number">{p.delivered}</td>
            <td class="number">{p.dead_lettered}</td>
            <td class="number">{p.retries}</td>
            <td class="error">{p.last_error ?? ""}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
