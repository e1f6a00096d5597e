// Statistics over time: GET /v1/stats counts by bucket, grouped by up to 3 of the stream's
// fields (type and its stats_fields), as a chart and a table.

import { useState } from "preact/hooks";
import { get } from "../api";
import { bySeries, TimeChart } from "./chart";
import { Failure } from "./failure";
import { FilterForm } from "./filter_form";
import { useLoad } from "./use_load";

interface StatsAnswer {
  total?: number;
  group_by: string[];
  groups: Array<Record<string, unknown> & { count: number; bucket?: string }>;
}

const FIELDS = ["stream", "group_by", "bucket", "from", "to", "where"] as const;

export function StatsView({ params }: { params: URLSearchParams }) {
  const given: Record<string, string> = {};
  for (const name of FIELDS) given[name] = params.get(name) || (name === "bucket" ? "minute" : name === "group_by" ? "type" : "");
  const [form, setForm] = useState(given);
  const { data, error, retry } = useLoad(
    () => (given.stream ? get<StatsAnswer>("/v1/stats", given) : Promise.resolve(null)),
    params.toString(),
  );
  const rows = (data?.groups || []).map((g) => ({
    time: g.bucket ? Date.parse(g.bucket) / 1000 : 0,
    group: data!.group_by.map((f) => String(g[f])).join(" / ") || "all",
    value: g.count,
  }));
  const chart = given.bucket && !given.bucket.includes("_of_") ? bySeries(rows) : null;
  return (
    <section>
      <FilterForm
        onSubmit={() => {
          const query = new URLSearchParams();
          for (const [name, value] of Object.entries(form)) if (value) query.set(name, value);
          location.hash = `#/stats?${query}`;
        }}
      >
        {FIELDS.map((name) => (
          <label>
            {name}
            <input name={name} value={form[name]} onInput={(e) => setForm({ ...form, [name]: (e.target as HTMLInputElement).value })} />
          </label>
        ))}
        <button type="submit">Count</button>
      </FilterForm>
      {!given.stream ? <p class="aside">Name a stream.</p> : null}
      {error ? <Failure error={error} retry={retry} /> : null}
      {data && chart ? <TimeChart title={`${given.stream}: events per ${given.bucket}`} x={chart.x} series={chart.series} /> : null}
      {data ? (
        <table class="result stats">
          <thead>
            <tr>
              {given.bucket ? <th>bucket</th> : null}
              {data.group_by.map((f) => (
                <th>{f}</th>
              ))}
              <th class="number">count</th>
            </tr>
          </thead>
          <tbody>
            {data.groups.map((g) => (
              <tr>
                {given.bucket ? <td>{String(g.bucket)}</td> : null}
                {data.group_by.map((f) => (
                  <td>{String(g[f])}</td>
                ))}
                <td class="number">{g.count}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
