// A raw SSE reader over node:http for the tests: every event it receives, in
// order, with its id, name and data; it can stop reading (a slow client) and
// be cut. The real clients (eventsource, Chromium, the MCP SDK) have their
// own tests; this one lets a test see the bytes.
import http, { type ClientRequest, type IncomingMessage } from "node:http";

export interface SseEvent {
  id: string | undefined;
  event: string | undefined;
  data: string;
}

export class SseReader {
  readonly events: SseEvent[] = [];
  comments = 0;
  res: IncomingMessage | undefined;
  ended = false;
  private req: ClientRequest | undefined;
  private buf = "";
  private wake: (() => void) | undefined;

  /** Open a stream; resolves with the response (its status may be an error). */
  static open(url: string, headers: Record<string, string> = {}, method = "GET", body?: string): Promise<SseReader> {
    const r = new SseReader();
    return new Promise((resolve, reject) => {
      r.req = http.request(url, { method, headers: { accept: "text/event-stream", ...headers } }, (res) => {
        r.res = res;
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => r.feed(chunk));
        res.on("end", () => r.finish());
        res.on("error", () => r.finish());
        res.on("close", () => r.finish());
        resolve(r);
      });
      r.req.on("error", (e) => (r.res ? r.finish() : reject(e)));
      r.req.end(body);
    });
  }

  get status(): number {
    return this.res?.statusCode ?? 0;
  }

  /** events carrying data, parsed as JSON */
  get frames(): Record<string, unknown>[] {
    return this.events.filter((e) => e.data !== "" && e.event === undefined).map((e) => JSON.parse(e.data) as Record<string, unknown>);
  }

  private finish(): void {
    this.ended = true;
    this.wake?.();
  }

  private feed(chunk: string): void {
    this.buf += chunk;
    for (let end = this.buf.indexOf("\n\n"); end >= 0; end = this.buf.indexOf("\n\n")) {
      const block = this.buf.slice(0, end);
      this.buf = this.buf.slice(end + 2);
      const e: SseEvent = { id: undefined, event: undefined, data: "" };
      let hasData = false;
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) {
          this.comments++;
          continue;
        }
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "id") e.id = value;
        else if (field === "event") e.event = value;
        else if (field === "data") {
          e.data = hasData ? `${e.data}\n${value}` : value;
          hasData = true;
        }
      }
      if (hasData) this.events.push(e);
    }
    this.wake?.();
  }

  /** Wait until `n` events arrived (or the stream ended: then throws). */
  async waitFor(n: number, timeoutMs = 30_000): Promise<SseEvent[]> {
    const until = Date.now() + timeoutMs;
    while (this.events.length < n) {
      if (this.ended) throw new Error(`stream ended after ${this.events.length} of ${n} events`);
      const left = until - Date.now();
      if (left <= 0) throw new Error(`timed out: ${this.events.length} of ${n} events`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 200));
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
    return this.events.slice(0, n);
  }

  /** Wait for the server to end the stream. */
  async waitEnd(timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > until) throw new Error("the stream did not end");
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  pause(): void {
    this.res?.pause();
  }

  resume(): void {
    this.res?.resume();
  }

  /** drop the connection without a goodbye */
  cut(): void {
    this.res?.socket?.destroy();
    this.req?.destroy();
  }
}

/** An HTTP request with a string body; the whole response. */
export async function request(
  url: string,
  o: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: o.method ?? "GET", headers: o.headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(o.body);
  });
}
