// A time chart (uPlot): one line per series over shared x values (seconds since the epoch).

import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";

export interface Series {
  label: string;
  values: Array<number | null>;
}

const COLORS = ["#2f6fed", "#e5484d", "#30a46c", "#f5a524", "#8e4ec6", "#12a594", "#d6409f", "#687076"];

export function TimeChart({ x, series, title }: { x: number[]; series: Series[]; title: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!box.current || x.length === 0) return;
    const chart = new uPlot(
      {
        title,
        width: Math.max(320, box.current.clientWidth),
        height: 260,
        series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 2 }))],
        axes: [{}, { size: 60 }],
      },
      [x, ...series.map((s) => s.values)] as uPlot.AlignedData,
      box.current,
    );
    return () => chart.destroy();
  }, [x, series, title]);
  return <div class="chart" ref={box} data-series={series.length} />;
}

// Rows of (time, group, value) as x values and one series per group: the groups with the
// highest totals first, at most `most` of them.
export function bySeries(rows: Array<{ time: number; group: string; value: number }>, most = 8): { x: number[]; series: Series[] } {
  const times = [...new Set(rows.map((r) => r.time))].sort((a, b) => a - b);
  const totals = new Map<string, number>();
  for (const r of rows) totals.set(r.group, (totals.get(r.group) || 0) + r.value);
  const groups = [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, most).map(([g]) => g);
  const index = new Map(times.map((t, i) => [t, i]));
  const series = groups.map((label) => ({ label, values: times.map(() => null as number | null) }));
  const at = new Map(groups.map((g, i) => [g, i]));
  for (const r of rows) {
    const s = at.get(r.group);
    if (s !== undefined) series[s].values[index.get(r.time)!] = r.value;
  }
  return { x: times, series };
}
