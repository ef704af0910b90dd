// Calling AI providers through the egress proxy: the proxy holds the keys and
// the HTTP/2 pools (egress-proxy/README.md); a worker keeps a few keep-alive
// connections to it and names the model on every call.
import type { Readable } from "node:stream";
import { Pool } from "undici";
import { WEBHOOK_PATH, WEBHOOK_URL_HEADER } from "@radiant/infra/egress-contract";

export interface UpstreamCall {
  /** the path (and query) to append to the model's base URL */
  path: string;
  method: "GET" | "POST";
  /** the model name the client asked for (the proxy resolves it again: base URL, key) */
  model: string;
  /** the request id, carried upstream for tracing */
  rid: string;
  body?: string;
  headers?: Record<string, string>;
  signal: AbortSignal;
}

export interface UpstreamAnswer {
  status: number;
  /** lower-case names */
  header(name: string): string | undefined;
  body: Readable;
}

/** The proxy's own refusals, named by its `radiant-error` header. */
export type ProxyError = "unknown-model" | "missing-key" | "bad-path" | "forbidden-call" | "circuit-open" | "upstream-unreachable" | "timeout";

export class EgressClient {
  private readonly pool: Pool;

  /** `connections`: as many as requests the worker runs at once (one call each; a stream holds its connection) */
  constructor(proxyUrl: string, connections: number) {
    // no timeouts here: the proxy enforces connect, first-byte and total ones, and the worker its handler timeout
    this.pool = new Pool(new URL(proxyUrl).origin, { connections, keepAliveTimeout: 30_000, pipelining: 1, headersTimeout: 0, bodyTimeout: 0 });
  }

  async call(c: UpstreamCall): Promise<UpstreamAnswer> {
    const headers: Record<string, string> = {
      ...c.headers,
      "radiant-model": c.model,
      "radiant-request-id": c.rid,
      accept: "application/json, text/event-stream",
    };
    if (c.body !== undefined) headers["content-type"] = "application/json";
    const r = await this.pool.request({ path: c.path, method: c.method, headers, body: c.body, signal: c.signal });
    return {
      status: r.statusCode,
      header(name) {
        const v = r.headers[name];
        return Array.isArray(v) ? v[0] : v;
      },
      body: r.body,
    };
  }

  /** POST a body to a webhook through the proxy; the webhook's status (0: unreachable; 403: the proxy refused the URL). */
  async webhook(url: string, headers: Record<string, string>, body: string): Promise<number> {
    const r = await this.pool.request({ path: WEBHOOK_PATH, method: "POST", headers: { ...headers, [WEBHOOK_URL_HEADER]: url }, body });
    const text = await readText(r.body, 64 * 1024);
    if (r.statusCode !== 200) return r.statusCode;
    try {
      const status = (JSON.parse(text) as { status?: unknown }).status;
      return typeof status === "number" ? status : 0;
    } catch {
      return 0;
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** Read a (small) body whole: an error answer. Bounded: a huge error body is cut, not held. */
export async function readText(body: Readable, max = 1024 * 1024): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const b = chunk as Buffer;
    if (size + b.length > max) {
      parts.push(b.subarray(0, max - size));
      body.destroy();
      break;
    }
    parts.push(b);
    size += b.length;
  }
  return Buffer.concat(parts).toString("utf8");
}
