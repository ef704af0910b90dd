// The egress proxy's server: every outbound call to an AI provider passes
// here. It resolves the model to an upstream, adds the key, sends the request
// over the origin's pool with retries, a circuit breaker and timeouts, and
// streams the answer back as it comes.
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from "node:http";
import { pipeline } from "node:stream";
import type { AddressInfo } from "node:net";
import { LazyLog, type Logger } from "@radiant/infra/log";
import type { ModelTable } from "@radiant/infra/models";
import type { Dispatcher, Pool } from "undici";
import { Breaker, type Permit } from "./breaker.js";
import type { EgressConfig } from "./config.js";
import { postWebhook, refusedWebhook, WEBHOOK_PATH, WEBHOOK_URL_HEADER } from "./webhook.js";
import { allowedCall, badPath, requestIdOf, upstreamHeaders, upstreamPath, workerHeaders } from "./forwarding.js";
import { createMetrics, type EgressMetrics } from "./metrics.js";
import { OriginHealth } from "./origin.js";
import { Pools } from "./pools.js";
import { classifyError, decide, errorCode, type FailureKind, isRetryableStatus, parseRetryAfter, type RetryPolicy } from "./retry.js";

export interface EgressOptions extends EgressConfig {
  models: ModelTable;
  log: Logger;
  /** where provider keys are read, on every request (default: process.env) */
  env?: Record<string, string | undefined>;
  /** the jitter of retry backoff (tests make it predictable) */
  random?: () => number;
}

export interface OriginReport {
  breaker: string;
  connected: number;
  free: number;
  pending: number;
  queued: number;
  running: number;
  requests: number;
  retries: number;
  failures: number;
  ttfb_ms: { p50: number | null; p99: number | null };
}

export interface HealthReport {
  status: "ok";
  upstream_pools: number;
  origins: Record<string, OriginReport>;
}

export interface EgressProxy {
  port: number;
  /** `http://host:port` */
  url: string;
  health(): HealthReport;
  metrics: EgressMetrics;
  /** Stop listening, give exchanges in flight up to `graceMs` to finish, then cut them and close the pools. */
  close(graceMs?: number): Promise<void>;
}

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]);

/** An attempt: an answer (headers in, body to come), a failure without one, or the exchange stopped under it. */
type Attempt =
  | { kind: "response"; data: Dispatcher.ResponseData; ttfbMs: number; abort: () => void; release: () => void }
  | { kind: "failure"; failure: FailureKind; timeoutPhase: "connect" | "first_byte" | undefined; err: unknown }
  | { kind: "stopped" };

type Body = { body: Buffer } | { tooLarge: true } | { gone: true };

const noop = () => {};

/** The request body, whole (it may be sent more than once), up to `max` bytes. */
function readBody(req: IncomingMessage, max: number): Promise<Body> {
  return new Promise((resolve) => {
    const declared = Number(req.headers["content-length"]);
    if (declared > max) {
      // read and drop the rest, so the 413 reaches a worker still writing
      req.resume();
      resolve({ tooLarge: true });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (b: Body) => {
      if (settled) return;
      settled = true;
      req.off("data", onData);
      resolve(b);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > max) {
        chunks.length = 0;
        // still flowing with no listener: the rest is read and dropped
        settle({ tooLarge: true });
      } else {
        chunks.push(c);
      }
    };
    req.on("data", onData);
    req.once("end", () => settle({ body: Buffer.concat(chunks, size) }));
    req.once("error", () => settle({ gone: true }));
    req.once("close", () => settle({ gone: true }));
  });
}

/** Wait `ms`; false when `signal` stopped the wait. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(t);
      resolve(false);
    };
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** A short description of a network error for a message: its code, else its message. */
function describe(err: unknown): string {
  const code = errorCode(err);
  const msg = err instanceof Error ? err.message : String(err);
  return code ? `${code}${msg && !msg.includes(code) ? ` (${msg})` : ""}` : msg || "unknown error";
}

export async function startEgressProxy(o: EgressOptions): Promise<EgressProxy> {
  const env = o.env ?? process.env;
  const random = o.random ?? Math.random;
  const policy: RetryPolicy = { maxAttempts: o.maxAttempts, baseMs: o.retryBaseMs, maxMs: o.retryMaxMs };
  const pools = new Pools({ connections: o.maxConnectionsPerOrigin, connectTimeoutMs: o.connectTimeoutMs, extraCa: o.extraCa });
  const origins = new Map<string, OriginHealth>();
  const metrics = createMetrics(function* () {
    for (const [origin, h] of origins) yield { origin, breaker: h.breakerState, connected: pools.counts(origin)?.connected ?? 0 };
  });
  /** responses in flight, cut on close */
  const active = new Set<ServerResponse>();

  const originOf = (origin: string): OriginHealth => {
    let h = origins.get(origin);
    if (!h) {
      const breaker = new Breaker({
        failures: o.breakerFailures,
        openMs: o.breakerOpenMs,
        onChange: (from, to) => {
          if (to === "open") {
            metrics.breakerOpened.inc({ origin });
            o.log.warn({ origin, from, openMs: o.breakerOpenMs }, "egress circuit opened");
          } else {
            o.log.info({ origin, from, to }, "egress circuit closed");
          }
        },
      });
      h = new OriginHealth(origin, breaker);
      origins.set(origin, h);
    }
    return h;
  };

  function health(): HealthReport {
    const out: Record<string, OriginReport> = {};
    for (const [origin, h] of origins) {
      const c = pools.counts(origin) ?? { connected: 0, free: 0, pending: 0, queued: 0, running: 0 };
      const ms = (v: number | null) => (v === null ? null : Math.round(v * 10) / 10);
      out[origin] = {
        breaker: h.breakerState,
        connected: c.connected,
        free: c.free,
        pending: c.pending,
        queued: c.queued,
        running: c.running,
        requests: h.requests,
        retries: h.retries,
        failures: h.failures,
        ttfb_ms: { p50: ms(h.ttfbMs.quantile(0.5)), p99: ms(h.ttfbMs.quantile(0.99)) },
      };
    }
    return { status: "ok", upstream_pools: pools.size, origins: out };
  }

  /** The proxy's own answer: a status, `radiant-error` and `{"error":{"message"}}`; a response already under way is cut instead. */
  function answerError(res: ServerResponse, status: number, code: string, message: string, requestId: string | undefined, extra: OutgoingHttpHeaders = {}) {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (res.destroyed) return;
    const body = JSON.stringify({ error: { message } });
    res.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      "radiant-error": code,
      ...(requestId !== undefined ? { "radiant-request-id": requestId } : {}),
      ...extra,
    });
    res.end(body);
  }

  /** One attempt over the pool, with its first-byte timer; `stop` (worker gone, total timeout) aborts it, and the body after it. */
  async function attempt(pool: Pool, opts: Dispatcher.RequestOptions, stop: AbortSignal, firstByteMs: number): Promise<Attempt> {
    if (stop.aborted) return { kind: "stopped" };
    const ac = new AbortController();
    const onStop = () => ac.abort();
    stop.addEventListener("abort", onStop, { once: true });
    let firstByteTimedOut = false;
    const timer = setTimeout(() => {
      firstByteTimedOut = true;
      ac.abort();
    }, firstByteMs);
    const t0 = performance.now();
    try {
      const data = await pool.request({ ...opts, signal: ac.signal });
      return {
        kind: "response",
        data,
        ttfbMs: performance.now() - t0,
        abort: () => ac.abort(),
        release: () => stop.removeEventListener("abort", onStop),
      };
    } catch (err) {
      stop.removeEventListener("abort", onStop);
      if (stop.aborted) return { kind: "stopped" };
      if (firstByteTimedOut) return { kind: "failure", failure: "timeout", timeoutPhase: "first_byte", err };
      const failure = classifyError(err);
      return { kind: "failure", failure, timeoutPhase: failure === "timeout" ? "connect" : undefined, err };
    } finally {
      clearTimeout(timer);
    }
  }

  async function forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? "";
    const requestId = requestIdOf(req.headers);
    // a plain (not streamed) answer's head comes when the whole answer is made: it may take as long as the exchange may
    const firstByteMs = req.headers["radiant-stream"] === "0" ? o.totalTimeoutMs : o.firstByteTimeoutMs;
    const fail = (status: number, code: string, message: string, extra?: OutgoingHttpHeaders) => answerError(res, status, code, message, requestId, extra);

    const why = badPath(path);
    if (why) return fail(400, "bad-path", `bad upstream path ${JSON.stringify(path.slice(0, 200))}: ${why}`);
    const method = req.method ?? "";
    if (!METHODS.has(method)) return fail(405, "bad-method", `method ${JSON.stringify(method)} is not forwarded`, { allow: [...METHODS].join(", ") });
    const model = req.headers["radiant-model"];
    if (typeof model !== "string" || model === "") return fail(400, "missing-model", "the radiant-model header is required");
    const route = o.models.resolve(model);
    if (!route) return fail(404, "unknown-model", `unknown model ${JSON.stringify(model.slice(0, 128))}: no entry in the model table`);
    if (!allowedCall(route.format, method, path)) {
      return fail(403, "forbidden-call", `${method} ${path.slice(0, 200)} is not a call this proxy makes for ${route.format} models`);
    }
    let key: string | undefined;
    if (route.keyEnv !== null) {
      key = env[route.keyEnv]?.trim();
      if (!key) return fail(401, "missing-key", `no API key for model ${route.name}: set ${route.keyEnv} in the egress proxy's environment`);
    }
    let base: URL;
    try {
      base = new URL(route.baseUrl);
    } catch {
      return fail(500, "bad-route", `model ${route.name} has a base URL that is not a URL`);
    }
    const origin = base.origin;
    const up = originOf(origin);
    up.requests++;
    const log = new LazyLog(o.log, () => ({ requestId, model: route.name, origin }));
    const count = (status: number | "aborted") => metrics.requests.inc({ origin, status: String(status) });
    const failCounted = (status: number, code: string, message: string, extra?: OutgoingHttpHeaders) => {
      count(status);
      fail(status, code, message, extra);
    };
    const circuitOpen = (retryAfterMs: number) => {
      const s = Math.max(1, Math.ceil(retryAfterMs / 1000));
      failCounted(503, "circuit-open", `${origin} is failing: its circuit is open, try again in ${s} s`, { "retry-after": String(s) });
    };

    // an open circuit refuses at once, without waiting for the body
    if (up.breaker.state() === "open") {
      const p = up.breaker.acquire();
      return circuitOpen(p.ok ? 0 : p.retryAfterMs);
    }

    const read = await readBody(req, o.maxBodyBytes);
    if ("gone" in read) return count("aborted");
    if ("tooLarge" in read) {
      return failCounted(413, "body-too-large", `request body for ${origin} is over ${o.maxBodyBytes} bytes (EGRESS_MAX_BODY_BYTES)`, { connection: "close" });
    }

    const opts: Dispatcher.RequestOptions = {
      path: upstreamPath(base, path),
      method: method as Dispatcher.HttpMethod,
      headers: upstreamHeaders(req.headers, { format: route.format, key, requestId }),
      body: read.body.length > 0 || (method !== "GET" && method !== "HEAD") ? read.body : null,
      // every attempt is one we chose to make: this lets undici multiplex POSTs on an HTTP/2 connection
      idempotent: true,
      headersTimeout: 0,
      bodyTimeout: 0,
    };

    const deadline = Date.now() + o.totalTimeoutMs;
    const stop = new AbortController();
    let totalTimedOut = false;
    const totalTimer = setTimeout(() => {
      totalTimedOut = true;
      metrics.timeouts.inc({ origin, phase: "total" });
      stop.abort();
    }, o.totalTimeoutMs);
    const onClose = () => {
      if (!res.writableFinished) stop.abort();
    };
    res.once("close", onClose);
    active.add(res);
    const finish = () => {
      clearTimeout(totalTimer);
      res.off("close", onClose);
      active.delete(res);
    };

    const retry = async (reason: string, delayMs: number): Promise<boolean> => {
      up.retries++;
      metrics.retries.inc({ origin, reason });
      log.debug({ reason, delayMs }, "egress retrying");
      return sleep(delayMs, stop.signal);
    };
    const stopped = (permit: Permit | undefined) => {
      if (totalTimedOut) {
        if (permit) {
          up.failures++;
          up.breaker.failed(permit);
        }
        failCounted(504, "timeout", `the exchange with ${origin} took over ${o.totalTimeoutMs} ms (EGRESS_TOTAL_TIMEOUT_MS)`);
      } else {
        if (permit) up.breaker.abandoned(permit);
        count("aborted");
        log.debug({}, "egress worker went away before the answer");
      }
      finish();
    };

    for (let n = 1; ; n++) {
      const permit = up.breaker.acquire();
      if (!permit.ok) {
        finish();
        return circuitOpen(permit.retryAfterMs);
      }
      if (permit.probe) log.info({}, "egress circuit half-open: probing");
      const a = await attempt(pool(origin), opts, stop.signal, firstByteMs);
      if (a.kind === "stopped") return stopped(permit);

      if (a.kind === "failure") {
        if (a.failure === "invalid") {
          up.breaker.abandoned(permit);
          finish();
          return failCounted(400, "bad-request", `the request cannot be sent to ${origin}: ${describe(a.err)}`);
        }
        up.failures++;
        up.breaker.failed(permit);
        if (a.timeoutPhase) metrics.timeouts.inc({ origin, phase: a.timeoutPhase });
        log.warn({ attempt: n, failure: a.failure, err: describe(a.err) }, "egress attempt failed");
        // no head in time: the upstream took the request and may still be working on it (and billing it): never sent twice
        const v =
          a.timeoutPhase === "first_byte"
            ? { retry: false as const }
            : decide(policy, { attempt: n, outcome: { failure: a.failure }, remainingMs: deadline - Date.now() }, random);
        if (v.retry && up.breaker.state() === "closed") {
          if (await retry(a.failure, v.delayMs)) continue;
          return stopped(undefined);
        }
        finish();
        if (a.timeoutPhase === "first_byte") {
          return failCounted(504, "timeout", `${origin} sent no response headers within ${firstByteMs} ms (${n} attempt${n > 1 ? "s" : ""})`);
        }
        if (a.timeoutPhase === "connect") {
          return failCounted(504, "timeout", `connecting to ${origin} took over ${o.connectTimeoutMs} ms (${n} attempt${n > 1 ? "s" : ""})`);
        }
        return failCounted(502, "upstream-unreachable", `cannot reach ${origin}: ${describe(a.err)} (${n} attempt${n > 1 ? "s" : ""})`);
      }

      const { statusCode: status, headers, body } = a.data;
      up.ttfbMs.add(a.ttfbMs);
      metrics.ttfb.observe({ origin }, a.ttfbMs / 1000);
      // a 5xx is the origin's trouble; a 429 is the caller's rate, and says the origin is up
      if (status >= 500) {
        up.failures++;
        up.breaker.failed(permit);
      } else {
        up.breaker.succeeded(permit);
      }
      if (isRetryableStatus(status)) {
        const asked = parseRetryAfter(headers);
        const v = decide(policy, { attempt: n, outcome: { status, retryAfterMs: asked }, remainingMs: deadline - Date.now() }, random);
        if (v.retry && up.breaker.state() === "closed") {
          a.release();
          // read a little of the answer to keep an HTTP/1.1 connection usable; past that, drop it
          body.dump({ limit: 64 * 1024 }).catch(noop);
          if (await retry(String(status), v.delayMs)) continue;
          return stopped(undefined);
        }
        if (!v.retry) log.debug({ status, why: v.why }, "egress not retrying");
      }
      return relay(a, status, workerHeaders(headers, requestId));
    }

    /** Send the answer on as it comes; a cut upstream cuts the worker's response too. */
    function relay(a: Extract<Attempt, { kind: "response" }>, status: number, out: OutgoingHttpHeaders): void {
      const body = a.data.body;
      try {
        res.writeHead(status, out);
        // the worker gets the headers now, not with the first body chunk: an SSE stream may wait long for it
        res.flushHeaders();
      } catch (err) {
        a.abort();
        a.release();
        body.on("error", noop).destroy();
        finish();
        return failCounted(502, "bad-upstream-response", `${origin} answered what cannot be passed on: ${describe(err)}`);
      }
      count(status);
      let upstreamError: unknown;
      body.once("error", (err) => {
        if (!stop.signal.aborted) upstreamError = err;
      });
      pipeline(body, res, (err) => {
        a.release();
        finish();
        if (!err) return;
        if (totalTimedOut) {
          log.warn({ totalTimeoutMs: o.totalTimeoutMs }, "egress total timeout: response cut");
        } else if (upstreamError !== undefined) {
          up.failures++;
          up.breaker.failed({ ok: true, probe: false });
          log.warn({ err: describe(upstreamError) }, "egress upstream cut the response");
        } else {
          log.debug({}, "egress worker went away mid-response");
        }
        // never a clean end: the worker must see the stream was cut
        res.destroy();
      });
    }
  }

  const pool = (origin: string) => pools.get(origin);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? "";
    if (req.method === "GET" && url === "/health") {
      const body = JSON.stringify(health());
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
      return;
    }
    if (req.method === "GET" && url === "/metrics") {
      const text = await metrics.registry.metrics();
      res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text);
      return;
    }
    if (req.method === "POST" && url === WEBHOOK_PATH) return webhook(req, res);
    await forward(req, res);
  }

  /** A push notification: the body to the URL the worker names, if it is one the proxy calls; its status back. */
  async function webhook(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = String(req.headers[WEBHOOK_URL_HEADER] ?? "");
    const refused = await refusedWebhook(target, o.webhookPrivate);
    if (refused) return answerError(res, 403, "forbidden-webhook", `webhook ${target.slice(0, 200)} refused: ${refused}`, requestIdOf(req.headers));
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const headers: Record<string, string> = {};
    for (const h of ["content-type", "authorization", "x-a2a-notification-token"]) {
      const v = req.headers[h];
      if (typeof v === "string") headers[h] = v;
    }
    const status = await postWebhook(target, headers, Buffer.concat(chunks), o.webhookPrivate);
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ status }));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      o.log.error({ err: describe(err), url: req.url }, "egress proxy request handler failed");
      try {
        answerError(res, 500, "internal", "the egress proxy failed on this request", requestIdOf(req.headers));
      } catch {
        res.destroy();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // past listening, a server error (a failed accept) is logged, not a crash
  server.on("error", (err) => o.log.error({ err: describe(err) }, "egress proxy server error"));
  const port = (server.address() as AddressInfo).port;
  const host = o.host.includes(":") ? `[${o.host}]` : o.host;

  let closing: Promise<void> | undefined;
  return {
    port,
    url: `http://${host}:${port}`,
    health,
    metrics,
    close(graceMs = 0) {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        if (active.size > 0 && graceMs > 0) {
          const until = Date.now() + graceMs;
          while (active.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
        }
        for (const res of active) res.destroy();
        server.closeAllConnections();
        await closed;
        await pools.destroy();
      })();
      return closing;
    },
  };
}
