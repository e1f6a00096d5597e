// Loads an answer for a view, again when `key` changes or every `every` ms; the error, and a
// retry (after a token was given).

import { useEffect, useState } from "preact/hooks";

export function useLoad<T>(load: () => Promise<T>, key: string, every = 0): { data: T | null; error: unknown; retry: () => void } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    let live = true;
    const run = () =>
      load()
        .then((answer) => {
          if (!live) return;
          setData(answer);
          setError(null);
        })
        .catch((e) => live && setError(e));
    setData(null);
    run();
    const timer = every ? setInterval(run, every) : undefined;
    return () => {
      live = false;
      if (timer) clearInterval(timer);
    };
  }, [key, attempt]);
  return { data, error, retry: () => setAttempt((n) => n + 1) };
}
