// The SQL tab: one read-only statement over the store (POST /v1/sql), shown as a table; a
// result of a text or time column and a number column also as a bar chart.

import { useState } from "preact/hooks";
import { post } from "../api";
import { Failure } from "./failure";

interface SqlAnswer {
  columns: string[];
  rows: unknown[][];
  truncated?: boolean;
}

const EXAMPLE = "SELECT stream, count(*) AS events FROM events GROUP BY stream ORDER BY events DESC";

function Bars({ answer }: { answer: SqlAnswer }) {
  if (answer.columns.length < 2 || answer.rows.length === 0 || answer.rows.length > 50) return null;
  if (!answer.rows.every((row) => typeof row[1] === "number")) return null;
  const top = Math.max(...answer.rows.map((row) => row[1] as number), 1);
  return (
    <div class="bars" aria-label="chart">
      {answer.rows.map((row) => (
        <div class="bar">
          <span class="label">{String(row[0])}</span>
          <span class="fill" style={{ width: `${((row[1] as number) / top) * 100}%` }} />
          <span class="value">{String(row[1])}</span>
        </div>
      ))}
    </div>
  );
}

export function SqlView(_: { params: URLSearchParams }) {
  const [sql, setSql] = useState(EXAMPLE);
  const [answer, setAnswer] = useState<SqlAnswer | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [running, setRunning] = useState(false);
  const run = () => {
    setRunning(true);
    post<SqlAnswer>("/v1/sql", { sql, max_rows: 1000 })
      .then((a) => {
        setAnswer(a);
        setError(null);
      })
      .catch(setError)
      .finally(() => setRunning(false));
  };
  return (
    <section>
      <form
        class="sql"
        onSubmit={(e) => {
          e.preventDefault();
          run();
        }}
      >
        <textarea name="sql" rows={5} value={sql} onInput={(e) => setSql((e.target as HTMLTextAreaElement).value)} />
        <button type="submit" disabled={running}>
          Run
        </button>
      </form>
      {error ? <Failure error={error} retry={run} /> : null}
      {answer ? (
        <>
          <Bars answer={answer} />
          <table class="result">
            <thead>
              <tr>
                {answer.columns.map((c) => (
                  <th>{c}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {answer.rows.map((row) => (
                <tr>
                  {row.map((cell) => (
                    <td>{typeof cell === "object" && cell !== null ? JSON.stringify(cell) : String(cell)}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          {answer.truncated ? <p class="aside">More rows than shown (max_rows).</p> : null}
        </>
      ) : null}
    </section>
  );
}
