// bench:auth — what checking a credential costs (issue 14), same run: first the gateway's own
// Authenticator called in this process for each kind of credential (none, a gateway API key in
// x-api-key and in Authorization, an OIDC token signed ES256 and one signed RS256 with a 2048-bit
// key); then the same credentials through a whole stack, on one gateway that requires none
// (GATEWAY_AUTH_REQUIRED=false, so all kinds share it) and knows the bench's OIDC issuer:
// WebSocket upgrades one after another (connect → open → close) and `GET /v1/models` (gateway →
// INBOX → worker → back) from 8 clients. Each kind's calls go in blocks, the kinds taking turns
// (the machine is shared, its load drifts); every answer is checked, and the gateway's own count
// of whom it let in, by kind, is compared with what the bench sent.
import { generateKeyPairSync, type KeyObject, randomBytes, sign, verify } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiKeys, makeKey } from "@radiant/gateway/dist/auth/api_keys.js";
import { type AuthRequest, Authenticator, type Via } from "@radiant/gateway/dist/auth/authenticator.js";
import { OidcVerifier } from "@radiant/gateway/dist/auth/oidc.js";
import { TrustedProxies } from "@radiant/gateway/dist/auth/trusted_proxies.js";
import { createLogger } from "@radiant/infra/log";
import { waitFor } from "@radiant/infra/proc";
import { Stack } from "@radiant/infra/stack";
import WebSocket from "ws";
import { cleanUpOnce, logger, main } from "./compare.js";
import { type Histogram, newHistogram, percentilesMs, recordMs } from "./latency.js";
import { round, table, writeResult } from "./results.js";
import { cpuSecondsMeter } from "./system.js";

const quick = process.argv.includes("--quick");
const O = quick
  ? { calls: 5_000, callWarmup: 2_000, upgrades: 300, upgradeWarmup: 50, requests: 2_000, requestWarmup: 200, blocks: 4 }
  : { calls: 50_000, callWarmup: 10_000, upgrades: 5_000, upgradeWarmup: 200, requests: 20_000, requestWarmup: 1_000, blocks: 10 };
/** the HTTP phase's clients, each with a request in flight at a time (keep-alive connections) */
const CLIENTS = 8;
const ANSWER_TIMEOUT_MS = 10_000;
const AUDIENCE = "radiant-bench";

const log = logger("auth");

// the rows of the in-process table that the stack's modes are compared with
const NONE = "none (anonymous)";
const KEY = "API key, Authorization: Bearer";
const JWT = { ES256: "JWT ES256 (P-256), first sight", RS256: "JWT RS256 (2048), first sight" } as const;
const JWT_AGAIN = { ES256: "JWT ES256, seen before (remembered)", RS256: "JWT RS256, seen before (remembered)" } as const;

// ---- a local OIDC issuer: discovery and a JWKS over HTTP, tokens signed here (node:crypto) ----

type Alg = "ES256" | "RS256";

class Issuer {
  private readonly es = generateKeyPairSync("ec", { namedCurve: "P-256" });
  private readonly rs = generateKeyPairSync("rsa", { modulusLength: 2048 });
  private server: Server | undefined;
  url = "";

  async start(): Promise<void> {
    const jwks = {
      keys: [
        { ...this.es.publicKey.export({ format: "jwk" }), kid: "bench-es256", alg: "ES256", use: "sig" },
        { ...this.rs.publicKey.export({ format: "jwk" }), kid: "bench-rs256", alg: "RS256", use: "sig" },
      ],
    };
    const server = createServer((req, res) => {
      const send = (body: unknown) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
      if (req.url === "/.well-known/openid-configuration") return send({ issuer: this.url, jwks_uri: `${this.url}/jwks` });
      if (req.url === "/jwks") return send(jwks);
      res.writeHead(404).end();
    });
    this.server = server;
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** A token for `sub`, valid for an hour, with the claims an IdP's access token typically has besides. */
  token(alg: Alg, sub: string): string {
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const now = Math.floor(Date.now() / 1000);
    const input = `${b64({ alg, typ: "JWT", kid: alg === "ES256" ? "bench-es256" : "bench-rs256" })}.${b64({
      iss: this.url,
      sub,
      aud: AUDIENCE,
      azp: "bench-client",
      scope: "openid profile radiant",
      iat: now - 5,
      exp: now + 3600,
    })}`;
    const sig =
      alg === "ES256"
        ? sign("sha256", Buffer.from(input), { key: this.es.privateKey, dsaEncoding: "ieee-p1363" })
        : sign("sha256", Buffer.from(input), this.rs.privateKey);
    return `${input}.${sig.toString("base64url")}`;
  }

  publicKey(alg: Alg): KeyObject {
    return alg === "ES256" ? this.es.publicKey : this.rs.publicKey;
  }

  close(): void {
    this.server?.close();
    this.server?.closeAllConnections();
  }
}

/** The same credential with its last four characters changed (the signature or the secret): must be refused. */
const tampered = (s: string) => `${s.slice(0, -4)}${s.endsWith("AAAA") ? "BBBB" : "AAAA"}`;

// ---- shared: failures, blocks ----

interface Failures {
  count: number;
  first?: string;
}
const failed = (f: Failures, why: string) => {
  f.count++;
  f.first ??= why;
};

/** `total` split into `blocks` nearly equal parts. */
const share = (total: number, blocks: number, b: number) => Math.floor(((b + 1) * total) / blocks) - Math.floor((b * total) / blocks);

/** the kinds in turn, each block starting one further along */
const rotated = <T>(list: readonly T[], b: number): T[] => list.map((_, i) => list[(i + b) % list.length]!);

// ---- 1. in this process: Authenticator.authenticate per call ----

interface InProcessCase {
  name: string;
  /** one call: undefined when its answer is right, else what was wrong */
  call: () => string | undefined;
}

interface InProcessRow {
  name: string;
  calls: number;
  calls_per_s: number;
  /** one call timed on its own (hrtime around it: the timer's own cost is in it, see timer_floor_us) */
  us: { p50: number; p90: number; p99: number; max: number };
  cpu_us_per_call: number;
  failures: number;
  first_failure?: string;
}

const fakeRequest = (headers: Record<string, string>): AuthRequest => ({
  header: (h) => headers[h] ?? "",
  query: () => "",
  peer: () => "127.0.0.1",
});

/** Percentiles of a ns histogram, in µs (percentilesMs divides by 1000). */
const usOf = (h: Histogram) => {
  const { p50, p90, p99, max } = percentilesMs(h);
  return { p50, p90, p99, max };
};

async function inProcess(issuer: Issuer): Promise<{ rows: InProcessRow[]; timerFloorUs: { p50: number; p99: number }; tokenChars: Record<Alg, number> }> {
  const silent = createLogger("bench-auth", false, "silent");
  const bench = makeKey({ principal: "bench" });
  const keys = new ApiKeys({} as never, silent);
  // as gateway/src/auth/authenticator.test.ts does: the set as if read from KV, no NATS
  (keys as unknown as { swap(m: Map<string, unknown>): void }).swap(new Map([[bench.record.id, bench.record]]));
  const oidc = new OidcVerifier({ issuerUrl: issuer.url, audience: AUDIENCE, log: silent });
  await oidc.start();
  if (oidc.keyCount !== 2) throw new Error(`the in-process OidcVerifier loaded ${oidc.keyCount} keys from the bench's issuer, not 2`);
  const auth = new Authenticator({ required: false, keys, oidc, trustedProxies: new TrustedProxies("") });
  const es = issuer.token("ES256", "bench-es");
  const rs = issuer.token("RS256", "bench-rs");
  // the verifier remembers a token it verified: "first sight" forgets it before each call, so the signature is checked every time
  const remembered = (oidc as unknown as { verified: Map<string, unknown> }).verified;
  const authenticate = (name: string, via: Via, headers: Record<string, string>, forget = false): InProcessCase => {
    const req = fakeRequest(headers);
    return {
      name,
      call: () => {
        if (forget) remembered.clear();
        const r = auth.authenticate(req);
        return r.ok && r.who.via === via ? undefined : JSON.stringify(r);
      },
    };
  };
  /** OpenSSL's share: the token's signature checked with node:crypto and nothing else (the key imported once) */
  const signatureOnly = (name: string, alg: Alg, token: string): InProcessCase => {
    const dot = token.lastIndexOf(".");
    const data = Buffer.from(token.slice(0, dot), "latin1");
    const sig = Buffer.from(token.slice(dot + 1), "base64url");
    const key = alg === "ES256" ? { key: issuer.publicKey(alg), dsaEncoding: "ieee-p1363" as const } : issuer.publicKey(alg);
    return { name, call: () => (verify("sha256", data, key, sig) ? undefined : "the signature does not verify") };
  };
  const cases: InProcessCase[] = [
    authenticate(NONE, "anonymous", {}),
    authenticate("API key, x-api-key", "key", { "x-api-key": bench.key }),
    authenticate(KEY, "key", { authorization: `Bearer ${bench.key}` }),
    authenticate(JWT.ES256, "jwt", { authorization: `Bearer ${es}` }, true),
    authenticate(JWT.RS256, "jwt", { authorization: `Bearer ${rs}` }, true),
    authenticate(JWT_AGAIN.ES256, "jwt", { authorization: `Bearer ${es}` }),
    authenticate(JWT_AGAIN.RS256, "jwt", { authorization: `Bearer ${rs}` }),
    signatureOnly("(reference) crypto.verify alone, ES256", "ES256", es),
    signatureOnly("(reference) crypto.verify alone, RS256", "RS256", rs),
  ];
  // what is refused must be: else the figures above would time a shortcut
  for (const [what, headers] of [
    ["a tampered key", { "x-api-key": tampered(bench.key) }],
    ["a tampered ES256 token", { authorization: `Bearer ${tampered(es)}` }],
    ["a tampered RS256 token", { authorization: `Bearer ${tampered(rs)}` }],
  ] as const) {
    if (auth.authenticate(fakeRequest(headers)).ok) throw new Error(`the Authenticator let in ${what}`);
  }

  const acc = cases.map(() => ({ h: newHistogram(), ns: 0n, cpuUs: 0, calls: 0, f: { count: 0 } as Failures }));
  const check = (c: InProcessCase, f: Failures) => {
    const bad = c.call();
    if (bad !== undefined) failed(f, `${c.name}: ${bad}`);
  };
  log(`in this process: ${O.callWarmup} warm-up calls per kind, then ${O.calls} timed one by one and ${O.calls} in a row, in ${O.blocks} blocks`);
  for (const [i, c] of cases.entries()) for (let n = 0; n < O.callWarmup; n++) check(c, acc[i]!.f);
  // what hrtime around a call costs by itself
  const floor = newHistogram();
  for (let n = 0; n < O.calls; n++) {
    const t0 = process.hrtime.bigint();
    floor.recordValue(Math.max(1, Number(process.hrtime.bigint() - t0)));
  }
  for (let b = 0; b < O.blocks; b++) {
    const count = share(O.calls, O.blocks, b);
    for (const i of rotated(
      cases.map((_, i) => i),
      b,
    )) {
      const c = cases[i]!;
      const a = acc[i]!;
      // in a row: calls/s and this process's CPU per call
      const cpu0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      for (let n = 0; n < count; n++) check(c, a.f);
      a.ns += process.hrtime.bigint() - t0;
      const cpu = process.cpuUsage(cpu0);
      a.cpuUs += cpu.user + cpu.system;
      a.calls += count;
      // one by one: the distribution
      for (let n = 0; n < count; n++) {
        const s = process.hrtime.bigint();
        const bad = c.call();
        a.h.recordValue(Math.max(1, Number(process.hrtime.bigint() - s)));
        if (bad !== undefined) failed(a.f, `${c.name}: ${bad}`);
      }
    }
  }
  oidc.stop();
  const rows = cases.map((c, i): InProcessRow => {
    const a = acc[i]!;
    return {
      name: c.name,
      calls: a.calls,
      calls_per_s: Math.round(a.calls / (Number(a.ns) / 1e9)),
      us: usOf(a.h),
      cpu_us_per_call: round(a.cpuUs / a.calls, 3),
      failures: a.f.count,
      ...(a.f.first === undefined ? {} : { first_failure: a.f.first }),
    };
  });
  for (const r of rows) log(`  ${r.name}: ${r.calls_per_s} calls/s, p50 ${r.us.p50} µs, p99 ${r.us.p99} µs, CPU ${r.cpu_us_per_call} µs/call`);
  const { p50, p99 } = usOf(floor);
  return { rows, timerFloorUs: { p50, p99 }, tokenChars: { ES256: es.length, RS256: rs.length } };
}

// ---- 2. through a stack ----

type Component = "gateway" | "worker" | "nats_server";

interface Mode {
  name: string;
  via: Via;
  headers: Record<string, string>;
}

interface StackRow {
  name: string;
  via: Via;
  timed: number;
  /** attempts in all, warm-up included (what the gateway's counters are compared with) */
  attempts: number;
  answered: number;
  failures: number;
  warmup_failures: number;
  first_failure?: string;
  seconds: number;
  per_s: number;
  latency_ms: { p50: number; p90: number; p99: number; max: number };
  cpu_us: Record<Component | "bench", number>;
}

interface Acc {
  h: Histogram;
  seconds: number;
  answered: number;
  warm: Failures;
  timed: Failures;
  cpu: Record<string, number>;
  /** attempts in all (warm-up included), for the comparison with the gateway's counters */
  attempts: number;
}

/**
 * Each mode's `warmup` then `total` attempts of `one` (ms when it worked, else why not) over `clients`
 * callers each in sequence, in blocks, the modes taking turns; the CPU of each process per attempt.
 */
async function phase(
  modes: Mode[],
  o: { total: number; warmup: number; clients: number },
  pids: () => Record<Component, number[]>,
  one: (m: Mode) => Promise<number | string>,
): Promise<StackRow[]> {
  const acc: Acc[] = modes.map(() => ({ h: newHistogram(), seconds: 0, answered: 0, warm: { count: 0 }, timed: { count: 0 }, cpu: {}, attempts: 0 }));
  const drive = async (m: Mode, a: Acc, n: number, f: Failures, h?: Histogram) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: o.clients }, async () => {
        while (next++ < n) {
          a.attempts++;
          const r = await one(m).catch((e: Error) => `threw: ${e.message}`);
          if (typeof r === "string") failed(f, `${m.name}: ${r}`);
          else if (h) {
            recordMs(h, r);
            a.answered++;
          }
        }
      }),
    );
  };
  for (const [i, m] of modes.entries()) await drive(m, acc[i]!, o.warmup, acc[i]!.warm);
  for (let b = 0; b < O.blocks; b++) {
    const count = share(o.total, O.blocks, b);
    for (const i of rotated(
      modes.map((_, i) => i),
      b,
    )) {
      const a = acc[i]!;
      const cpu = cpuSecondsMeter(pids());
      const t0 = performance.now();
      await drive(modes[i]!, a, count, a.timed, a.h);
      a.seconds += (performance.now() - t0) / 1000;
      for (const [k, v] of Object.entries<number>(cpu())) a.cpu[k] = (a.cpu[k] ?? 0) + v;
    }
  }
  return modes.map((m, i): StackRow => {
    const a = acc[i]!;
    const { p50, p90, p99, max } = percentilesMs(a.h);
    const first = a.warm.first ?? a.timed.first;
    return {
      name: m.name,
      via: m.via,
      timed: o.total,
      attempts: a.attempts,
      answered: a.answered,
      failures: a.timed.count,
      warmup_failures: a.warm.count,
      ...(first === undefined ? {} : { first_failure: first }),
      seconds: round(a.seconds, 2),
      per_s: Math.round(a.answered / a.seconds),
      latency_ms: { p50, p90, p99, max },
      cpu_us: Object.fromEntries(Object.entries(a.cpu).map(([k, v]) => [k, Math.round((v / o.total) * 1e6)])) as Record<Component | "bench", number>,
    };
  });
}

/** One WebSocket: connect, wait for it to open (101), close, wait for the close. The time to open, in ms, or what went wrong. */
function upgradeOnce(url: string, headers: Record<string, string>): Promise<number | string> {
  return new Promise((resolve) => {
    let settled = false;
    let openMs: number | undefined;
    const t0 = performance.now();
    const ws = new WebSocket(url, { headers, perMessageDeflate: false });
    const done = (v: number | string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(v);
    };
    const timer = setTimeout(() => {
      ws.terminate();
      done(`no open and close within ${ANSWER_TIMEOUT_MS} ms`);
    }, ANSWER_TIMEOUT_MS);
    ws.on("unexpected-response", (req, res) => {
      done(`HTTP ${res.statusCode} instead of 101`);
      req.destroy();
    });
    ws.on("open", () => {
      openMs = performance.now() - t0;
      ws.close(1000);
    });
    ws.on("error", (e) => done(`error: ${e.message}`));
    ws.on("close", (code) => done(openMs ?? `closed (${code}) before it opened`));
  });
}

/** One `GET /v1/models` on a keep-alive connection of `agent`: the round trip in ms, or what was wrong with the answer. */
function modelsOnce(port: number, agent: Agent, headers: Record<string, string>): Promise<number | string> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = request({ host: "127.0.0.1", port, path: "/v1/models", agent, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (s: string) => (body += s));
      res.on("error", (e) => resolve(`answer broke off: ${e.message}`));
      res.on("end", () => {
        const ms = performance.now() - t0;
        if (res.statusCode !== 200) return resolve(`HTTP ${res.statusCode}: ${body.slice(0, 200)}`);
        try {
          const list = JSON.parse(body) as { object?: string; data?: { id?: string }[] };
          resolve(list.object === "list" && list.data?.some((m) => m.id === "echo-openai") ? ms : `not the model list: ${body.slice(0, 200)}`);
        } catch {
          resolve(`not JSON: ${body.slice(0, 200)}`);
        }
      });
    });
    req.setTimeout(ANSWER_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${ANSWER_TIMEOUT_MS} ms`)));
    req.on("error", (e) => resolve(`error: ${e.message}`));
    req.end();
  });
}

/** The gateway's radiant_auth_accepted_total, by via. */
async function acceptedCounts(healthUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${healthUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^radiant_auth_accepted_total\{via="(\w+)"\} (\d+)/gm)) out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2]);
  return out;
}

// ---- the run ----

const dir = mkdtempSync(join(tmpdir(), "radiant-bench-"));
const issuer = new Issuer();
let stack: Stack | undefined;
const agents: Agent[] = [];
const cleanUp = cleanUpOnce(async () => {
  for (const a of agents) a.destroy();
  await stack?.stop();
  issuer.close();
  rmSync(dir, { recursive: true, force: true });
});

const pct = (part: number, whole: number) => `${round((100 * part) / whole, 1)} %`;

await main("auth", cleanUp, async () => {
  await issuer.start();
  const local = await inProcess(issuer);

  const admin = randomBytes(32).toString("base64url");
  log("starting the stack: 1 gateway process (GATEWAY_AUTH_REQUIRED=false, OIDC: the bench's issuer), 1 worker");
  stack = await Stack.start({
    dir,
    gatewayEnv: { GATEWAY_AUTH_REQUIRED: "false", GATEWAY_ADMIN_TOKEN: admin, OIDC_ISSUER_URL: issuer.url, OIDC_AUDIENCE: AUDIENCE },
  });
  const s = stack;
  const made = await fetch(`${s.healthUrl}/admin/keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: JSON.stringify({ principal: "bench-key" }),
  });
  if (made.status !== 201) throw new Error(`POST /admin/keys: HTTP ${made.status} ${await made.text()}`);
  const { key } = (await made.json()) as { key: string };
  const es = issuer.token("ES256", "bench-es");
  const rs = issuer.token("RS256", "bench-rs");
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  const modes: Mode[] = [
    { name: "none", via: "anonymous", headers: {} },
    { name: "API key", via: "key", headers: bearer(key) },
    { name: "JWT ES256", via: "jwt", headers: bearer(es) },
    { name: "JWT RS256", via: "jwt", headers: bearer(rs) },
  ];
  const probe = new Agent({ keepAlive: false });
  agents.push(probe);
  // the key reaches the gateway through its KV watch, the issuer's keys through its JWKS fetch
  for (const m of modes) {
    let last: number | string = "";
    await waitFor(`${m.name} to be let in`, async () => typeof (last = await modelsOnce(s.gatewayPort, probe, m.headers)) === "number", 20_000, 100).catch(
      (e: Error) => {
        throw new Error(`${e.message}: ${last}`);
      },
    );
  }
  // with nothing required, a credential shown is still checked: a wrong one is refused
  for (const [what, headers] of [
    ["a tampered key", bearer(tampered(key))],
    ["a tampered ES256 token", bearer(tampered(es))],
    ["a tampered RS256 token", bearer(tampered(rs))],
  ] as const) {
    const r = await modelsOnce(s.gatewayPort, probe, headers);
    if (typeof r === "number" || !r.startsWith("HTTP 401")) throw new Error(`the gateway did not refuse ${what} with 401: ${r}`);
  }
  const pids = () => ({ gateway: [s.gateway!.child.pid!], worker: s.workers.map((w) => w.child.pid!), nats_server: [s.nats.pid!] });
  const before = await acceptedCounts(s.healthUrl);

  log(`WebSocket upgrades, one at a time: ${O.upgradeWarmup} warm-up per kind, then ${O.upgrades} in ${O.blocks} blocks, the kinds taking turns`);
  const upgrades = await phase(modes, { total: O.upgrades, warmup: O.upgradeWarmup, clients: 1 }, pids, (m) => upgradeOnce(s.wsUrl, m.headers));
  for (const r of upgrades)
    log(`  ${r.name}: ${r.per_s} upgrades/s, p50 ${r.latency_ms.p50} ms, p99 ${r.latency_ms.p99} ms, gateway CPU ${r.cpu_us.gateway} µs each`);

  log(`GET /v1/models, ${CLIENTS} clients: ${O.requestWarmup} warm-up per kind, then ${O.requests} in ${O.blocks} blocks, the kinds taking turns`);
  const byMode = new Map(
    modes.map((m) => {
      const a = new Agent({ keepAlive: true, maxSockets: CLIENTS });
      agents.push(a);
      return [m, a];
    }),
  );
  const requests = await phase(modes, { total: O.requests, warmup: O.requestWarmup, clients: CLIENTS }, pids, (m) =>
    modelsOnce(s.gatewayPort, byMode.get(m)!, m.headers),
  );
  for (const r of requests)
    log(`  ${r.name}: ${r.per_s} req/s, p50 ${r.latency_ms.p50} ms, p99 ${r.latency_ms.p99} ms, gateway CPU ${r.cpu_us.gateway} µs each`);

  // the gateway's own count of whom it let in, against what the bench sent
  const after = await acceptedCounts(s.healthUrl);
  const sent: Record<string, number> = {};
  for (const r of [...upgrades, ...requests]) sent[r.via] = (sent[r.via] ?? 0) + r.attempts;
  const counted = Object.fromEntries(Object.keys(sent).map((via) => [via, (after[via] ?? 0) - (before[via] ?? 0)]));
  const countsAgree = Object.keys(sent).every((via) => counted[via] === sent[via]);
  if (!countsAgree) log(`the gateway counted other numbers let in than the bench sent: counted ${JSON.stringify(counted)}, sent ${JSON.stringify(sent)}`);

  // ---- what a credential adds ----
  const path = (r: StackRow) => r.cpu_us.gateway + r.cpu_us.worker + r.cpu_us.nats_server;
  const localOf = (name: string) => local.rows.find((r) => r.name === name)!;
  const none = { local: localOf(NONE), up: upgrades[0]!, req: requests[0]! };
  const added = modes.slice(1).map((m, i) => {
    const lr = localOf(m.name === "API key" ? KEY : m.name === "JWT ES256" ? JWT.ES256 : JWT.RS256);
    const up = upgrades[i + 1]!;
    const req = requests[i + 1]!;
    return {
      credential: m.name,
      in_process_cpu_us: round(lr.cpu_us_per_call - none.local.cpu_us_per_call, 2),
      in_process_p50_us: round(lr.us.p50 - none.local.us.p50, 2),
      upgrade_gateway_cpu_us: up.cpu_us.gateway - none.up.cpu_us.gateway,
      upgrade_p50_ms: round(up.latency_ms.p50 - none.up.latency_ms.p50),
      request_gateway_cpu_us: req.cpu_us.gateway - none.req.cpu_us.gateway,
      request_path_cpu_us: path(req) - path(none.req),
      request_p50_ms: round(req.latency_ms.p50 - none.req.latency_ms.p50),
      // the in-process cost against the whole path's CPU for an anonymous request and upgrade
      share_of_request_path_cpu: round((lr.cpu_us_per_call - none.local.cpu_us_per_call) / path(none.req), 4),
      share_of_upgrade_path_cpu: round((lr.cpu_us_per_call - none.local.cpu_us_per_call) / path(none.up), 4),
    };
  });

  const file = writeResult("auth", {
    quick,
    options: { ...O, clients: CLIENTS },
    node: process.version,
    openssl: process.versions.openssl,
    token_chars: local.tokenChars,
    in_process: { rows: local.rows, timer_floor_us: local.timerFloorUs },
    stack: { gateway_processes: 1, workers: 1, upgrades, requests },
    gateway_accepted: { counted, sent, agree: countsAgree },
    added_vs_none: added,
  });

  const fails = (r: { failures: number; warmup_failures?: number }) => r.failures + (r.warmup_failures ?? 0);
  const cpuCols = (r: StackRow) => [r.cpu_us.gateway, r.cpu_us.worker, r.cpu_us.nats_server, r.cpu_us.bench];
  process.stdout.write(
    `${table([
      ["Authenticator.authenticate, in this process", "calls/s", "p50 µs", "p99 µs", "CPU µs/call", "failed"],
      ...local.rows.map((r) => [r.name, r.calls_per_s, r.us.p50, r.us.p99, r.cpu_us_per_call, r.failures]),
    ])}\n` +
      `${O.calls} calls per row in a row (calls/s, CPU) and ${O.calls} one by one (p50, p99; hrtime around an empty statement: p50 ${local.timerFloorUs.p50} µs), ` +
      `after ${O.callWarmup} warm-up, in ${O.blocks} blocks; tokens ${local.tokenChars.ES256} (ES256) and ${local.tokenChars.RS256} (RS256) characters\n\n` +
      `${table([
        ["WebSocket /ws upgrade, one at a time", "upgrades/s", "p50 ms", "p99 ms", "CPU µs: gateway", "worker", "nats", "bench", "failed"],
        ...upgrades.map((r) => [r.name, r.per_s, r.latency_ms.p50, r.latency_ms.p99, ...cpuCols(r), fails(r)]),
      ])}\n` +
      `connect → 101 → open (the latency), then close and wait for it (in upgrades/s); ${O.upgrades} per row after ${O.upgradeWarmup} warm-up, in ${O.blocks} blocks\n\n` +
      `${table([
        [`GET /v1/models, ${CLIENTS} clients`, "req/s", "p50 ms", "p99 ms", "CPU µs: gateway", "worker", "nats", "bench", "failed"],
        ...requests.map((r) => [r.name, r.per_s, r.latency_ms.p50, r.latency_ms.p99, ...cpuCols(r), fails(r)]),
      ])}\n` +
      `keep-alive connections, a request in flight per client; ${O.requests} per row after ${O.requestWarmup} warm-up, in ${O.blocks} blocks\n\n` +
      `${table([
        [
          "added vs none",
          "in-process CPU µs",
          "upgrade: gateway CPU µs",
          "p50 ms",
          "request: gateway CPU µs",
          "path CPU µs",
          "p50 ms",
          "in-process ÷ path CPU: upgrade",
          "request",
        ],
        ...added.map((a) => [
          a.credential,
          a.in_process_cpu_us,
          a.upgrade_gateway_cpu_us,
          a.upgrade_p50_ms,
          a.request_gateway_cpu_us,
          a.request_path_cpu_us,
          a.request_p50_ms,
          pct(a.in_process_cpu_us, path(none.up)),
          pct(a.in_process_cpu_us, path(none.req)),
        ]),
      ])}\n` +
      `path CPU: gateway + worker + nats-server per request (none: ${path(none.req)} µs per request, ${path(none.up)} µs per upgrade); ` +
      `the gateway counted ${countsAgree ? "exactly" : "OTHER numbers than"} the attempts the bench made, by kind\n${file}\n`,
  );
  const total = local.rows.reduce((a, r) => a + r.failures, 0) + [...upgrades, ...requests].reduce((a, r) => a + fails(r), 0);
  if (total > 0) {
    const first = local.rows.find((r) => r.first_failure)?.first_failure ?? [...upgrades, ...requests].find((r) => r.first_failure)?.first_failure;
    log(`FAILED: ${total} calls failed or got a wrong answer; the first: ${first}`);
  }
  return total;
});
