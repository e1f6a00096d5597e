// What a view shows when a request failed: the error, or the form for a read token when the
// server asked for one (401, 403).

import { useState } from "preact/hooks";
import { ApiError, setToken, token } from "../api";

function TokenForm({ onSaved }: { onSaved: () => void }) {
  const [value, setValue] = useState(token());
  return (
    <form
      class="token"
      onSubmit={(e) => {
        e.preventDefault();
        setToken(value.trim());
        onSaved();
      }}
    >
      <p>This server asks for a read token (server.read_tokens).</p>
      <input type="password" placeholder="read token" value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
      <button type="submit">Use it</button>
    </form>
  );
}

// What any view shows while it loads, when it failed, and when it needs a token.
export function Failure({ error, retry }: { error: unknown; retry: () => void }) {
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
    return <TokenForm onSaved={retry} />;
  }
  return (
    <p class="error" role="alert">
      {error instanceof Error ? error.message : String(error)}
    </p>
  );
}

