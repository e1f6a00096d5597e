// Streams overview: each stream's rate, what it took and refused, and how far the store is
// behind the log. Refreshed every 2 s.

import { useEffect, useState } from "preact/hooks";
import { get, type StreamInfo } from "../api";
import { Failure } from "./failure";

export function StreamsView(_: { params: URLSearchParams }) {
  const [streams, setStreams] = useState<StreamInfo[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    let live = true;
    const load = () =>
      get<{ streams: StreamInfo[] }>("/v1/streams")
        .then((answer) => {
          if (!live) return;
          setStreams(answer.streams);
          setError(null);
        })
        .catch((e) => live && setError(e));
    load();
    const timer = setInterval(load, 2000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [attempt]);
  if (error) return <Failure error={error} retry={() => setAttempt(attempt + 1)} />;
  if (!streams) return <p class="loading">Loading…</p>;
  return (
    <table class="streams">
      <thead>
        <tr>
          <th>stream</th>
          <th class="number">events/s</th>
          <th class="number">in the log</th>
          <th class="number">stored</th>
          <th class="number">store lag</th>
          <th class="number">accepted</th>
          <th class="number">rejected</th>
          <th>newest event</th>
        </tr>
      </thead>
      <tbody>
        {streams.map((s) => (
          <tr data-stream={s.name}>
            <td>
              <a href={`#/events?stream=${encodeURIComponent(s.name)}`}>{s.name}</a>
            </td>
            <td class="number">{s.accepted_per_second.toFixed(1)}</td>
            <td class="number">{s.in_log.toLocaleString()}</td>
            <td class="number">{s.stored.toLocaleString()}</td>
            <td class="number">{Math.max(0, s.in_log - s.stored).toLocaleString()}</td>
            <td class="number">{s.since_start.accepted.toLocaleString()}</td>
            <td class="number">
              {(s.since_start.rejected.malformed + s.since_start.rejected.invalid).toLocaleString()}
              {s.dead_letter && s.since_start.rejected.malformed + s.since_start.rejected.invalid > 0 ? (
                <a class="aside" href={`#/events?stream=${encodeURIComponent(s.dead_letter)}`}>
                  {" "}
                  → {s.dead_letter}
                </a>
              ) : null}
            </td>
            <td>{s.newest_event ? s.newest_event.ts : "—"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
