// The egress proxy against local upstreams: HTTP/2 (and HTTP/1.1) servers on
// 127.0.0.1 with a self-signed certificate the proxy is told to trust.
import t, { type Test } from "tap";
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import { createServer as createHttp1Tls } from "node:https";
import { createSecureServer, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from "node:http2";
import { connect as tcpConnect, createServer as createTcp, type AddressInfo, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ModelTable, type ModelEntry } from "@radiant/infra/models";
import { freePort } from "@radiant/infra/proc";
import { pino } from "pino";
import { loadConfig } from "./config.js";
import { type EgressOptions, type EgressProxy, startEgressProxy } from "./proxy.js";

const dir = mkdtempSync(join(tmpdir(), "radiant-egress-test-"));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const keyFile = join(dir, "key.pem");
const certFile = join(dir, "cert.pem");
execFileSync(
  "openssl",
  [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    keyFile,
    "-out",
    certFile,
    "-days",
    "2",
    "-subj",
    "/CN=localhost",
    "-addext",
    "subjectAltName=IP:127.0.0.1,DNS:localhost",
  ],
  { stdio: "ignore" },
);
const tlsKey = readFileSync(keyFile);
const tlsCert = readFileSync(certFile, "utf8");

type Handler = (req: Http2ServerRequest, res: Http2ServerResponse, n: number) => void;

interface Upstream {
  origin: string;
  port: number;
  /** TLS sessions that spoke HTTP/2 */
  sessions: number;
  /** requests received */
  requests: number;
  /** most requests in progress at once */
  maxConcurrent: number;
}

/** An HTTP/2 upstream (HTTP/1.1 also accepted) that closes itself with the test. */
async function upstream(t: Test, handler: Handler): Promise<Upstream> {
  const srv = createSecureServer({ key: tlsKey, cert: tlsCert, allowHTTP1: true });
  const u: Upstream = { origin: "", port: 0, sessions: 0, requests: 0, maxConcurrent: 0 };
  const sessions = new Set<ServerHttp2Session>();
  const sockets = new Set<Socket>();
  let running = 0;
  srv.on("session", (s) => {
    u.sessions++;
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  srv.on("secureConnection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  srv.on("request", (req: Http2ServerRequest, res: Http2ServerResponse) => {
    u.requests++;
    running++;
    u.maxConcurrent = Math.max(u.maxConcurrent, running);
    res.on("close", () => running--);
    handler(req, res, u.requests);
  });
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  u.port = (srv.address() as AddressInfo).port;
  u.origin = `https://127.0.0.1:${u.port}`;
  t.teardown(async () => {
    const closed = new Promise((r) => srv.close(r));
    for (const s of sessions) s.destroy();
    for (const s of sockets) s.destroy();
    await closed;
  });
  return u;
}

/** A proxy with small timeouts, a table of the given entries only, and keys KEY_OPENAI, KEY_ANTHROPIC, KEY_GOOGLE. */
async function proxy(t: Test, entries: ModelEntry[], over: Partial<EgressOptions> = {}): Promise<EgressProxy> {
  const p = await startEgressProxy({
    ...loadConfig({}),
    host: "127.0.0.1",
    port: 0,
    extraCa: tlsCert,
    retryBaseMs: 20,
    retryMaxMs: 2000,
    connectTimeoutMs: 2000,
    firstByteTimeoutMs: 5000,
    totalTimeoutMs: 20_000,
    models: new ModelTable(entries, []),
    log: pino({ level: "silent" }),
    env: { KEY_OPENAI: "sk-openai", KEY_ANTHROPIC: "sk-anthropic", KEY_GOOGLE: "sk-google" },
    random: () => 1,
    ...over,
  });
  t.teardown(() => p.close());
  return p;
}

const entry = (match: string, baseUrl: string, format: ModelEntry["format"] = "openai", keyEnv: string | null = "KEY_OPENAI"): ModelEntry => ({
  match,
  format,
  baseUrl,
  keyEnv,
});

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** the response ended abnormally (not a clean end) */
  cut: boolean;
}

interface CallOptions {
  method?: string;
  model?: string;
  headers?: Record<string, string>;
  body?: string;
  /** told each chunk of the response body as it comes */
  onChunk?: (chunk: string, res: IncomingMessage) => void;
}

/** A worker's request to the proxy. */
function call(p: EgressProxy, path: string, o: CallOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { "content-type": "application/json", ...(o.model ? { "radiant-model": o.model } : {}), ...o.headers };
    const req = httpRequest({ host: "127.0.0.1", port: p.port, path, method: o.method ?? "POST", headers, agent: false }, (res) => {
      let body = "";
      let settled = false;
      const done = (cut: boolean) => {
        if (settled) return;
        settled = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, cut });
      };
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
        o.onChunk?.(c, res);
      });
      res.on("end", () => done(!res.complete));
      res.on("error", () => done(true));
      res.on("close", () => done(!res.complete));
    });
    req.on("error", reject);
    req.end(o.body ?? (o.method === "GET" ? undefined : "{}"));
  });
}

const json = (a: Answer) => JSON.parse(a.body) as Record<string, unknown>;

t.test("the key is added per format, worker credentials and radiant-* headers never leave", async (t) => {
  const seen: { path: string; headers: IncomingHttpHeaders; version: string; body: string }[] = [];
  const up = await upstream(t, (req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => {
      seen.push({ path: req.url, headers: req.headers, version: req.httpVersion, body });
      res.writeHead(200, { "content-type": "application/json", "x-upstream": "yes", "radiant-error": "spoofed" });
      res.end('{"ok":true}');
    });
  });
  const p = await proxy(t, [
    entry("gpt-*", up.origin),
    entry("claude-*", up.origin, "anthropic", "KEY_ANTHROPIC"),
    entry("gemini-*", `${up.origin}/google`, "google", "KEY_GOOGLE"),
    entry("local-*", up.origin, "openai", null),
  ]);

  const a = await call(p, "/v1/chat/completions", {
    model: "gpt-4o",
    headers: {
      "radiant-request-id": "req-1",
      "radiant-other": "x",
      authorization: "Bearer worker-secret",
      "x-api-key": "worker-secret",
      "x-goog-api-key": "worker-secret",
      connection: "keep-alive, x-hop",
      "x-hop": "1",
      "x-custom": "kept",
    },
    body: '{"model":"gpt-4o"}',
  });
  t.equal(a.status, 200);
  t.equal(a.body, '{"ok":true}');
  t.equal(a.headers["radiant-request-id"], "req-1", "the request id echoed");
  t.equal(a.headers["x-upstream"], "yes", "the upstream's headers come back");
  t.equal(a.headers["radiant-error"], undefined, "an upstream cannot pose as the proxy");
  const s = seen[0]!;
  t.equal(s.version, "2.0", "HTTP/2 upstream");
  t.equal(s.path, "/v1/chat/completions");
  t.equal(s.body, '{"model":"gpt-4o"}');
  t.equal(s.headers.authorization, "Bearer sk-openai");
  t.equal(s.headers["x-request-id"], "req-1");
  t.equal(s.headers["x-custom"], "kept");
  t.equal(s.headers["x-api-key"], undefined);
  t.equal(s.headers["x-goog-api-key"], undefined);
  t.equal(s.headers["x-hop"], undefined, "a header the Connection header names is hop-by-hop");
  t.notOk(
    Object.keys(s.headers).some((h) => h.startsWith("radiant-")),
    "no radiant-* header upstream",
  );
  t.notOk(JSON.stringify(s.headers).includes("worker-secret"), "no worker credential upstream");

  await call(p, "/v1/messages", { model: "claude-sonnet-4", headers: { authorization: "Bearer worker-secret" } });
  const an = seen[1]!;
  t.equal(an.headers["x-api-key"], "sk-anthropic");
  t.equal(an.headers["anthropic-version"], "2023-06-01", "the default version when the worker sent none");
  t.equal(an.headers.authorization, undefined);
  await call(p, "/v1/messages", { model: "claude-sonnet-4", headers: { "anthropic-version": "2024-10-22" } });
  t.equal(seen[2]!.headers["anthropic-version"], "2024-10-22", "the worker's version kept");

  await call(p, "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse", { model: "gemini-2.0-flash" });
  const g = seen[3]!;
  t.equal(g.path, "/google/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse", "base path + path + query");
  t.equal(g.headers["x-goog-api-key"], "sk-google");
  t.equal(g.headers.authorization, undefined);

  const list = await call(p, "/v1/models", { method: "GET", model: "local-llama" });
  t.equal(list.status, 200);
  const l = seen[4]!;
  t.equal(l.headers.authorization, undefined, "keyEnv null: no key");
  t.equal(l.headers["x-api-key"], undefined);
  t.equal(l.headers["x-goog-api-key"], undefined);
});

t.test("the proxy's own refusals: unknown model, missing key, bad path, no model, too large", async (t) => {
  const up = await upstream(t, (_req, res) => res.end("should not be reached"));
  const p = await proxy(t, [entry("gpt-*", up.origin), entry("claude-*", up.origin, "anthropic", "ANTHROPIC_KEY_UNSET")], { maxBodyBytes: 1024 });

  const unknown = await call(p, "/v1/chat/completions", { model: "nope-1", headers: { "radiant-request-id": "r9" } });
  t.equal(unknown.status, 404);
  t.equal(unknown.headers["radiant-error"], "unknown-model");
  t.equal(unknown.headers["radiant-request-id"], "r9");
  t.match(json(unknown), { error: { message: /nope-1/ } });

  const noKey = await call(p, "/v1/messages", { model: "claude-x" });
  t.equal(noKey.status, 401);
  t.equal(noKey.headers["radiant-error"], "missing-key");
  t.equal((json(noKey).error as { message: string }).message, "no API key for model claude-x: set ANTHROPIC_KEY_UNSET in the egress proxy's environment");

  for (const path of ["/v1/../admin", "/v1/%2e%2e/admin", "//evil.example/v1", "/v1/x#frag", "http://evil.example/v1/chat"]) {
    const bad = await call(p, path, { model: "gpt-4o" });
    t.equal(bad.status, 400, path);
    t.equal(bad.headers["radiant-error"], "bad-path", path);
    t.type((json(bad).error as { message: string }).message, "string");
  }

  const noModel = await call(p, "/v1/chat/completions");
  t.equal(noModel.status, 400);
  t.equal(noModel.headers["radiant-error"], "missing-model");

  const big = await call(p, "/v1/chat/completions", { model: "gpt-4o", body: "x".repeat(4096) });
  t.equal(big.status, 413);
  t.equal(big.headers["radiant-error"], "body-too-large");
  t.match(json(big), { error: { message: new RegExp(up.origin.replace(/\./g, "\\.")) } });

  t.equal(up.requests, 0, "nothing reached the upstream");
});

t.test("a streamed answer flows chunk by chunk: the worker sees the first event before the upstream sends the second", async (t) => {
  let releaseSecond!: () => void;
  const second = new Promise<void>((r) => (releaseSecond = r));
  const up = await upstream(t, (_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write("data: one\n\n");
    second.then(() => res.end("data: two\n\n"));
  });
  const p = await proxy(t, [entry("gpt-*", up.origin)]);
  let firstAlone = false;
  // never hang on a proxy that buffers: let the upstream go on after a while, and fail
  const guard = setTimeout(releaseSecond, 5000);
  const a = await call(p, "/v1/chat/completions", {
    model: "gpt-4o",
    onChunk: (c) => {
      if (!firstAlone && c.includes("one") && !c.includes("two")) {
        firstAlone = true;
        releaseSecond();
      }
    },
  });
  clearTimeout(guard);
  t.ok(firstAlone, "the first event arrived alone");
  t.equal(a.status, 200);
  t.equal(a.headers["content-type"], "text/event-stream");
  t.equal(a.body, "data: one\n\ndata: two\n\n");
  t.notOk(a.cut);
});

t.test("retries: connect errors, then 503, then 429 with Retry-After (attempts counted at the upstream)", async (t) => {
  // a front that resets the first connection and passes the rest to the upstream
  const up = await upstream(t, (_req, res, n) => {
    if (n === 1) {
      res.writeHead(503, { "content-type": "application/json" });
      res.end('{"error":"busy"}');
    } else {
      res.end("fine");
    }
  });
  let connections = 0;
  const front: Server = createTcp((sock) => {
    connections++;
    if (connections === 1) {
      sock.destroy();
      return;
    }
    const to = tcpConnect(up.port, "127.0.0.1");
    sock.pipe(to).pipe(sock);
    sock.on("error", () => to.destroy());
    to.on("error", () => sock.destroy());
  });
  front.listen(0, "127.0.0.1");
  await once(front, "listening");
  t.teardown(() => new Promise((r) => front.close(r)));
  const frontOrigin = `https://127.0.0.1:${(front.address() as AddressInfo).port}`;
  const p = await proxy(t, [entry("gpt-*", frontOrigin)], { maxConnectionsPerOrigin: 1 });
  const a = await call(p, "/v1/chat/completions", { model: "gpt-4o" });
  t.equal(a.status, 200);
  t.equal(a.body, "fine");
  t.equal(connections, 2, "the reset connection was retried on a new one");
  t.equal(up.requests, 2, "the 503 was retried");
  const h = p.health().origins[frontOrigin]!;
  t.equal(h.retries, 2);
  t.equal(h.failures, 2);
  const metrics = await p.metrics.registry.metrics();
  t.match(metrics, new RegExp(`radiant_egress_retries_total\\{origin="${frontOrigin}",reason="connect"\\} 1`));
  t.match(metrics, new RegExp(`radiant_egress_retries_total\\{origin="${frontOrigin}",reason="503"\\} 1`));

  // 429 with Retry-After: 1 (second) is waited, then retried
  const limited = await upstream(t, (_req, res, n) => {
    if (n === 1) res.writeHead(429, { "retry-after": "1" }).end("slow down");
    else res.end("ok now");
  });
  const p2 = await proxy(t, [entry("gpt-*", limited.origin)]);
  const t0 = Date.now();
  const b = await call(p2, "/v1/chat/completions", { model: "gpt-4o" });
  t.equal(b.status, 200);
  t.equal(b.body, "ok now");
  t.equal(limited.requests, 2);
  t.ok(Date.now() - t0 >= 950, `Retry-After waited (${Date.now() - t0} ms)`);
});

t.test("connect errors after the retries: 502 upstream-unreachable", async (t) => {
  let connections = 0;
  const resetting: Server = createTcp((sock) => {
    connections++;
    sock.destroy();
  });
  resetting.listen(0, "127.0.0.1");
  await once(resetting, "listening");
  t.teardown(() => new Promise((r) => resetting.close(r)));
  const resetOrigin = `https://127.0.0.1:${(resetting.address() as AddressInfo).port}`;
  const closedOrigin = `https://127.0.0.1:${await freePort()}`;
  const p = await proxy(t, [entry("reset-*", resetOrigin), entry("closed-*", closedOrigin)]);

  const a = await call(p, "/v1/chat/completions", { model: "reset-1" });
  t.equal(a.status, 502);
  t.equal(a.headers["radiant-error"], "upstream-unreachable");
  t.match(json(a), { error: { message: new RegExp(`cannot reach ${resetOrigin.replace(/\./g, "\\.")}.*3 attempts`) } });
  t.equal(connections, 3, "EGRESS_MAX_ATTEMPTS attempts");

  const b = await call(p, "/v1/chat/completions", { model: "closed-1" });
  t.equal(b.status, 502);
  t.match(json(b), { error: { message: /ECONNREFUSED/ } });
  t.equal(p.health().origins[closedOrigin]!.retries, 2);

  // without the extra CA the local certificate is not trusted: unreachable, and not retried (it would not help)
  const up = await upstream(t, (_req, res) => res.end("never"));
  const untrusting = await proxy(t, [entry("gpt-*", up.origin)], { extraCa: undefined });
  const c = await call(untrusting, "/v1/chat/completions", { model: "gpt-4o" });
  t.equal(c.status, 502);
  t.match(json(c), { error: { message: /SELF_SIGNED|self-signed/ } });
  t.equal(untrusting.health().origins[up.origin]!.retries, 0);
  t.equal(up.requests, 0);
});

t.test("when the attempts are spent, or Retry-After is past the cap, the upstream's own answer is handed on", async (t) => {
  const up = await upstream(t, (_req, res, n) => {
    res.writeHead(503, { "content-type": "application/json", "retry-after-ms": "5", "x-attempt": String(n) });
    res.end(JSON.stringify({ error: { message: "overloaded", attempt: n } }));
  });
  const p = await proxy(t, [entry("gpt-*", up.origin)], { breakerFailures: 100 });
  const a = await call(p, "/v1/chat/completions", { model: "gpt-4o" });
  t.equal(a.status, 503);
  t.equal(up.requests, 3);
  t.same(json(a), { error: { message: "overloaded", attempt: 3 } }, "the last answer, body as is");
  t.equal(a.headers["retry-after-ms"], "5");
  t.equal(a.headers["x-attempt"], "3");
  t.equal(a.headers["radiant-error"], undefined, "not the proxy's error");

  const limited = await upstream(t, (_req, res) => {
    res.writeHead(429, { "retry-after": "30", "content-type": "application/json" }).end('{"error":"rate limited"}');
  });
  const p2 = await proxy(t, [entry("gpt-*", limited.origin)], { retryMaxMs: 2000 });
  const t0 = Date.now();
  const b = await call(p2, "/v1/chat/completions", { model: "gpt-4o" });
  t.equal(b.status, 429);
  t.equal(b.headers["retry-after"], "30");
  t.equal(b.body, '{"error":"rate limited"}');
  t.equal(limited.requests, 1, "a wait over the cap is not waited: no retry");
  t.ok(Date.now() - t0 < 1000);
  t.equal(p2.health().origins[limited.origin]!.breaker, "closed", "429 is not a failure of the origin");
});

t.test("no retry once the first byte went to the worker: an upstream cut mid-body cuts the worker's response", async (t) => {
  const up = await upstream(t, (_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write("data: partial\n\n");
    setTimeout(() => res.stream.close(2 /* INTERNAL_ERROR */), 100);
  });
  const p = await proxy(t, [entry("gpt-*", up.origin)]);
  const a = await call(p, "/v1/chat/completions", { model: "gpt-4o" });
  t.equal(a.status, 200);
  t.equal(a.body, "data: partial\n\n");
  t.ok(a.cut, "the worker sees the stream was cut, not a clean end");
  t.equal(up.requests, 1, "not retried");
});

t.test("the breaker opens after N failures, refuses at once, and a half-open probe closes it", async (t) => {
  let mode: "fail" | "gated" = "fail";
  let releaseProbe!: () => void;
  const probeGate = new Promise<void>((r) => (releaseProbe = r));
  let probeArrived!: () => void;
  const probeSeen = new Promise<void>((r) => (probeArrived = r));
  const up = await upstream(t, (_req, res) => {
    if (mode === "fail") {
      res.writeHead(500).end("broken");
      return;
    }
    probeArrived();
    probeGate.then(() => res.end("back"));
  });
  const p = await proxy(t, [entry("gpt-*", up.origin)], { breakerFailures: 3, breakerOpenMs: 500, maxAttempts: 1 });
  for (let i = 0; i < 3; i++) t.equal((await call(p, "/v1/chat/completions", { model: "gpt-4o" })).status, 500);
  t.equal(p.health().origins[up.origin]!.breaker, "open");

  const t0 = Date.now();
  const refused = await call(p, "/v1/chat/completions", { model: "gpt-4o" });
  t.ok(Date.now() - t0 < 200, "at once");
  t.equal(refused.status, 503);
  t.equal(refused.headers["radiant-error"], "circuit-open");
  t.equal(refused.headers["retry-after"], "1");
  t.match(json(refused), { error: { message: new RegExp(up.origin.replace(/\./g, "\\.")) } });
  t.equal(up.requests, 3, "the refused request never reached the upstream");

  await new Promise((r) => setTimeout(r, 550));
  t.equal(p.health().origins[up.origin]!.breaker, "half-open");
  mode = "gated";
  const probe = call(p, "/v1/chat/completions", { model: "gpt-4o" });
  await probeSeen;
  const other = await call(p, "/v1/chat/completions", { model: "gpt-4o" });
  t.equal(other.status, 503, "only the probe passes while half-open");
  t.equal(other.headers["radiant-error"], "circuit-open");
  releaseProbe();
  const pr = await probe;
  t.equal(pr.status, 200);
  t.equal(pr.body, "back");
  t.equal(p.health().origins[up.origin]!.breaker, "closed", "the probe's success closed it");
  t.equal((await call(p, "/v1/chat/completions", { model: "gpt-4o" })).status, 200);
  t.equal(up.requests, 5);
  const metrics = await p.metrics.registry.metrics();
  t.match(metrics, new RegExp(`radiant_egress_breaker_opened_total\\{origin="${up.origin}"\\} 1`));
  t.match(metrics, new RegExp(`radiant_egress_breaker_state\\{origin="${up.origin}"\\} 0`));
});

t.test(
  "first-byte timeout: 504, never sent twice (the upstream may be working on it, and billing it); a plain call waits as long as the exchange may",
  async (t) => {
    const up = await upstream(t, () => {
      // never answers: the proxy's timer must end it
    });
    const p = await proxy(t, [entry("gpt-*", up.origin)], { firstByteTimeoutMs: 200, totalTimeoutMs: 1500, maxAttempts: 3 });
    const a = await call(p, "/v1/chat/completions", { model: "gpt-4o", headers: { "radiant-stream": "1" } });
    t.equal(a.status, 504);
    t.equal(a.headers["radiant-error"], "timeout");
    t.match(json(a), { error: { message: /no response headers within 200 ms/ } });
    t.equal(up.requests, 1, "not retried");
    t.match(await p.metrics.registry.metrics(), /radiant_egress_timeouts_total\{origin="[^"]+",phase="first_byte"\} 1/);
    const plain = await call(p, "/v1/chat/completions", { model: "gpt-4o", headers: { "radiant-stream": "0" } });
    t.equal(plain.status, 504);
    t.match(json(plain), { error: { message: /took over 1500 ms/ } }, "a plain answer's head may take the whole exchange: only the total timeout ends it");
    t.equal(up.requests, 2);
  },
);

t.test("total timeout after the first byte cuts the worker's response", async (t) => {
  const up = await upstream(t, (_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write("data: a\n\n");
  });
  const p = await proxy(t, [entry("gpt-*", up.origin)], { totalTimeoutMs: 300 });
  const a = await call(p, "/v1/chat/completions", { model: "gpt-4o" });
  t.equal(a.status, 200);
  t.ok(a.cut, "destroyed, not ended");
  t.match(await p.metrics.registry.metrics(), /radiant_egress_timeouts_total\{origin="[^"]+",phase="total"\} 1/);
});

t.test("the worker going away aborts the upstream request at once", async (t) => {
  type Closed = { aborted: boolean; rstCode: number | undefined; ended: boolean };
  let upstreamClosed!: (v: Closed) => void;
  const closed = new Promise<Closed>((r) => (upstreamClosed = r));
  const up = await upstream(t, (_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write("data: one\n\n");
    res.stream.on("close", () => upstreamClosed({ aborted: res.stream.aborted, rstCode: res.stream.rstCode, ended: res.writableEnded }));
  });
  const p = await proxy(t, [entry("gpt-*", up.origin)]);
  const req = httpRequest({
    host: "127.0.0.1",
    port: p.port,
    path: "/v1/chat/completions",
    method: "POST",
    headers: { "radiant-model": "gpt-4o" },
    agent: false,
  });
  req.on("response", (res) => res.once("data", () => req.destroy()));
  req.on("error", () => {});
  req.end("{}");
  const t0 = Date.now();
  const c = await Promise.race([closed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 3000))]);
  t.ok(c, "the upstream stream closed");
  // undici resets the stream (RST_STREAM, code NO_ERROR): the server's stream reads as aborted
  t.ok(c?.aborted, `the upstream's stream was reset (RST_STREAM code ${c?.rstCode})`);
  t.notOk(c?.ended, "the upstream never finished its answer");
  t.ok(Date.now() - t0 < 1000, "at once");
});

t.test("HTTP/2 multiplexing: 100 concurrent requests over a handful of TLS sessions, all answered", async (t) => {
  const up = await upstream(t, (req, res) => {
    req.resume();
    req.on("end", () => setTimeout(() => res.end(req.httpVersion), 100));
  });
  const max = 4;
  const p = await proxy(t, [entry("gpt-*", up.origin)], { maxConnectionsPerOrigin: max });
  const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => call(p, "/v1/chat/completions", { model: "gpt-4o", body: `{"i":${i}}` })));
  t.equal(answers.filter((a) => a.status === 200).length, 100, "all 100 succeeded");
  t.ok(
    answers.every((a) => a.body === "2.0"),
    "over HTTP/2",
  );
  t.ok(up.sessions >= 1 && up.sessions <= max, `${up.sessions} TLS sessions (at most ${max})`);
  t.ok(up.maxConcurrent > max, `streams multiplexed: ${up.maxConcurrent} at once over ${up.sessions} sessions`);
  t.equal(up.requests, 100);
  const h = p.health();
  t.equal(h.upstream_pools, 1);
  const o = h.origins[up.origin]!;
  t.ok(o.connected <= max);
  t.equal(o.requests, 100);
  t.type(o.ttfb_ms.p50, "number");
  t.type(o.ttfb_ms.p99, "number");
});

t.test("HTTP/1.1-only and plain-http origins still work", async (t) => {
  const h1 = createHttp1Tls({ key: tlsKey, cert: tlsCert }, (req, res) => res.end(`h1 ${req.httpVersion} ${req.url}`));
  h1.listen(0, "127.0.0.1");
  await once(h1, "listening");
  t.teardown(() => {
    h1.closeAllConnections();
    return new Promise((r) => h1.close(r));
  });
  const p = await proxy(t, [entry("tls1-*", `https://127.0.0.1:${(h1.address() as AddressInfo).port}`, "openai", null)]);
  const answers = await Promise.all(Array.from({ length: 10 }, () => call(p, "/v1/models", { method: "GET", model: "tls1-x" })));
  t.ok(
    answers.every((a) => a.status === 200 && a.body === "h1 1.1 /v1/models"),
    "HTTP/1.1 over TLS",
  );
});

t.test("/health and /metrics are matched exactly and only for GET", async (t) => {
  const up = await upstream(t, (req, res) => res.end(`upstream ${req.method} ${req.url}`));
  const p = await proxy(t, [entry("gpt-*", up.origin)]);
  await call(p, "/v1/chat/completions", { model: "gpt-4o" });
  const h = await call(p, "/health", { method: "GET" });
  t.equal(h.status, 200);
  const report = json(h) as { status: string; upstream_pools: number; origins: Record<string, Record<string, unknown>> };
  t.equal(report.status, "ok");
  t.equal(report.upstream_pools, 1);
  t.match(report.origins[up.origin], {
    breaker: "closed",
    connected: Number,
    free: Number,
    pending: Number,
    running: Number,
    requests: 1,
    retries: 0,
    failures: 0,
    ttfb_ms: { p50: Number, p99: Number },
  });
  const m = await call(p, "/metrics", { method: "GET" });
  t.equal(m.status, 200);
  for (const name of [
    "radiant_egress_requests_total",
    "radiant_egress_retries_total",
    "radiant_egress_breaker_state",
    "radiant_egress_breaker_opened_total",
    "radiant_egress_ttfb_seconds_bucket",
    "radiant_egress_pool_connections",
    "radiant_egress_timeouts_total",
  ]) {
    t.ok(m.body.includes(name), name);
  }
  t.match(m.body, new RegExp(`radiant_egress_requests_total\\{origin="${up.origin}",status="200"\\} 1`));
  t.match(m.body, new RegExp(`radiant_egress_pool_connections\\{origin="${up.origin}"\\} 1`));

  const fwd = await call(p, "/health?x=1", { method: "GET", model: "gpt-4o" });
  t.equal(fwd.headers["radiant-error"], "forbidden-call", "not exactly /health: a forward (and not one the proxy makes)");
  const post = await call(p, "/metrics", { model: "gpt-4o" });
  t.equal(post.headers["radiant-error"], "forbidden-call", "not GET: a forward");
});

t.test("the key opens only the provider calls RADIANT makes: nothing else on the provider's origin", async (t) => {
  const up = await upstream(t, (req, res) => res.end(`upstream ${req.method} ${req.url}`));
  const p = await proxy(t, [
    entry("gpt-*", up.origin),
    { match: "claude-*", format: "anthropic", baseUrl: up.origin, keyEnv: null },
    { match: "gemini-*", format: "google", baseUrl: up.origin, keyEnv: null },
  ]);
  const ok: [string, string, string][] = [
    ["POST", "/v1/chat/completions", "gpt-4o"],
    ["POST", "/v1/responses", "gpt-4o"],
    ["GET", "/v1/models", "gpt-4o"],
    ["POST", "/v1/messages", "claude-x"],
    ["POST", "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse", "gemini-x"],
    ["POST", "/v1/models/gemini-2.0-flash:generateContent", "gemini-x"],
  ];
  for (const [method, path, model] of ok) t.equal((await call(p, path, { method, model })).status, 200, `${method} ${path}`);
  const refused: [string, string, string][] = [
    ["DELETE", "/v1/files/file-abc", "gpt-4o"],
    ["GET", "/v1/files", "gpt-4o"],
    ["POST", "/v1/fine_tuning/jobs", "gpt-4o"],
    ["POST", "/v1/chat/completions", "claude-x"],
    ["POST", "/v1/messages/batches", "claude-x"],
    ["POST", "/v1beta/models/gemini-2.0-flash:countTokens", "gemini-x"],
    ["POST", "/v1beta/models/gemini-2.0-flash:generateContent?key=x", "gemini-x"],
    ["POST", "/v1beta/cachedContents", "gemini-x"],
  ];
  for (const [method, path, model] of refused) {
    const a = await call(p, path, { method, model });
    t.ok(a.status === 403 || a.status === 405, `${method} ${path} refused (${a.status})`);
  }
  t.equal(up.requests, ok.length, "nothing refused reached the upstream");
});
