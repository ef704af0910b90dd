// The HTTP layer every HTTP transport shares: one route table (path →
// protocol and method handlers), the Origin allowlist and CORS, request
// bodies with a size limit, and complete responses that are safe to write
// after the client went away. Provider endpoints and A2A add routes here;
// the transports stay as they are.
import type { HttpRequest, HttpResponse, TemplatedApp } from "uWebSockets.js";
import type { ErrorKind, Protocol } from "@radiant/wire";
import { ANONYMOUS_IDENTITY, type Authenticator, type AuthResult, type Identity } from "../auth/authenticator.js";
import { guard } from "../guard.js";
import type { SseStream } from "./sse_stream.js";

export type Method = "get" | "post" | "delete";

/** The body of an error response, in the route's own format; `kind` (default "refused") picks the protocol's error type. */
export type ErrorBody = (message: string, kind?: ErrorKind) => string;

export interface HttpRoute {
  path: string;
  /** the protocol spoken at this path; absent: told from each frame */
  protocol?: Protocol;
  methods: Partial<Record<Method, (x: Exchange, req: HttpRequest) => void>>;
  errorBody: ErrorBody;
  /** what is served without a credential even when one is required (A2A agent cards: how a client learns to authenticate) */
  public?: (method: Method, url: string) => boolean;
  /** the request's `Authorization: Bearer` / `?token=` names its session, not its client (POST /sse/messages of old): no credential is read there */
  bearerIsSession?: (req: HttpRequest) => boolean;
}

/** Request headers a browser may send cross-origin (answered in preflights). */
const ALLOW_HEADERS =
  "Content-Type, Authorization, Accept, Last-Event-ID, Mcp-Session-Id, MCP-Protocol-Version, X-Api-Key, Anthropic-Version, X-Goog-Api-Key, X-Goog-Api-Client, Radiant-Resume-Token, Radiant-Events-Received";
const HEADER_LIST = /^[A-Za-z0-9-]{1,64}(?:\s*,\s*[A-Za-z0-9-]{1,64}){0,63}$/;

/**
 * The headers a preflight allows: those the page asks for, when they are
 * plain header names (the SDKs send their own: x-stainless-*, anthropic-beta,
 * …; the origin is checked already, and none of them is a credential we read),
 * else our fixed list.
 */
export function allowedHeaders(asked: string): string {
  return HEADER_LIST.test(asked) ? asked : ALLOW_HEADERS;
}

/** Response headers a cross-origin page may read. */
const EXPOSE_HEADERS = "Mcp-Session-Id, Location, Radiant-Resume-Token, Retry-After";

/**
 * Which browser origins may call us, on every client path (/ws, /sse, /mcp):
 * the same rule everywhere, so no transport is a way around another's check
 * (DNS rebinding, cross-site pages). A request without an Origin header is not
 * from a browser page and always passes; a page of the gateway's own origin
 * (its Origin names the Host the request was sent to) passes; any other origin
 * must be listed ("*" lets every origin in). `Origin: null` (sandboxed
 * frames, files) is another origin like any.
 */
export class OriginPolicy {
  private readonly any: boolean;
  private readonly allowed: Set<string>;

  constructor(origins: string[]) {
    this.any = origins.includes("*");
    this.allowed = new Set(origins.map((o) => o.toLowerCase()));
  }

  allows(origin: string, host: string): boolean {
    return origin === "" || this.any || this.allowed.has(origin.toLowerCase()) || sameOrigin(origin, host);
  }
}

const DEFAULT_PORTS: Record<string, string> = { "http:": "80", "https:": "443" };

/** Whether a page of `origin` sent this request to its own host (`Host` header, port included). */
export function sameOrigin(origin: string, host: string): boolean {
  if (host === "") return false;
  let o: URL;
  try {
    o = new URL(origin);
  } catch {
    return false;
  }
  const port = DEFAULT_PORTS[o.protocol];
  if (port === undefined || o.pathname !== "/" || o.username !== "" || o.search !== "") return false;
  const h = host.toLowerCase();
  const hostOnly = o.port === "" ? o.hostname : undefined;
  return h === o.host || h === `${o.hostname}:${o.port || port}` || (hostOnly !== undefined && h === hostOnly);
}

/** One request/response. Writes are corked and do nothing once the client is gone or the response ended. */
export class Exchange {
  aborted = false;
  ended = false;
  /** called once if the client goes away before the response ended */
  onAbort: (() => void) | undefined;
  /** who sent the request (set once its credential checked out) */
  who: Identity = ANONYMOUS_IDENTITY;
  /** the event stream this response became, told when its client leaves (a field, not one more closure per stream) */
  stream: SseStream | undefined;

  constructor(
    readonly res: HttpResponse,
    /** the Origin to echo in CORS headers, "" for none */
    readonly origin: string,
    readonly errorBody: ErrorBody,
  ) {
    res.onAborted(() => {
      this.aborted = true;
      this.onAbort?.();
      this.stream?.gone();
    });
  }

  get open(): boolean {
    return !this.aborted && !this.ended;
  }

  /** CORS headers, if the request came from an allowed browser origin (call inside a cork). */
  writeCors(): void {
    if (this.origin === "") return;
    this.res.writeHeader("Access-Control-Allow-Origin", this.origin);
    this.res.writeHeader("Vary", "Origin");
    this.res.writeHeader("Access-Control-Expose-Headers", EXPOSE_HEADERS);
  }

  /**
   * A complete response. `close`: the connection ends too (a body left
   * unread, a request whose framing cannot be trusted). This uWS build keeps
   * the connection — and parses whatever the client pipelined after the
   * request — when a response ends with close inside the request's own
   * callback; ended a moment later it does close, and a request pipelined
   * meanwhile makes it drop the connection instead of running it.
   */
  reply(status: string, body: string | Uint8Array, o: { type?: string; headers?: [string, string][]; close?: boolean; deferred?: boolean } = {}): void {
    if (!this.open) return;
    if (o.close && !o.deferred) {
      setImmediate(() => this.reply(status, body, { ...o, deferred: true }));
      return;
    }
    this.ended = true;
    this.res.cork(() => {
      this.res.writeStatus(status);
      this.writeCors();
      for (const [k, v] of o.headers ?? []) this.res.writeHeader(k, v);
      if (body.length > 0) this.res.writeHeader("Content-Type", o.type ?? "application/json");
      this.res.end(body, o.close ?? false);
    });
  }

  /** An error with the route's error body. */
  fail(status: string, message: string, o: { headers?: [string, string][]; close?: boolean; kind?: ErrorKind } = {}): void {
    this.reply(status, this.errorBody(message, o.kind), o);
  }

  /** A refused credential: 401 (or 503 while keys load) in the route's own format. */
  refuseAuth(r: AuthResult & { ok: false }, close = false): void {
    const unavailable = r.status.startsWith("503");
    this.fail(r.status, unavailable ? `Service Unavailable: ${r.reason}` : `Unauthorized: ${r.reason}`, {
      kind: unavailable ? "unavailable" : "unauthenticated",
      headers: [authRefusalHeader(r)],
      close,
    });
  }

  /**
   * Read the whole body; undefined when it is over `limit` (answered 413
   * here), too slow (408), or the client left.
   */
  body(limit: number, declared: string): Promise<Buffer | undefined> {
    const tooBig = () => this.fail("413 Payload Too Large", `Payload Too Large: the limit is ${limit} bytes`, { close: true });
    if (declared !== "" && Number(declared) > limit) {
      tooBig();
      return Promise.resolve(undefined);
    }
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const abort = this.onAbort;
      const upload: Upload = {
        deadline: Date.now() + UPLOAD_WINDOW_MS,
        sinceReset: 0,
        expire: () => {
          size = -1;
          this.fail("408 Request Timeout", `Request Timeout: a request body must arrive at ${UPLOAD_MIN_RATE / 1024} KiB/s or faster`, { close: true });
          resolve(undefined);
        },
      };
      uploads.add(upload);
      this.onAbort = () => {
        uploads.delete(upload);
        resolve(undefined);
        abort?.();
      };
      this.res.onData((chunk, last) => {
        if (size < 0) return;
        size += chunk.byteLength;
        upload.sinceReset += chunk.byteLength;
        if (upload.sinceReset >= UPLOAD_MIN_RATE * (UPLOAD_WINDOW_MS / 1000 + 1)) {
          upload.sinceReset = 0;
          upload.deadline = Date.now() + UPLOAD_WINDOW_MS;
        }
        if (size > limit) {
          size = -1;
          uploads.delete(upload);
          tooBig();
          resolve(undefined);
          return;
        }
        // the chunk's memory is uWS's and reused after this call: copy it
        chunks.push(Buffer.copyBytesFrom(new Uint8Array(chunk)));
        if (last) {
          uploads.delete(upload);
          this.onAbort = abort;
          resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
        }
      });
    });
  }
}

// uWS (this build) cuts an upload without a word when less than 16 KiB/s
// arrived over its 10-second HTTP timeout: its guard against slow-loris
// uploads. We keep the same books and answer 408 a moment before it does.
const UPLOAD_MIN_RATE = 16 * 1024;
const UPLOAD_WINDOW_MS = 9000;

interface Upload {
  deadline: number;
  sinceReset: number;
  expire: () => void;
}
const uploads = new Set<Upload>();
setInterval(() => {
  const now = Date.now();
  for (const u of uploads) {
    if (u.deadline > now) continue;
    uploads.delete(u);
    u.expire();
  }
}, 250).unref();

/**
 * Why a request's framing cannot be trusted, if it cannot: Content-Length
 * given twice with different values (RFC 9112 §6.3: the body's end would be a
 * guess, and what follows it could run as a second, smuggled request), or not
 * a number. uWS itself refuses Content-Length together with Transfer-Encoding.
 */
export function framingFault(req: HttpRequest): string | undefined {
  let length: string | undefined;
  let fault: string | undefined;
  req.forEach((k, v) => {
    if (fault !== undefined || k !== "content-length") return;
    const value = v.trim();
    if (!/^\d{1,15}$/.test(value)) fault = "Bad Request: Content-Length is not a number";
    else if (length !== undefined && length !== value) fault = "Bad Request: Content-Length given twice with different values";
    length = value;
  });
  return fault;
}

/** Whether an Accept header lists a media type (or a wildcard covering it). */
export function accepts(accept: string, type: string): boolean {
  if (accept === "") return false;
  const [major] = type.split("/");
  return accept.split(",").some((part) => {
    const t = part.split(";")[0]!.trim().toLowerCase();
    return t === type || t === "*/*" || t === `${major}/*`;
  });
}

/** Whether a Content-Type header is JSON (parameters such as charset allowed). */
export function isJson(contentType: string): boolean {
  return contentType.split(";")[0]!.trim().toLowerCase() === "application/json";
}

/** what a 401 asks for (RFC 6750) */
export const AUTHENTICATE = 'Bearer realm="radiant"';

/** The header a refused credential is answered with: what to authenticate with (401), or when to come back (503). */
export const authRefusalHeader = (r: AuthResult & { ok: false }): [string, string] =>
  r.status.startsWith("503") ? ["Retry-After", "1"] : ["WWW-Authenticate", AUTHENTICATE];

/** A uWS request as the authenticator reads it (synchronously, inside the handler). */
export const authRequest = (res: HttpResponse, req: HttpRequest) => ({
  header: (h: string) => req.getHeader(h),
  query: (q: string) => req.getQuery(q) ?? "",
  peer: () => Buffer.from(res.getRemoteAddressAsText()).toString(),
});

export function mountHttp(app: TemplatedApp, routes: HttpRoute[], origins: OriginPolicy, auth: Authenticator): void {
  for (const route of routes) {
    const allow = Object.keys(route.methods)
      .map((m) => m.toUpperCase())
      .join(", ");
    app.any(
      route.path,
      guard(
        `http ${route.path}`,
        (res: HttpResponse, req: HttpRequest) => {
          const origin = req.getHeader("origin");
          const method = req.getMethod().toLowerCase();
          if (!origins.allows(origin, req.getHeader("host"))) {
            const x = new Exchange(res, "", route.errorBody);
            x.fail("403 Forbidden", `Forbidden: origin ${JSON.stringify(origin)} is not allowed (GATEWAY_ALLOWED_ORIGINS)`);
            return;
          }
          const x = new Exchange(res, origin, route.errorBody);
          if (method === "options") {
            x.reply("204 No Content", "", {
              headers: [
                ["Access-Control-Allow-Methods", `${allow}, OPTIONS`],
                ["Access-Control-Allow-Headers", allowedHeaders(req.getHeader("access-control-request-headers"))],
                ["Access-Control-Max-Age", "600"],
              ],
            });
            return;
          }
          const handle = route.methods[method as Method];
          if (!handle) {
            x.fail("405 Method Not Allowed", `Method Not Allowed: ${route.path} takes ${allow}`, { headers: [["Allow", allow]] });
            return;
          }
          const bad = method === "get" ? undefined : framingFault(req);
          if (bad !== undefined) {
            x.fail("400 Bad Request", bad, { close: true });
            return;
          }
          if (!route.public?.(method as Method, req.getUrl())) {
            const src = authRequest(res, req);
            const bearerIsSession = route.bearerIsSession?.(req) === true;
            if (bearerIsSession) {
              src.header = (h) => (h === "authorization" ? "" : req.getHeader(h));
              src.query = (q) => (q === "token" ? "" : (req.getQuery(q) ?? ""));
            }
            const a = auth.authenticate(src);
            if (!a.ok) {
              const why =
                bearerIsSession && a.code === "missing"
                  ? { ...a, reason: `${a.reason}; here Authorization and ?token= name the session: name it with Radiant-Resume-Token (or ?resume=) instead` }
                  : a;
              // a body left unread: the connection goes with the answer
              x.refuseAuth(why, method !== "get");
              return;
            }
            x.who = a.who;
          }
          handle(x, req);
        },
        (res) => res.cork(() => res.writeStatus("500 Internal Server Error").end(route.errorBody("Internal error"), true)),
      ),
    );
  }
}
