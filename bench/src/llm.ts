// bench:llm — streamed chat completions through RADIANT against the same echo upstream called straight
// (and through the egress proxy alone), same run: added latency and where it goes, chunks/s, 1,000
// streams at once, HISTORY messages per answer with the workers' coalescing and without.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import http from "node:http";
import type http2 from "node:http2";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, StorageType } from "@nats-io/jetstream";
import { freePort, stopChild } from "@radiant/infra/proc";
import { AckedPublisher } from "@radiant/infra/publish";
import { Stack } from "@radiant/infra/stack";
import { HISTORY_STREAM, subjects } from "@radiant/wire";
import { newHistogram, p50p99, recordMs, type Histogram } from "./latency.js";
import { chatBody, checkAnswer, direct, openH2, overHttp1, prompt, type Streamed } from "./llm_client.js";
import { Tap } from "./llm_tap.js";
import { round, table, writeResult } from "./results.js";
import { cpuSecondsMeter } from "./system.js";

const quick = process.argv.includes("--quick");
/** the echo's pause between chunks: a model streaming ~100 tokens/s */
const PACE_MS = 10;
/** latency: sequential answers of this many words, per path and run */
const LAT_WORDS = 10;
const LAT_SAMPLES = quick ? 30 : 200;
const LAT_WARM = quick ? 5 : 20;
/** answers per path and run from the timed upstream in this process (where the added time goes) */
const TAP_SAMPLES = quick ? 20 : 100;
/** runs of the latency and throughput parts: the machine is shared, the median run is reported */
const RUNS = quick ? 1 : 3;
/** throughput: a closed loop of this many streams, answers of THR_WORDS words sent as fast as the echo can (pace 0) */
const THR_CONCURRENCY = quick ? 32 : 128;
const THR_WORDS = 100;
const THR_REQUESTS = quick ? 300 : 2000;
/** streams opened at once, each MANY_WORDS words at PACE_MS */
const MANY = quick ? 100 : 1000;
const MANY_WORDS = 20;
/** HISTORY messages per answer of HIST_WORDS words, at these paces, for WORKER_COALESCE_MS 5 (default) and 0 */
const HIST_WORDS = quick ? 50 : 200;
const HIST_PACES = quick ? [0, 2] : [0, 2, 10];
/** TTFT once more, with each window, at a pace inside it: the upstream's role chunk opens the window the first word then falls in */
const FAST_PACE_MS = 1;
const FAST_SAMPLES = quick ? 20 : 100;
const TARGET_ADDED_TTFT_MS = { p50: 2, p99: 10 };
/** two cores: a gateway process each (SO_REUSEPORT shares the port), as a deployment would run */
const GATEWAY_PROCESSES = cpus().length >= 2 ? 2 : 1;
const WORKERS = 2;

const log = (s: string) => process.stderr.write(`[llm] ${s}\n`);
const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
/** A percentile of values that may be negative (differences), which an HdrHistogram does not take. */
const quantile = (v: number[], p: number) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

const dir = mkdtempSync(join(tmpdir(), "radiant-bench-"));
// the timed upstream's model, routed by the stack's model table with the echo's
const tapPort = await freePort("127.0.0.1");
const modelsFile = join(dir, "bench-models.json");
writeFileSync(modelsFile, JSON.stringify({ models: [{ match: "bench-tap", format: "openai", baseUrl: `https://127.0.0.1:${tapPort}`, keyEnv: null }] }));
log(`starting the stack: ${GATEWAY_PROCESSES} gateway processes, ${WORKERS} workers, echo chunks every ${PACE_MS} ms`);
const stack = await Stack.start({
  dir,
  gatewayProcesses: GATEWAY_PROCESSES,
  workers: WORKERS,
  echoChunkDelayMs: PACE_MS,
  env: { RADIANT_MODELS: modelsFile },
});
const gatewayBase = new URL(stack.wsUrl.replace(/^ws/, "http").replace(/\/ws$/, ""));
const egressBase = new URL(stack.egressUrl);
const echoCa = readFileSync(stack.echoCertFile!);
const opened: { close(): void }[] = [];
let nc: NatsConnection | undefined;
let cleaning: Promise<void> | undefined;
const cleanUp = () =>
  (cleaning ??= (async () => {
    for (const o of opened) o.close();
    await nc?.close().catch(() => {});
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  })());
process.once("SIGINT", () => void cleanUp().then(() => process.exit(130)));
process.once("SIGTERM", () => void cleanUp().then(() => process.exit(143)));

const h2 = async (): Promise<http2.ClientHttp2Session> => {
  const s = await openH2(stack.echoUrls!.openai, echoCa);
  opened.push(s);
  return s;
};
/** an agent that `close()` destroys with its sockets */
const agent = (o: http.AgentOptions): http.Agent & { close(): void } => {
  const a = Object.assign(new http.Agent(o), { close: () => a.destroy() });
  opened.push(a);
  return a;
};
const admin = await h2();
// the egress proxy trusts the echo's certificate: the timed upstream shows the same one
const tap = await Tap.start({
  host: "127.0.0.1",
  port: tapPort,
  key: readFileSync(join(dirname(stack.echoCertFile!), "key.pem"), "utf8"),
  cert: echoCa.toString("utf8"),
  paceMs: PACE_MS,
});
opened.push(tap);

/** The echo's admin API, over the HTTP/2 session that trusts its certificate. */
async function echoAdmin(method: "GET" | "POST", path: string, body?: unknown): Promise<unknown> {
  const s = admin.request({ ":method": method, ":path": path, ...(body === undefined ? {} : { "content-type": "application/json" }) });
  const parts: Buffer[] = [];
  s.on("data", (b: Buffer) => parts.push(b));
  const done = new Promise<void>((resolve, reject) => {
    s.on("end", resolve);
    s.on("error", reject);
  });
  s.end(body === undefined ? undefined : JSON.stringify(body));
  await done;
  return JSON.parse(Buffer.concat(parts).toString("utf8")) as unknown;
}
/** the next model requests get these chunk paces, one each in order of arrival (echo faults); [] clears what is left */
const setPaces = (paces: number[]) =>
  echoAdmin(
    "POST",
    "/_echo/faults",
    paces.map((chunkDelayMs) => ({ chunkDelayMs })),
  );
const echoStats = () => echoAdmin("GET", "/_echo/stats") as Promise<{ requests: number; maxConcurrentStreams: number }>;

// ---- 1. added latency: the same answers, one at a time, straight / through the egress proxy / through RADIANT ----

type Path = "direct" | "egress" | "radiant";
const PATHS: Path[] = ["direct", "egress", "radiant"];

interface LatencyRun {
  ttft_ms: Record<Path, { p50: number; p99: number }>;
  chunk_gap_ms: Record<Path, { p50: number; p99: number }>;
  /** each chunk's arrival (from its request) minus the same chunk's in the direct answer of the same round */
  chunk_added_ms: Record<"egress" | "radiant", { p50: number; p99: number }>;
  /** the same for the first chunk alone: TTFT minus the same round's direct TTFT */
  ttft_added_paired_ms: Record<"egress" | "radiant", { p50: number; p99: number }>;
  /** timed upstream: request sent → its body at the upstream */
  request_to_upstream_ms: Record<Path, { p50: number; p99: number }>;
  /** timed upstream: each content chunk written by the upstream → read by the client */
  chunk_upstream_to_client_ms: Record<Path, { p50: number; p99: number }>;
  /** timed upstream, RADIANT: the way in pieces, from what this process sees of it on NATS */
  radiant_segments_ms: Record<Segment, { p50: number; p99: number }>;
  failures: number;
}

/**
 * RADIANT's way in pieces. NATS marks: a core subscription here sees the
 * gateway's INBOX publish and the worker's HISTORY publish as the stream does,
 * and the copy the server republishes once stored (each a NATS hop later than
 * the publisher, ~0.1 ms).
 */
const SEGMENTS = [
  "client_to_inbox_publish",
  "inbox_publish_to_upstream",
  "first_chunk_upstream_to_history_publish",
  "first_chunk_history_publish_to_republished",
  "first_chunk_republished_to_client",
  "chunk_upstream_to_history_publish",
  "chunk_history_publish_to_republished",
  "chunk_republished_to_client",
] as const;
type Segment = (typeof SEGMENTS)[number];

/** What this process saw on NATS during one answer. */
class NatsMarks {
  readonly inbox: number[] = [];
  readonly history: { t: number; text: string }[] = [];
  readonly live: { t: number; text: string }[] = [];
  private readonly subs: { unsubscribe(): void }[];

  constructor(conn: NatsConnection) {
    const text =
      (list: { t: number; text: string }[]) =>
      (_e: unknown, m: { string(): string }): void => {
        list.push({ t: performance.now(), text: m.string() });
      };
    this.subs = [
      conn.subscribe(subjects.inboxAll, {
        callback: () => {
          this.inbox.push(performance.now());
        },
      }),
      conn.subscribe(subjects.historyAll, { callback: text(this.history) }),
      conn.subscribe(subjects.liveAll, { callback: text(this.live) }),
    ];
  }

  clear(): void {
    // emptied in place: the subscriptions hold these arrays
    this.inbox.length = 0;
    this.history.length = 0;
    this.live.length = 0;
  }

  /** when a message holding this content chunk was seen */
  static when(list: { t: number; text: string }[], piece: string): number | undefined {
    const needle = `"content":${JSON.stringify(piece)}`;
    return list.find((m) => m.text.includes(needle))?.t;
  }

  close(): void {
    for (const s of this.subs) s.unsubscribe();
  }
}

const byPath = <T>(f: (p: Path) => T) => Object.fromEntries(PATHS.map((p) => [p, f(p)])) as Record<Path, T>;

/** Round i: one answer per path, one after the other, in a turning order (no path always goes first, right after a pause). */
async function round3(i: number, once: (p: Path) => Promise<Streamed>): Promise<Record<Path, Streamed>> {
  const got = {} as Record<Path, Streamed>;
  for (let j = 0; j < PATHS.length; j++) {
    const p = PATHS[(i + j) % PATHS.length]!;
    got[p] = await once(p);
  }
  return got;
}

let runNo = 0;

async function latencyRun(): Promise<LatencyRun> {
  const run = runNo++;
  const echo = await h2();
  const tapped = await openH2(`https://127.0.0.1:${tapPort}`, echoCa);
  opened.push(tapped);
  const gw = agent({ keepAlive: true, maxSockets: 1 });
  const eg = agent({ keepAlive: true, maxSockets: 1 });
  const send = (p: Path, model: string, session: http2.ClientHttp2Session, body: string): Promise<Streamed> =>
    p === "direct"
      ? direct(session, body, 30_000)
      : p === "egress"
        ? overHttp1(eg, egressBase, body, 30_000, { "radiant-model": model, "radiant-request-id": "bench-llm" })
        : overHttp1(gw, gatewayBase, body, 30_000);
  const ttft = byPath(() => newHistogram());
  const gaps = byPath(() => newHistogram());
  const added: Record<"egress" | "radiant", number[]> = { egress: [], radiant: [] };
  const addedFirst: Record<"egress" | "radiant", number[]> = { egress: [], radiant: [] };
  let failures = 0;
  const text = prompt("w", LAT_WORDS);
  const body = chatBody(text);
  for (let i = 0; i < LAT_WARM + LAT_SAMPLES; i++) {
    const got = await round3(i, (p) => send(p, "echo-openai", echo, body));
    if (i < LAT_WARM) continue;
    if (PATHS.some((p) => checkAnswer(got[p], text) !== undefined)) {
      failures++;
      continue;
    }
    for (const p of PATHS) {
      const at = got[p].at;
      recordMs(ttft[p], at[0]!);
      for (let k = 1; k < at.length; k++) recordMs(gaps[p], at[k]! - at[k - 1]!);
    }
    for (const p of ["egress", "radiant"] as const) {
      for (let k = 0; k < LAT_WORDS; k++) added[p].push(got[p].at[k]! - got.direct.at[k]!);
      addedFirst[p].push(got[p].at[0]! - got.direct.at[0]!);
    }
  }

  // the same on the timed upstream: which way the added time goes, to it or back
  const toUpstream = byPath(() => newHistogram());
  const toClient = byPath(() => newHistogram());
  const segments = Object.fromEntries(SEGMENTS.map((g) => [g, newHistogram()])) as Record<Segment, Histogram>;
  const marks = new NatsMarks(nc!);
  for (let i = 0; i < LAT_WARM + TAP_SAMPLES; i++) {
    const texts = byPath((p) => prompt(`x${run}.${i}.${p}`, LAT_WORDS));
    const got = await round3(i, (p) => {
      if (p === "radiant") marks.clear();
      return send(p, "bench-tap", tapped, chatBody(texts[p], "bench-tap"));
    });
    if (i < LAT_WARM) continue;
    const seen = byPath((p) => tap.seen.get(`x${run}.${i}.${p}`));
    if (PATHS.some((p) => checkAnswer(got[p], texts[p]) !== undefined || seen[p]?.sent.length !== LAT_WORDS)) {
      failures++;
      continue;
    }
    for (const p of PATHS) {
      const s = got[p];
      const t = seen[p]!;
      recordMs(toUpstream[p], t.arrived - s.sentAt);
      for (let k = 0; k < LAT_WORDS; k++) recordMs(toClient[p], s.sentAt + s.at[k]! - t.sent[k]!);
    }
    const s = got.radiant;
    const t = seen.radiant!;
    if (marks.inbox.length !== 1) continue;
    recordMs(segments.client_to_inbox_publish, marks.inbox[0]! - s.sentAt);
    recordMs(segments.inbox_publish_to_upstream, t.arrived - marks.inbox[0]!);
    for (let k = 0; k < LAT_WORDS; k++) {
      const hist = NatsMarks.when(marks.history, s.pieces[k]!);
      const live = NatsMarks.when(marks.live, s.pieces[k]!);
      if (hist === undefined || live === undefined) continue;
      const first = k === 0 ? "first_chunk_" : "chunk_";
      recordMs(segments[`${first}upstream_to_history_publish` as Segment], hist - t.sent[k]!);
      recordMs(segments[`${first}history_publish_to_republished` as Segment], live - hist);
      recordMs(segments[`${first}republished_to_client` as Segment], s.sentAt + s.at[k]! - live);
    }
  }
  marks.close();
  tap.seen.clear();
  for (const c of [echo, tapped, gw, eg]) c.close();

  const signed = (v: number[]) => ({ p50: round(quantile(v, 50)), p99: round(quantile(v, 99)) });
  return {
    ttft_ms: byPath((p) => p50p99(ttft[p])),
    chunk_gap_ms: byPath((p) => p50p99(gaps[p])),
    chunk_added_ms: { egress: signed(added.egress), radiant: signed(added.radiant) },
    ttft_added_paired_ms: { egress: signed(addedFirst.egress), radiant: signed(addedFirst.radiant) },
    request_to_upstream_ms: byPath((p) => p50p99(toUpstream[p])),
    chunk_upstream_to_client_ms: byPath((p) => p50p99(toClient[p])),
    radiant_segments_ms: Object.fromEntries(SEGMENTS.map((g) => [g, p50p99(segments[g])])) as Record<Segment, { p50: number; p99: number }>,
    failures,
  };
}

/**
 * A reference: one JetStream publish on this nats-server, to a file stream that
 * republishes what it stores (as HISTORY does), timed from the publish to the
 * republished copy — a NATS round trip with a store in it.
 */
async function jetstreamHop(conn: NatsConnection, n: number): Promise<{ p50: number; p99: number }> {
  const jsm = await jetstreamManager(conn);
  await jsm.streams.add({
    name: "BENCH_LLM_HOP",
    subjects: ["benchllm.in.>"],
    storage: StorageType.File,
    republish: { src: "benchllm.in.>", dest: "benchllm.out.>" },
  });
  const publisher = new AckedPublisher(conn, 10_000);
  let arrived: (() => void) | undefined;
  const sub = conn.subscribe("benchllm.out.>", { callback: () => arrived?.() });
  await conn.flush();
  const h = newHistogram();
  const data = new Uint8Array(300);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const got = new Promise<void>((r) => (arrived = r));
    void publisher.publish(`benchllm.in.${i}`, data);
    await got;
    if (i >= 20) recordMs(h, performance.now() - t0);
  }
  sub.unsubscribe();
  await jsm.streams.delete("BENCH_LLM_HOP");
  return p50p99(h);
}

// ---- 2. throughput: a closed loop of many streams ----

type Component = "gateway" | "workers" | "egress_proxy" | "nats_server" | "echo" | "bench";

/** Starts counting; the returned function gives each process's CPU since, in % of one core: what a figure is bound by. */
function cpuMeter(): () => Record<Component, number> {
  const since = cpuSecondsMeter<Exclude<Component, "bench">>({
    gateway: [stack.gateway!.child.pid!],
    workers: stack.workers.map((w) => w.child.pid!),
    egress_proxy: [stack.egress!.child.pid!],
    nats_server: [stack.nats.pid!],
    echo: [stack.echo!.child.pid!],
  });
  const t0 = performance.now();
  return () => {
    const s = (performance.now() - t0) / 1000;
    return Object.fromEntries(Object.entries(since()).map(([k, v]) => [k, round((v / s) * 100, 1)])) as Record<Component, number>;
  };
}

interface ThroughputRun {
  chunks_per_s: number;
  answers_per_s: number;
  answers: number;
  failures: number;
  seconds: number;
  cpu_pct?: Record<Component, number>;
}

async function closedLoop(k: number, total: number, one: (i: number) => Promise<string | undefined>): Promise<ThroughputRun> {
  let next = 0;
  let failures = 0;
  const until = Date.now() + 120_000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: k }, async () => {
      while (next < total && Date.now() < until) if ((await one(next++)) !== undefined) failures++;
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const answers = next - failures;
  return {
    chunks_per_s: Math.round((answers * THR_WORDS) / seconds),
    answers_per_s: Math.round(answers / seconds),
    answers,
    failures,
    seconds: round(seconds, 2),
  };
}

async function throughputRun(path: "radiant" | "direct"): Promise<ThroughputRun> {
  await setPaces(Array(THR_REQUESTS + THR_CONCURRENCY).fill(0));
  const session = await h2();
  const gw = agent({ keepAlive: true, maxSockets: THR_CONCURRENCY });
  const cpu = cpuMeter();
  const r: ThroughputRun = await closedLoop(THR_CONCURRENCY, THR_REQUESTS, async (i) => {
    const text = prompt(`t${i}`, THR_WORDS);
    const s = path === "radiant" ? await overHttp1(gw, gatewayBase, chatBody(text), 60_000) : await direct(session, chatBody(text), 60_000);
    return checkAnswer(s, text);
  });
  if (path === "radiant") r.cpu_pct = cpu();
  session.close();
  gw.close();
  await setPaces([]);
  return r;
}

// ---- 3. many streams at once ----

async function manyStreams() {
  const before = await echoStats();
  // a socket per stream, as that many clients would have
  const a = agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  const texts = Array.from({ length: MANY }, (_, i) => prompt(`s${i}`, MANY_WORDS));
  const cpu = cpuMeter();
  const t0 = performance.now();
  const got = await Promise.all(texts.map((text) => overHttp1(a, gatewayBase, chatBody(text), 300_000)));
  const seconds = (performance.now() - t0) / 1000;
  const cpuPct = cpu();
  a.close();
  const after = await echoStats();
  const problems = got.map((s, i) => checkAnswer(s, texts[i]!)).filter((p): p is string => p !== undefined);
  const ttft = newHistogram();
  const streaming = newHistogram();
  let chunks = 0;
  // how many answers were streaming (between their first and last chunk) at once, as the client saw them
  const edges: [number, number][] = [];
  for (const s of got) {
    chunks += s.pieces.length;
    if (s.at.length === 0) continue;
    recordMs(ttft, s.at[0]!);
    recordMs(streaming, s.at.at(-1)! - s.at[0]!);
    edges.push([s.sentAt + s.at[0]!, 1], [s.sentAt + s.at.at(-1)!, -1]);
  }
  edges.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let now = 0;
  let most = 0;
  for (const [, d] of edges) most = Math.max(most, (now += d));
  return {
    streams: MANY,
    words: MANY_WORDS,
    pace_ms: PACE_MS,
    complete: MANY - problems.length,
    failures: problems.length,
    failure_examples: [...new Set(problems)].slice(0, 5),
    wall_s: round(seconds, 2),
    chunks,
    chunks_per_s: Math.round(chunks / seconds),
    ttft_ms: p50p99(ttft),
    /** an answer's first chunk → its last (MANY_WORDS - 1 pauses of PACE_MS unloaded) */
    first_to_last_chunk_ms: p50p99(streaming),
    max_streaming_at_once: most,
    upstream_requests: after.requests - before.requests,
    // the most upstream streams one egress connection carried at once (the echo counts per connection)
    upstream_max_concurrent_streams: after.maxConcurrentStreams,
    cpu_pct: cpuPct,
  };
}

// ---- 4. HISTORY messages per answer ----

async function historyLastSeq(conn: NatsConnection): Promise<number> {
  const jsm = await jetstreamManager(conn);
  return (await jsm.streams.info(HISTORY_STREAM)).state.last_seq;
}

/** HISTORY's last sequence once nothing has been stored for a while (stragglers of earlier parts). */
async function quietLastSeq(conn: NatsConnection): Promise<number> {
  let last = await historyLastSeq(conn);
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 300));
    const now = await historyLastSeq(conn);
    if (now === last) return now;
    last = now;
  }
  throw new Error("HISTORY never went quiet");
}

async function historyRows(conn: NatsConnection, coalesceMs: number) {
  const gw = agent({ keepAlive: true, maxSockets: 1 });
  const rows: { coalesce_ms: number; pace_ms: number; messages: number; answer_s: number }[] = [];
  for (const pace of HIST_PACES) {
    const text = prompt(`h${coalesceMs}.${pace}`, HIST_WORDS);
    const before = await quietLastSeq(conn);
    await setPaces([pace]);
    const t0 = performance.now();
    const s = await overHttp1(gw, gatewayBase, chatBody(text), 120_000);
    const seconds = (performance.now() - t0) / 1000;
    const bad = checkAnswer(s, text);
    if (bad) throw new Error(`HISTORY part, WORKER_COALESCE_MS=${coalesceMs}, pace ${pace} ms: ${bad}`);
    rows.push({ coalesce_ms: coalesceMs, pace_ms: pace, messages: (await quietLastSeq(conn)) - before, answer_s: round(seconds, 2) });
  }
  gw.close();
  return rows;
}

/** TTFT straight and through RADIANT, one answer at a time, at FAST_PACE_MS. */
async function fastPaceTtft(coalesceMs: number) {
  const session = await h2();
  const gw = agent({ keepAlive: true, maxSockets: 1 });
  const text = prompt("f", LAT_WORDS);
  const body = chatBody(text);
  const n = LAT_WARM + FAST_SAMPLES;
  await setPaces(Array(2 * n).fill(FAST_PACE_MS));
  const ttft = { direct: newHistogram(), radiant: newHistogram() };
  let failures = 0;
  for (let i = 0; i < n; i++) {
    const d = await direct(session, body, 30_000);
    const g = await overHttp1(gw, gatewayBase, body, 30_000);
    if (i < LAT_WARM) continue;
    if (checkAnswer(d, text) !== undefined || checkAnswer(g, text) !== undefined) {
      failures++;
      continue;
    }
    recordMs(ttft.direct, d.at[0]!);
    recordMs(ttft.radiant, g.at[0]!);
  }
  await setPaces([]);
  session.close();
  gw.close();
  const straight = p50p99(ttft.direct);
  const radiant = p50p99(ttft.radiant);
  return {
    coalesce_ms: coalesceMs,
    pace_ms: FAST_PACE_MS,
    answers: FAST_SAMPLES,
    direct: straight,
    radiant,
    added_p50: round(radiant.p50 - straight.p50),
    failures,
  };
}

// ---- the run ----

try {
  nc = await connect({ servers: stack.nats.url, noAsyncTraces: true });

  log(`latency: ${RUNS} run(s) of ${LAT_SAMPLES} answers of ${LAT_WORDS} words per path, one at a time`);
  const latencyRuns: LatencyRun[] = [];
  for (let r = 0; r < RUNS; r++) {
    latencyRuns.push(await latencyRun());
    const l = latencyRuns[r]!;
    log(`  run ${r + 1}: TTFT p50 direct ${l.ttft_ms.direct.p50} / egress ${l.ttft_ms.egress.p50} / RADIANT ${l.ttft_ms.radiant.p50} ms`);
  }
  const hop = await jetstreamHop(nc, quick ? 200 : 1000);
  const med = (f: (l: LatencyRun) => number) => round(median(latencyRuns.map(f)));
  const pair = (f: (l: LatencyRun) => { p50: number; p99: number }) => ({ p50: med((l) => f(l).p50), p99: med((l) => f(l).p99) });
  const ttft = { direct: pair((l) => l.ttft_ms.direct), egress: pair((l) => l.ttft_ms.egress), radiant: pair((l) => l.ttft_ms.radiant) };
  const addedTtft = { p50: med((l) => l.ttft_ms.radiant.p50 - l.ttft_ms.direct.p50), p99: med((l) => l.ttft_ms.radiant.p99 - l.ttft_ms.direct.p99) };
  const latency = {
    words: LAT_WORDS,
    pace_ms: PACE_MS,
    answers_per_path_per_run: LAT_SAMPLES,
    runs: RUNS,
    // every figure below is the median of the runs' own
    ttft_ms: ttft,
    added_ttft_ms: addedTtft,
    egress_added_ttft_ms: { p50: med((l) => l.ttft_ms.egress.p50 - l.ttft_ms.direct.p50), p99: med((l) => l.ttft_ms.egress.p99 - l.ttft_ms.direct.p99) },
    chunk_gap_ms: { direct: pair((l) => l.chunk_gap_ms.direct), egress: pair((l) => l.chunk_gap_ms.egress), radiant: pair((l) => l.chunk_gap_ms.radiant) },
    chunk_added_ms: { egress: pair((l) => l.chunk_added_ms.egress), radiant: pair((l) => l.chunk_added_ms.radiant) },
    added_ttft_paired_ms: { egress: pair((l) => l.ttft_added_paired_ms.egress), radiant: pair((l) => l.ttft_added_paired_ms.radiant) },
    // the timed upstream in this process: the two halves of the way, on one clock
    request_to_upstream_ms: byPath((p) => pair((l) => l.request_to_upstream_ms[p])),
    chunk_upstream_to_client_ms: byPath((p) => pair((l) => l.chunk_upstream_to_client_ms[p])),
    radiant_segments_ms: Object.fromEntries(SEGMENTS.map((g) => [g, pair((l) => l.radiant_segments_ms[g])])) as Record<Segment, { p50: number; p99: number }>,
    // judged on added_ttft_ms (RADIANT's percentile minus direct's); added_ttft_paired_ms (each round's
    // RADIANT TTFT minus its own direct one) is the per-request view of the same
    targets: {
      added_ttft_p50_ms: TARGET_ADDED_TTFT_MS.p50,
      added_ttft_p99_ms: TARGET_ADDED_TTFT_MS.p99,
      p50_met: addedTtft.p50 <= TARGET_ADDED_TTFT_MS.p50,
      p99_met: addedTtft.p99 <= TARGET_ADDED_TTFT_MS.p99,
    },
    jetstream_store_and_republish_ms: hop,
    failures: latencyRuns.reduce((a, l) => a + l.failures, 0),
    per_run: latencyRuns,
  };

  log(`${MANY} streams at once, ${MANY_WORDS} words each, a chunk every ${PACE_MS} ms`);
  const many = await manyStreams();
  log(
    `  ${many.complete}/${many.streams} complete in ${many.wall_s} s, ${many.chunks_per_s} chunks/s, TTFT p50 ${many.ttft_ms.p50} ms, p99 ${many.ttft_ms.p99} ms`,
  );

  log(`throughput: ${RUNS} run(s) of ${THR_REQUESTS} answers of ${THR_WORDS} words, ${THR_CONCURRENCY} streams at a time, no pause between chunks`);
  const thrRuns: { radiant: ThroughputRun; direct: ThroughputRun }[] = [];
  for (let r = 0; r < RUNS; r++) {
    const radiant = await throughputRun("radiant");
    const straight = await throughputRun("direct");
    thrRuns.push({ radiant, direct: straight });
    log(`  run ${r + 1}: RADIANT ${radiant.chunks_per_s} chunks/s, direct ${straight.chunks_per_s} chunks/s`);
  }
  const throughput = {
    concurrency: THR_CONCURRENCY,
    words: THR_WORDS,
    answers_per_run: THR_REQUESTS,
    runs: RUNS,
    pace_ms: 0,
    chunks_per_s: Math.round(median(thrRuns.map((t) => t.radiant.chunks_per_s))),
    answers_per_s: Math.round(median(thrRuns.map((t) => t.radiant.answers_per_s))),
    direct_chunks_per_s: Math.round(median(thrRuns.map((t) => t.direct.chunks_per_s))),
    failures: thrRuns.reduce((a, t) => a + t.radiant.failures + t.direct.failures, 0),
    // the run with the median figure: which process it was bound by
    cpu_pct: [...thrRuns].sort((x, y) => x.radiant.chunks_per_s - y.radiant.chunks_per_s)[Math.floor(thrRuns.length / 2)]!.radiant.cpu_pct,
    per_run: thrRuns,
  };

  log(`HISTORY messages per answer of ${HIST_WORDS} words: WORKER_COALESCE_MS=5 (default), then 0`);
  const historyMessages = await historyRows(nc, 5);
  const fastTtft = [await fastPaceTtft(5)];
  for (const w of [...stack.workers]) await stopChild(w.child);
  stack.workers = [];
  await stack.startWorker({ WORKER_COALESCE_MS: "0" });
  historyMessages.push(...(await historyRows(nc, 0)));
  fastTtft.push(await fastPaceTtft(0));

  const out = {
    quick,
    gateway_processes: GATEWAY_PROCESSES,
    workers: WORKERS,
    latency,
    throughput,
    many_streams: many,
    history: { words: HIST_WORDS, rows: historyMessages },
    ttft_at_fast_pace: fastTtft,
  };
  const path = writeResult("llm", out);
  const both = (v: { p50: number; p99: number }) => `${v.p50} / ${v.p99}`;
  const row = (name: string, p: Path) => [
    name,
    both(ttft[p]),
    both(latency.chunk_gap_ms[p]),
    p === "direct" ? "—" : both(latency.chunk_added_ms[p]),
    both(latency.request_to_upstream_ms[p]),
    both(latency.chunk_upstream_to_client_ms[p]),
  ];
  const hist = (c: number, p: number) => historyMessages.find((r) => r.coalesce_ms === c && r.pace_ms === p)!;
  const yes = (b: boolean) => (b ? "met" : "missed");
  process.stdout.write(
    `${table([
      ["path (ms, p50 / p99)", "TTFT", "chunk gap", "chunk added vs direct", "request → upstream", "chunk upstream → client"],
      row("straight to the echo (HTTP/2)", "direct"),
      row("through the egress proxy only", "egress"),
      row("through RADIANT", "radiant"),
    ])}\n\n` +
      `added TTFT: p50 ${addedTtft.p50} ms (target ≤ ${TARGET_ADDED_TTFT_MS.p50}: ${yes(latency.targets.p50_met)}), ` +
      `p99 ${addedTtft.p99} ms (target ≤ ${TARGET_ADDED_TTFT_MS.p99}: ${yes(latency.targets.p99_met)}); ` +
      `paired with the same round's direct answer: p50 ${latency.added_ttft_paired_ms.radiant.p50} ms, p99 ${latency.added_ttft_paired_ms.radiant.p99} ms; ` +
      `one JetStream store + republish: p50 ${hop.p50} ms, p99 ${hop.p99} ms\n` +
      `${LAT_WORDS} words a chunk every ${PACE_MS} ms, ${LAT_SAMPLES} answers per path per run (the last two columns: ${TAP_SAMPLES}, ` +
      `from a timed upstream in this process), median of ${RUNS} run(s)\n\n` +
      `${table([["through RADIANT, in pieces (ms)", "p50", "p99"], ...SEGMENTS.map((g) => [g.replaceAll("_", " "), latency.radiant_segments_ms[g].p50, latency.radiant_segments_ms[g].p99])])}\n\n` +
      `throughput (${THR_CONCURRENCY} streams, ${THR_WORDS} words, no pause): ${throughput.chunks_per_s} chunks/s through RADIANT ` +
      `(${throughput.answers_per_s} answers/s), ${throughput.direct_chunks_per_s} straight; ${throughput.failures} failed\n` +
      `  CPU, % of one core: ${Object.entries(throughput.cpu_pct ?? {})
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")}\n` +
      `${MANY} streams at once (${MANY_WORDS} words, ${PACE_MS} ms pace): ${many.complete} complete, ${many.failures} failed, ` +
      `${many.wall_s} s, ${many.chunks_per_s} chunks/s, TTFT p50 ${many.ttft_ms.p50} ms p99 ${many.ttft_ms.p99} ms, ` +
      `${many.max_streaming_at_once} answers streaming at once at most (${many.upstream_max_concurrent_streams} upstream requests on one egress connection), ` +
      `first → last chunk p50 ${many.first_to_last_chunk_ms.p50} ms\n` +
      `  CPU, % of one core: ${Object.entries(many.cpu_pct)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")}\n\n` +
      `${table([
        ["ms between chunks", "HISTORY messages, WORKER_COALESCE_MS=5 (default)", "=0"],
        ...HIST_PACES.map((p) => [p, hist(5, p).messages, hist(0, p).messages]),
      ])}\n` +
      `${HIST_WORDS} words per answer\n\n` +
      `${table([
        [`TTFT at ${FAST_PACE_MS} ms between chunks (ms, p50 / p99)`, "straight", "through RADIANT", "added p50"],
        ...fastTtft.map((f) => [`WORKER_COALESCE_MS=${f.coalesce_ms}`, both(f.direct), both(f.radiant), f.added_p50]),
      ])}\n${path}\n`,
  );
} finally {
  await cleanUp();
}
process.exit(0);
