// What the browser tests share: a sluice server of their own, Debian's Chromium through
// playwright-core, polling, and named checks with a summary line and exit status.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer } from "node:http";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.SLUICE_CHROMIUM || "/usr/bin/chromium";
const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export class Server {
  constructor(binary, configText = "") {
    this.binary = binary;
    this.dir = mkdtempSync(join(tmpdir(), "sluice-browser-test-"));
    this.config = join(this.dir, "sluice.yaml");
    writeFileSync(this.config, configText);
    this.stderr = [];
  }

  // Again after stop(): on the same port, with the same data.
  async start() {
    const listen = this.url ? this.url.replace("http://", "") : "127.0.0.1:0";
    this.proc = spawn(this.binary, ["run", "--listen", listen, "--data-dir", join(this.dir, "data"), "--config", this.config], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    createInterface({ input: this.proc.stderr }).on("line", (line) => this.stderr.push(line));
    const line = await new Promise((resolve, reject) => {
      createInterface({ input: this.proc.stdout }).once("line", resolve);
      this.proc.once("exit", (code) => reject(new Error(`sluice exited (${code}): ${this.stderr.join("\n")}`)));
    });
    if (!line.includes("listening on")) throw new Error(`sluice did not start: ${line}`);
    this.url = line.trim().split(" ").find((word) => word.startsWith("http://"));
    return this;
  }

  async get(path) {
    const answer = await fetch(this.url + path);
    if (answer.status !== 200) throw new Error(`GET ${path}: ${answer.status} ${await answer.text()}`);
    return answer.json();
  }

  // Every stored event that matches `params`, oldest first.
  async events(params = "") {
    const events = [];
    let cursor = null;
    do {
      const page = await this.get(`/v1/events?limit=1000&order=asc${params ? "&" + params : ""}${cursor ? "&cursor=" + cursor : ""}`);
      events.push(...page.events);
      cursor = page.next_cursor;
    } while (cursor);
    return events;
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null) {
      const exited = new Promise((resolve) => this.proc.once("exit", resolve));
      this.proc.kill("SIGTERM");
      await exited;
    }
  }

  async cleanup() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// A web site on an origin of its own: `pages` maps paths to HTML, or to {type, body}.
export class Site {
  constructor(pages) {
    this.pages = pages;
  }

  async start() {
    this.http = createServer((req, res) => {
      const page = this.pages[req.url.split("?")[0]];
      const { type, body } = typeof page === "object" ? page : { type: "text/html; charset=utf-8", body: page };
      res.writeHead(page ? 200 : 404, { "Content-Type": type });
      res.end(body || "not found");
    });
    await new Promise((resolve) => this.http.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${this.http.address().port}`;
    return this;
  }

  stop() {
    this.http.closeAllConnections();
    this.http.close();
  }
}

export function launchChromium() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
}

export async function waitFor(predicate, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await predicate();
    if (last) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
}

export function assert(condition, message) {
  if (!condition) throw new Error(typeof message === "function" ? message() : message);
}

export class Checks {
  passed = 0;
  failed = 0;

  async run(name, fn) {
    try {
      await fn();
      this.passed++;
      console.log(`ok   ${name}`);
    } catch (error) {
      this.failed++;
      console.log(`FAIL ${name}: ${error.stack || error}`);
    }
  }

  // Exits: a server or browser connection left open must not keep the test running.
  finish() {
    console.log(`${this.passed} passed, ${this.failed} failed`);
    process.exit(this.failed ? 1 : 0);
  }
}
