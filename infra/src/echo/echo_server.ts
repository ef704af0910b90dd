// One echo upstream: an HTTP/2 + TLS server (HTTP/1.1 accepted too) speaking one
// provider's wire format, with faults to inject (from code or over its admin API)
// and counters of the connections and streams it saw.
import http2, { type Http2ServerRequest, type Http2ServerResponse, type Http2Session } from "node:http2";
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { once, setMaxListeners } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { anthropicFormat } from "./echo_anthropic.js";
import { googleFormat } from "./echo_google.js";
import { openaiFormat } from "./echo_openai.js";

export type EchoFormatName = "openai" | "anthropic" | "google";

/** What to do to the next request on a model endpoint, instead of or on top of answering it. */
export interface Fault {
  /** answer with this status and `body` (by default the format's own error body for the status, whatever it is) */
  status?: number;
  /** a Retry-After header (a 429 gets "1" unless this says otherwise) */
  retryAfter?: string;
  /** the body to answer with; alone (no `status`) it replaces a normal answer with 200 */
  body?: string;
  /** wait before the response head */
  delayMs?: number;
  /** space the streamed chunks by this much */
  chunkDelayMs?: number;
  /** destroy the stream after this many chunks (a plain body is one), without a clean end */
  cutAfterChunks?: number;
  /** never answer */
  hang?: boolean;
}

export interface EchoStats {
  /** TLS connections accepted */
  sessions: number;
  /** requests seen, the admin API's left out */
  requests: number;
  /** the most requests one connection had in flight at once */
  maxConcurrentStreams: number;
  /** requests whose answer did not end cleanly: the client went away (a gateway cancelling what nobody reads), or a cut fault */
  aborted: number;
}

export interface EchoServer {
  /** https://127.0.0.1:PORT */
  url: string;
  port: number;
  stats(): EchoStats;
  /** the faults the next model requests get, one each, in order of arrival */
  setFaults(f: Fault[]): void;
  close(): Promise<void>;
}

export interface EchoOptions {
  format: EchoFormatName;
  cert: { key: string; cert: string };
  host?: string;
  port?: number;
  /** space every stream's chunks by this much */
  chunkDelayMs?: number;
}

// ---- what the format modules implement ----

/** A response, not yet sent. */
export interface Reply {
  status: number;
  headers: Record<string, string>;
  /** a stream's events (made as they are sent), or a plain body as one piece */
  chunks: Iterable<string>;
  stream: boolean;
}

/** The parts of a request a format routes on. */
export interface RequestHead {
  method: string;
  /** the path, not decoded */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
}

export type Route =
  /** a model call: faults apply; `answer` gets the parsed JSON body */
  | { kind: "generate"; answer(body: unknown): Reply }
  /** anything answered without looking at a body (listings, refusals, unknown paths) */
  | { kind: "reply"; reply: Reply };

export interface EchoFormat {
  route(head: RequestHead): Route;
  /** the format's error response for a status (`message` or the format's usual wording) */
  error(status: number, message?: string): Reply;
  /** the format's answer to a body that is not JSON */
  badJson(): Reply;
}

const FORMATS: Record<EchoFormatName, EchoFormat> = { openai: openaiFormat, anthropic: anthropicFormat, google: googleFormat };

/** the largest request body taken (Anthropic's own limit) */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;
const MAX_WAIT_MS = 3_600_000;
const FAULT_KEYS = new Set(["status", "retryAfter", "body", "delayMs", "chunkDelayMs", "cutAfterChunks", "hang"]);

/** Faults checked one by one: the list, or what is wrong with it. */
export function checkFaults(v: unknown): Fault[] | string {
  if (!Array.isArray(v)) return "faults must be a JSON array";
  const out: Fault[] = [];
  for (const [i, f] of v.entries()) {
    const bad = (m: string) => `fault ${i}: ${m}`;
    if (typeof f !== "object" || f === null || Array.isArray(f)) return bad("must be an object");
    const o = f as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!FAULT_KEYS.has(k)) return bad(`unknown field "${k}"`);
    const int = (k: string, min: number, max: number) =>
      o[k] === undefined || (Number.isSafeInteger(o[k]) && (o[k] as number) >= min && (o[k] as number) <= max);
    if (!int("status", 200, 599)) return bad(`"status" must be an HTTP status from 200 to 599`);
    if (!int("delayMs", 0, MAX_WAIT_MS) || !int("chunkDelayMs", 0, MAX_WAIT_MS)) return bad(`delays must be whole milliseconds up to ${MAX_WAIT_MS}`);
    if (!int("cutAfterChunks", 0, Number.MAX_SAFE_INTEGER)) return bad(`"cutAfterChunks" must be a whole number`);
    // it goes out as a header: printable ASCII only
    if (o.retryAfter !== undefined && (typeof o.retryAfter !== "string" || !/^[\x20-\x7e]+$/.test(o.retryAfter)))
      return bad(`"retryAfter" must be a header value`);
    if (o.body !== undefined && typeof o.body !== "string") return bad(`"body" must be a string`);
    if (o.hang !== undefined && typeof o.hang !== "boolean") return bad(`"hang" must be true or false`);
    out.push({ ...(o as Fault) });
  }
  return out;
}

type Req = Http2ServerRequest | IncomingMessage;
/** what is used of a response, the same for HTTP/2 and HTTP/1.1 */
interface Res extends NodeJS.EventEmitter {
  readonly writableEnded: boolean;
  writeHead(status: number, headers: Record<string, string>): unknown;
  write(chunk: string, cb: () => void): boolean;
  // in both at run time, though @types/node leaves it out of Http2ServerResponse
  flushHeaders?(): void;
  end(): unknown;
}

const isH2 = (req: Req): req is Http2ServerRequest => req.httpVersionMajor === 2;
/** Resolves on the event; never rejects (events.once rejects on "error", which would go unhandled here). */
const when = (e: NodeJS.EventEmitter, name: string): Promise<void> => new Promise((resolve) => e.once(name, () => resolve()));
/** the answer can no longer reach the peer, or was already given */
const gone = (req: Req, res: Res): boolean => res.writableEnded || (isH2(req) ? req.stream.destroyed || req.stream.closed : req.socket.destroyed);

export async function startEcho(o: EchoOptions): Promise<EchoServer> {
  const format = FORMATS[o.format];
  if (!format) throw new Error(`unknown echo format ${String(o.format)}`);
  let faults: Fault[] = [];
  const counts: EchoStats = { sessions: 0, requests: 0, maxConcurrentStreams: 0, aborted: 0 };
  /** requests in flight, per connection (an HTTP/2 session, or an HTTP/1.1 socket) */
  const inFlight = new Map<Http2Session | Socket, number>();
  const sockets = new Set<Socket>();
  const life = new AbortController();
  // every pending delay listens on it: a busy server has far more than the default warning's 10
  setMaxListeners(0, life.signal);

  const setFaults = (f: Fault[]) => {
    const checked = checkFaults(f);
    if (typeof checked === "string") throw new Error(checked);
    faults = checked;
  };

  const server = http2.createSecureServer({ key: o.cert.key, cert: o.cert.cert, allowHTTP1: true });
  // every connection from its first byte, so close() also ends the ones that never finish a handshake
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
  });
  server.on("secureConnection", (s: TLSSocket) => {
    counts.sessions++;
    s.on("error", () => {});
  });
  // peers that break TLS or HTTP/2 only lose their own connection
  server.on("tlsClientError", () => {});
  server.on("sessionError", () => {});
  server.on("session", (s: Http2Session) => s.on("error", () => {}));
  server.on("request", (req: Req, res: Http2ServerResponse | ServerResponse) => {
    req.on("error", () => {});
    res.on("error", () => {});
    handle(req, res).catch(() => {
      // a bug, or a value that cannot be answered (JSON too deep to print): a 500 while one can still be sent
      if (res.headersSent || gone(req, res)) abandon(req);
      else send(req, res, format.error(500), {}).catch(() => abandon(req));
    });
  });

  async function handle(req: Req, res: Res): Promise<void> {
    const raw = req.url ?? "/";
    const q = raw.indexOf("?");
    const head: RequestHead = {
      method: req.method ?? "GET",
      path: q < 0 ? raw : raw.slice(0, q),
      query: new URLSearchParams(q < 0 ? "" : raw.slice(q + 1)),
      headers: req.headers,
    };
    if (head.path.startsWith("/_echo/")) return admin(req, res, head);

    counts.requests++;
    const conn = isH2(req) ? req.stream.session : req.socket;
    if (conn) {
      const n = (inFlight.get(conn) ?? 0) + 1;
      inFlight.set(conn, n);
      counts.maxConcurrentStreams = Math.max(counts.maxConcurrentStreams, n);
      res.once("close", () => {
        if (!res.writableEnded) counts.aborted++;
        const left = (inFlight.get(conn) ?? 1) - 1;
        if (left > 0) inFlight.set(conn, left);
        else inFlight.delete(conn);
      });
    }

    const route = format.route(head);
    // taken on arrival, so concurrent requests get the faults in the order they came
    const fault = route.kind === "generate" ? faults.shift() : undefined;
    const body = await readBody(req);
    if (body === "gone") return;
    if (body === "too large") return send(req, res, format.error(413), {}, true);
    if (fault?.delayMs) await sleep(fault.delayMs, undefined, { signal: life.signal });
    if (fault?.hang) {
      if (!gone(req, res)) await when(res, "close");
      return;
    }
    const sending = { chunkDelayMs: fault?.chunkDelayMs ?? o.chunkDelayMs, cutAfterChunks: fault?.cutAfterChunks };
    if (fault && (fault.status !== undefined || fault.body !== undefined)) {
      const status = fault.status ?? 200;
      const reply: Reply =
        fault.body !== undefined ? { status, headers: { "content-type": "application/json" }, chunks: [fault.body], stream: false } : format.error(status);
      const retryAfter = fault.retryAfter ?? (status === 429 ? "1" : undefined);
      if (retryAfter !== undefined) reply.headers["retry-after"] = retryAfter;
      return send(req, res, reply, sending);
    }
    if (route.kind === "reply") return send(req, res, route.reply, sending);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch {
      return send(req, res, format.badJson(), sending);
    }
    return send(req, res, route.answer(parsed), sending);
  }

  async function admin(req: Req, res: Res, head: RequestHead): Promise<void> {
    const body = await readBody(req);
    if (body === "gone") return;
    const json = (status: number, v: unknown): Reply => ({
      status,
      headers: { "content-type": "application/json" },
      chunks: [JSON.stringify(v)],
      stream: false,
    });
    if (body === "too large") return send(req, res, json(413, { error: "body too large" }), {}, true);
    if (head.method === "GET" && head.path === "/_echo/stats") return send(req, res, json(200, { ...counts }), {});
    if (head.method === "POST" && head.path === "/_echo/faults") {
      let v: unknown;
      try {
        v = JSON.parse(body.toString("utf8"));
      } catch {
        return send(req, res, json(400, { error: "the body is not JSON" }), {});
      }
      const checked = checkFaults(v);
      if (typeof checked === "string") return send(req, res, json(400, { error: checked }), {});
      faults = checked;
      return send(req, res, json(200, { faults: checked.length }), {});
    }
    return send(req, res, json(404, { error: `no admin endpoint ${head.method} ${head.path}` }), {});
  }

  /** The whole body, unless it passes MAX_BODY_BYTES or the peer goes away first. */
  async function readBody(req: Req): Promise<Buffer | "too large" | "gone"> {
    const declared = Number(req.headers["content-length"]);
    if (declared > MAX_BODY_BYTES) return "too large";
    return new Promise((resolve) => {
      const parts: Buffer[] = [];
      let size = 0;
      const done = (v: Buffer | "too large" | "gone") => {
        req.off("data", onData);
        req.off("end", onEnd);
        req.off("close", onClose);
        resolve(v);
      };
      const onData = (b: Buffer) => {
        size += b.length;
        if (size > MAX_BODY_BYTES) {
          req.pause();
          done("too large");
        } else parts.push(b);
      };
      const onEnd = () => done(Buffer.concat(parts));
      const onClose = () => done("gone");
      req.on("data", onData);
      req.on("end", onEnd);
      req.on("close", onClose);
    });
  }

  /** Send a reply, spacing its chunks, or cutting it short (a fault's `cutAfterChunks`). */
  async function send(req: Req, res: Res, reply: Reply, how: { chunkDelayMs?: number; cutAfterChunks?: number }, unreadBody = false): Promise<void> {
    if (gone(req, res)) return;
    const cut = how.cutAfterChunks;
    const headers: Record<string, string> = { ...reply.headers };
    let chunks = reply.chunks;
    // statuses that carry no body (HTTP/2 refuses to send one)
    if (reply.status === 204 || reply.status === 205 || reply.status === 304) chunks = [];
    else if (!reply.stream && cut === undefined) {
      const whole = [...chunks].join("");
      headers["content-length"] = String(Buffer.byteLength(whole));
      chunks = [whole];
    }
    // the rest of a refused body stays unread: an HTTP/1.1 connection cannot carry on after it
    if (unreadBody && !isH2(req)) headers.connection = "close";
    res.writeHead(reply.status, headers);
    let sent = 0;
    let flushed: Promise<unknown> = Promise.resolve();
    const closed = when(res, "close");
    for (const chunk of chunks) {
      if (cut !== undefined && sent >= cut) break;
      if (sent > 0 && how.chunkDelayMs) await sleep(how.chunkDelayMs, undefined, { signal: life.signal });
      if (gone(req, res)) return;
      let more = true;
      flushed = Promise.race([new Promise<void>((resolve) => (more = res.write(chunk, () => resolve()))), closed]);
      sent++;
      if (!more) await Promise.race([when(res, "drain"), closed]);
    }
    if (cut !== undefined) {
      if (sent === 0) res.flushHeaders?.();
      await flushed;
      // no clean end: the stream (HTTP/2) or the connection (HTTP/1.1) is torn down
      setImmediate(() => abandon(req));
      return;
    }
    res.end();
    if (unreadBody && isH2(req)) res.once("finish", () => req.stream.close(http2.constants.NGHTTP2_NO_ERROR));
  }

  /** End a request without an answer: reset its HTTP/2 stream, or drop its HTTP/1.1 connection. */
  function abandon(req: Req): void {
    try {
      if (isH2(req)) {
        if (!req.stream.destroyed) req.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      } else req.socket.destroy();
    } catch {
      // already gone
    }
  }

  server.listen(o.port ?? 0, o.host ?? "127.0.0.1");
  await Promise.race([
    once(server, "listening"),
    once(server, "error").then(([e]) => {
      throw e;
    }),
  ]);
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  const host = o.host ?? "127.0.0.1";
  let closing: Promise<void> | undefined;
  return {
    url: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    stats: () => ({ ...counts }),
    setFaults,
    close: () => {
      closing ??= (async () => {
        life.abort();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const s of sockets) s.destroy();
        await closed;
      })();
      return closing;
    },
  };
}
