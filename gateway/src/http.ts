// The HTTP layer every HTTP transport shares: one route table (path →
// protocol and method handlers), the Origin allowlist and CORS, request
// bodies with a size limit, and complete responses that are safe to write
// after the client went away. Provider endpoints and A2A add routes here;
// the transports stay as they are.
import type { HttpRequest, HttpResponse, TemplatedApp } from "uWebSockets.js";
import type { Protocol } from "@radiant/infra/wire";

export type Method = "get" | "post" | "delete";

/** The body of an error response, in the route's own format. */
export type ErrorBody = (message: string) => string;

export interface HttpRoute {
  path: string;
  /** the protocol spoken at this path; absent: told from each frame */
  protocol?: Protocol;
  methods: Partial<Record<Method, (x: Exchange, req: HttpRequest) => void>>;
  errorBody: ErrorBody;
}

/** Request headers a browser may send cross-origin (answered in preflights). */
const ALLOW_HEADERS = "Content-Type, Authorization, Accept, Last-Event-ID, Mcp-Session-Id, MCP-Protocol-Version";
/** Response headers a cross-origin page may read. */
const EXPOSE_HEADERS = "Mcp-Session-Id, Location";

/**
 * Which browser origins may call us. A request without an Origin header is
 * not from a browser page and is always let through; one with an Origin must
 * be on the list ("*" lets every origin in). Listed origins get CORS headers.
 */
export class OriginPolicy {
  private readonly any: boolean;
  private readonly allowed: Set<string>;

  constructor(origins: string[]) {
    this.any = origins.includes("*");
    this.allowed = new Set(origins);
  }

  allows(origin: string): boolean {
    return origin === "" || this.any || this.allowed.has(origin);
  }
}

/** One request/response. Writes are corked and do nothing once the client is gone or the response ended. */
export class Exchange {
  aborted = false;
  ended = false;
  /** called once if the client goes away before the response ended */
  onAbort: (() => void) | undefined;

  constructor(
    readonly res: HttpResponse,
    /** the Origin to echo in CORS headers, "" for none */
    readonly origin: string,
    readonly errorBody: ErrorBody,
  ) {
    res.onAborted(() => {
      this.aborted = true;
      this.onAbort?.();
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

  /** A complete response. `close`: the connection ends too (a body left unread). */
  reply(status: string, body: string, o: { type?: string; headers?: [string, string][]; close?: boolean } = {}): void {
    if (!this.open) return;
    this.ended = true;
    this.res.cork(() => {
      this.res.writeStatus(status);
      this.writeCors();
      for (const [k, v] of o.headers ?? []) this.res.writeHeader(k, v);
      if (body !== "") this.res.writeHeader("Content-Type", o.type ?? "application/json");
      this.res.end(body, o.close ?? false);
    });
  }

  /** An error with the route's error body. */
  fail(status: string, message: string, o: { headers?: [string, string][]; close?: boolean } = {}): void {
    this.reply(status, this.errorBody(message), o);
  }

  /** Read the whole body; undefined when it is over `limit` (answered 413 here) or the client left. */
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
      this.onAbort = () => {
        resolve(undefined);
        abort?.();
      };
      this.res.onData((chunk, last) => {
        if (size < 0) return;
        size += chunk.byteLength;
        if (size > limit) {
          size = -1;
          tooBig();
          resolve(undefined);
          return;
        }
        // the chunk's memory is uWS's and reused after this call: copy it
        chunks.push(Buffer.copyBytesFrom(new Uint8Array(chunk)));
        if (last) {
          this.onAbort = abort;
          resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
        }
      });
    });
  }
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

export function mountHttp(app: TemplatedApp, routes: HttpRoute[], origins: OriginPolicy): void {
  for (const route of routes) {
    const allow = Object.keys(route.methods)
      .map((m) => m.toUpperCase())
      .join(", ");
    app.any(route.path, (res, req) => {
      const origin = req.getHeader("origin");
      const method = req.getMethod().toLowerCase();
      if (!origins.allows(origin)) {
        const x = new Exchange(res, "", route.errorBody);
        x.fail("403 Forbidden", `Forbidden: origin ${JSON.stringify(origin)} is not allowed (GATEWAY_ALLOWED_ORIGINS)`);
        return;
      }
      const x = new Exchange(res, origin, route.errorBody);
      if (method === "options") {
        x.reply("204 No Content", "", {
          headers: [
            ["Access-Control-Allow-Methods", `${allow}, OPTIONS`],
            ["Access-Control-Allow-Headers", ALLOW_HEADERS],
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
      handle(x, req);
    });
  }
}
