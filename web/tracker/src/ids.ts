// Event ids, the anonymous id and the session id.

import { load, save } from "./storage";

const SESSION_IDLE_MS = 30 * 60 * 1000;

// A UUIDv7: the time in milliseconds, then random bits. Ids sort by creation time, and the
// server stores an id once, so a batch sent twice (a retry, two tabs) is kept once.
export function uuidv7(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  let ms = Date.now();
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x70;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  let hex = "";
  for (const b of bytes) hex += (b + 256).toString(16).slice(1);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// The browser's anonymous id, kept in localStorage. Browsers that cap script storage may
// forget it after days; the server's id cookie (streams.<name>.id_cookie, docs/tracker.md)
// puts a longer-lived id beside it.
export function anonymousId(prefix: string): string {
  let id = load(prefix + "aid");
  if (!id) {
    id = uuidv7();
    save(prefix + "aid", id);
  }
  return id;
}

// A session ends after 30 minutes without an event.
export function sessionId(prefix: string, now: number): string {
  const saved = load(prefix + "sid");
  const [id, last] = saved ? saved.split(".") : ["", "0"];
  const current = id && now - Number(last) < SESSION_IDLE_MS ? id : uuidv7();
  save(prefix + "sid", current + "." + now);
  return current;
}
