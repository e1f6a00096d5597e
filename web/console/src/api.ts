// The query API as the console uses it: the same routes and read tokens as any client. A token
// the server asked for (401) is kept in localStorage and sent as a Bearer header (EventSource,
// which cannot set headers, gets ?token=).

const TOKEN_KEY = "sluice_console_token";

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export function token(): string {
  try {
    return localStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return "";
  }
}

export function setToken(value: string): void {
  try {
    if (value) localStorage.setItem(TOKEN_KEY, value);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage refused (private mode): the token lasts for this page only.
  }
}

async function answer<T>(response: Response): Promise<T> {
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const message = (body as { error?: string } | null)?.error || text || response.statusText;
    throw new ApiError(response.status, message);
  }
  return body as T;
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const t = token();
  return t ? { ...extra, Authorization: `Bearer ${t}` } : extra;
}

export async function get<T>(path: string, params: Record<string, string | undefined> = {}): Promise<T> {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value) query.set(name, value);
  const qs = query.toString();
  return answer<T>(await fetch(qs ? `${path}?${qs}` : path, { headers: headers() }));
}

export async function post<T>(path: string, body: unknown): Promise<T> {
  return answer<T>(await fetch(path, { method: "POST", headers: headers({ "Content-Type": "application/json" }), body: JSON.stringify(body) }));
}

export function tail(streams: string[], filter: string): EventSource {
  const query = new URLSearchParams();
  for (const s of streams) query.append("stream", s);
  if (filter) query.set("filter", filter);
  if (token()) query.set("token", token());
  return new EventSource(`/v1/tail?${query}`);
}

// Shapes of the answers the console reads.
export interface StreamInfo {
  name: string;
  partitions: number;
  in_log: number;
  stored: number;
  dead_letter: string | null;
  accepted_per_second: number;
  since_start: { received: number; accepted: number; rejected: { malformed: number; invalid: number }; bytes: number };
  newest_event: { id: string; ts: string; received_at: string } | null;
}

export interface StoredEvent {
  id: string;
  stream: string;
  ts: string;
  received_at: string;
  key: string | null;
  type?: string | null;
  payload: unknown;
}

export interface EventPage {
  events: StoredEvent[];
  next_cursor: string | null;
}
