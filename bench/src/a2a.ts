// bench:a2a — A2A v1.0 `SendMessage` (blocking message/send) round trips through RADIANT
// (gateway → INBOX → worker → HTTP to the agent; the task's events stored in KV and A2A_EVENTS,
// followed back → HISTORY → gateway) against the same agent called straight, same run:
// @a2a-js/sdk's client on both paths, one client calling in sequence and several at once;
// every answer checked.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { ChildProcess } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SendMessageRequest, type SendMessageResult, TaskState } from "@a2a-js/sdk";
import { type Client, ClientFactory } from "@a2a-js/sdk/client";
import { connect } from "@nats-io/transport-node";
import { accepts, freePort, GiveUp, spawnOwned, stopChild, waitFor } from "@radiant/infra/proc";
import { Stack } from "@radiant/infra/stack";
import { A2A_TASKS_BUCKET } from "@radiant/wire";
import { type Histogram, newHistogram, percentilesMs } from "./latency.js";
import { table, writeResult } from "./results.js";
import { treeCpuSeconds } from "./system.js";

const quick = process.argv.includes("--quick");
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i > 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isInteger(v) || v < (name === "warmup" ? 0 : 1)) {
    process.stderr.write(`[a2a] --${name} takes a whole number${name === "warmup" ? "" : " above 0"}\n`);
    process.exit(2);
  }
  return v;
};
/** timed calls per path and mode; the concurrent clients share them */
const CALLS = arg("calls", quick ? 300 : 1000);
/** calls per path and mode before timing: connections, JIT, the gateway's copy of the card */
const WARMUP = arg("warmup", quick ? 50 : 100);
const CLIENTS = arg("clients", 8);
const CALL_TIMEOUT_MS = 10_000;
const BLOCKS = Math.min(8, CALLS);
/** calls of the pass timed at each NATS hop (its own subscriptions cost nats-server a little: kept out of the figures above) */
const TRACE_CALLS = Math.min(CALLS, 500);
/** the agent's name behind RADIANT: `/a2a/bench` */
const AGENT = "bench";

const log = (s: string) => process.stderr.write(`[a2a] ${s}\n`);
const round = (v: number, digits = 3) => Number(v.toFixed(digits));
const recordMs = (h: Histogram, ms: number) => h.recordValue(Math.max(1, Math.round(ms * 1000)));

const agentMain = fileURLToPath(new URL("./a2a_agent.js", import.meta.url));

const dir = mkdtempSync(join(tmpdir(), "radiant-bench-"));
const agentPort = await freePort("127.0.0.1");
const agentUrl = `http://127.0.0.1:${agentPort}/`;
let agent: ChildProcess | undefined;
let agentErr = "";
let stack: Stack | undefined;
let cleaning: Promise<void> | undefined;
const cleanUp = () =>
  (cleaning ??= (async () => {
    await stack?.stop();
    if (agent) await stopChild(agent);
    rmSync(dir, { recursive: true, force: true });
  })());
process.once("SIGINT", () => void cleanUp().then(() => process.exit(130)));
process.once("SIGTERM", () => void cleanUp().then(() => process.exit(143)));

async function startAgent(): Promise<void> {
  log(`starting the @a2a-js/sdk agent (A2A 1.0, JSON-RPC) on 127.0.0.1:${agentPort}`);
  agent = spawnOwned(process.execPath, [agentMain], {
    env: { ...process.env, PORT: String(agentPort), RADIANT_PARENT_PID: String(process.pid) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const child = agent;
  child.stderr?.setEncoding("utf8").on("data", (s: string) => {
    agentErr = (agentErr + s).slice(-4096);
  });
  await waitFor("the agent to listen", async () => {
    if (child.exitCode !== null || child.signalCode !== null) throw new GiveUp(`the agent exited: ${agentErr.trim()}`);
    return accepts("127.0.0.1", agentPort);
  });
}

type Path = "direct" | "radiant";
const PATHS: Path[] = ["direct", "radiant"];
type Component = "gateway" | "worker" | "nats_server" | "agent" | "bench";

/** Starts counting; the returned function gives each process's CPU seconds since. */
function cpuMeter(): () => Record<Component, number> {
  const s = stack!;
  const pids: Record<Exclude<Component, "bench">, number[]> = {
    gateway: [s.gateway!.child.pid!],
    worker: s.workers.map((w) => w.child.pid!),
    nats_server: [s.nats.pid!],
    agent: [agent!.pid!],
  };
  const read = (): Record<Component, number> => {
    const u = process.cpuUsage();
    return {
      ...(Object.fromEntries(Object.entries(pids).map(([k, list]) => [k, list.reduce((a, p) => a + treeCpuSeconds(p), 0)])) as Record<
        Exclude<Component, "bench">,
        number
      >),
      bench: (u.user + u.system) / 1e6,
    };
  };
  const c0 = read();
  return () => {
    const c1 = read();
    return Object.fromEntries(Object.entries(c1).map(([k, v]) => [k, v - c0[k as Component]])) as Record<Component, number>;
  };
}

/** @a2a-js/sdk's client as an application makes it: from the card under `base` (v1.0, JSON-RPC). */
const connectClient = (base: string): Promise<Client> => new ClientFactory().createFromUrl(base);

/** The text of a result's first artifact, if it is a task. */
const artifactText = (r: SendMessageResult): string | undefined =>
  "artifacts" in r ? r.artifacts[0]?.parts.map((p) => (p.content?.$case === "text" ? p.content.value : "")).join("") : undefined;

let sent = 0;
/** One send: undefined when the answer is right (a completed task, the message's text its artifact), else what was wrong with it. */
async function send(c: Client, text: string): Promise<string | undefined> {
  const request = SendMessageRequest.fromJSON({ message: { messageId: `b-${++sent}`, role: "ROLE_USER", parts: [{ text }] } });
  const r = await c.sendMessage(request, { signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
  if (!("status" in r)) return `a message, not a task, for ${JSON.stringify(text)}: ${JSON.stringify(r).slice(0, 200)}`;
  if (r.status?.state !== TaskState.TASK_STATE_COMPLETED) return `task ${r.id} in state ${r.status?.state} for ${JSON.stringify(text)}`;
  const got = artifactText(r);
  return got === text ? undefined : `wrong artifact for ${JSON.stringify(text)}: ${JSON.stringify(got)}`;
}

interface Failures {
  count: number;
  first?: string;
}

/** `total` calls over the clients, each calling in sequence (a closed loop); `done` gets each right answer's times. */
async function drive(cs: Client[], total: number, tag: string, failures: Failures, done?: (message: string, t0: number, t1: number) => void): Promise<void> {
  let next = 0;
  await Promise.all(
    cs.map(async (c) => {
      for (let i = next++; i < total; i = next++) {
        // fixed width: no message is the start of another (the NATS marks find calls by it)
        const message = `${tag}-${String(i).padStart(6, "0")}`;
        const t0 = performance.now();
        let bad: string | undefined;
        try {
          bad = await send(c, message);
        } catch (e) {
          bad = `send ${JSON.stringify(message)} failed: ${(e as Error).message}`;
        }
        if (bad !== undefined) {
          failures.count++;
          failures.first ??= bad;
          continue;
        }
        done?.(message, t0, performance.now());
      }
    }),
  );
}

interface Phase {
  path: Path;
  clients: number;
  calls: number;
  answered: number;
  failures: number;
  warmup_failures: number;
  first_failure?: string;
  seconds: number;
  calls_per_s: number;
  latency_ms: { p50: number; p90: number; p99: number; max: number };
  cpu_us_per_call: Record<Component, number>;
}

/**
 * Both paths with `n` clients each. Each path's calls go in BLOCKS blocks, the paths taking
 * turns (and turns at going first): the machine is shared, and its load drifts over a run.
 */
async function phases(n: number): Promise<Phase[]> {
  const urls: Record<Path, string> = { direct: agentUrl, radiant: `http://127.0.0.1:${stack!.gatewayPort}/a2a/${AGENT}/` };
  const acc = Object.fromEntries(
    PATHS.map((path) => [
      path,
      { cs: [] as Client[], warm: { count: 0 } as Failures, timed: { count: 0 } as Failures, h: newHistogram(), seconds: 0, cpu: {} as Record<string, number> },
    ]),
  ) as Record<Path, { cs: Client[]; warm: Failures; timed: Failures; h: Histogram; seconds: number; cpu: Record<string, number> }>;
  for (const path of PATHS) {
    const a = acc[path];
    a.cs = await Promise.all(Array.from({ length: n }, () => connectClient(urls[path])));
    await drive(a.cs, WARMUP, `warm-${path}-${n}`, a.warm);
  }
  for (let b = 0; b < BLOCKS; b++) {
    const count = Math.floor(((b + 1) * CALLS) / BLOCKS) - Math.floor((b * CALLS) / BLOCKS);
    for (const path of b % 2 === 0 ? PATHS : [...PATHS].reverse()) {
      const a = acc[path];
      const cpu = cpuMeter();
      const t0 = performance.now();
      await drive(a.cs, count, `${path}-${n}-${b}`, a.timed, (_m, t, t1) => recordMs(a.h, t1 - t));
      a.seconds += (performance.now() - t0) / 1000;
      for (const [k, v] of Object.entries(cpu())) a.cpu[k] = (a.cpu[k] ?? 0) + v;
    }
  }
  return PATHS.map((path): Phase => {
    const { warm, timed, h, seconds, cpu } = acc[path];
    const { p50, p90, p99, max } = percentilesMs(h);
    const first = warm.first ?? timed.first;
    return {
      path,
      clients: n,
      calls: CALLS,
      answered: h.totalCount,
      failures: timed.count,
      warmup_failures: warm.count,
      ...(first === undefined ? {} : { first_failure: first }),
      seconds: round(seconds, 2),
      calls_per_s: Math.round(h.totalCount / seconds),
      latency_ms: { p50, p90, p99, max },
      cpu_us_per_call: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, Math.round((v / CALLS) * 1e6)])) as Record<Component, number>,
    };
  });
}

// ---- where RADIANT's time goes: one client's calls, timed at each NATS hop ----

/**
 * What this process sees of a call on NATS, in order. A core subscription here hears each
 * publish one hop after it was made (~0.1 ms): the gateway's INBOX publish, JetStream's
 * delivery of it to the worker's pull (an `_INBOX` subject), the task made in KV (after the
 * worker's POST to the agent has its answer's head), the task stored as the first of its
 * events (A2A_EVENTS), the last event stored (COMPLETED: each of the agent's events is a KV
 * write then an A2A_EVENTS publish), the worker's HISTORY publish (once its consumer of the
 * task's events has read COMPLETED back) and the copy the server republishes once stored,
 * which the gateway takes to the client.
 */
const MARKS = ["inbox_publish", "worker_delivery", "task_created", "task_stored", "completed_stored", "history_publish", "republished"] as const;
type Mark = (typeof MARKS)[number];
const SEGMENTS = [
  "client_to_inbox_publish",
  "inbox_publish_to_worker_delivery",
  "worker_delivery_to_task_created",
  "task_created_to_task_stored",
  "task_stored_to_completed_stored",
  "completed_stored_to_history_publish",
  "history_publish_to_republished",
  "republished_to_client",
] as const;
const TRACE_TAG = "trace";

async function tracePass(calls: number) {
  const nc = await connect({ servers: stack!.nats.url, noAsyncTraces: true });
  const seen = new Map<string, Partial<Record<Mark, number>>>();
  /** a task's id → its call's message (known from the task's first event, which holds the message) */
  const byTask = new Map<string, string>();
  const id = new RegExp(`${TRACE_TAG}-\\d{6}`);
  const marksOf = (key: string) => {
    const marks = seen.get(key) ?? {};
    seen.set(key, marks);
    return marks;
  };
  const first = (which: Mark) => (_e: unknown, m: { subject: string; data: Uint8Array }) => {
    const t = performance.now();
    const key = id.exec(Buffer.from(m.data).toString("latin1"))?.[0];
    if (key !== undefined) marksOf(key)[which] ??= t;
  };
  const subs: [string, (_e: unknown, m: { subject: string; data: Uint8Array }) => void][] = [
    ["in.>", first("inbox_publish")],
    // the first `_INBOX` copy with the message is JetStream's delivery to the worker (the worker's own consumer of the task's events comes later)
    ["_INBOX.>", first("worker_delivery")],
    [`$KV.${A2A_TASKS_BUCKET}.>`, first("task_created")],
    [
      "a2a.ev.*",
      (_e, m) => {
        const t = performance.now();
        const task = m.subject.slice("a2a.ev.".length);
        let key = byTask.get(task);
        if (key === undefined) {
          key = id.exec(Buffer.from(m.data).toString("latin1"))?.[0];
          if (key === undefined) return;
          byTask.set(task, key);
        }
        const marks = marksOf(key);
        marks.task_stored ??= t;
        // the task's last event is its COMPLETED status
        marks.completed_stored = t;
      },
    ],
    ["hist.>", first("history_publish")],
    ["out.>", first("republished")],
  ];
  for (const [subject, callback] of subs) nc.subscribe(subject, { callback });
  // JetStream API requests while the timed calls run (a consumer made per send to follow its task, its pulls, KV reads), by kind
  const api = new Map<string, number>();
  let countingApi = false;
  nc.subscribe("$JS.API.>", {
    callback: (_e, m) => {
      if (!countingApi) return;
      const t = m.subject.split(".");
      const kind = t[2] === "CONSUMER" ? t.slice(2, t[3] === "MSG" ? 5 : 4).join(".") : t.slice(2, 4).join(".");
      api.set(kind, (api.get(kind) ?? 0) + 1);
    },
  });
  await nc.flush();

  const c = await connectClient(`http://127.0.0.1:${stack!.gatewayPort}/a2a/${AGENT}/`);
  const failures: Failures = { count: 0 };
  // a tag of its own: the marks of warm-up calls must not be taken for the timed ones
  await drive([c], WARMUP, "warm-t", failures);
  const total = newHistogram();
  const segments = Object.fromEntries(SEGMENTS.map((g) => [g, newHistogram()])) as Record<(typeof SEGMENTS)[number], Histogram>;
  const done: { message: string; t0: number; t1: number }[] = [];
  await nc.flush();
  countingApi = true;
  await drive([c], calls, TRACE_TAG, failures, (message, t0, t1) => done.push({ message, t0, t1 }));
  // the client can have its answer before this process has read the marks off its NATS socket
  await nc.flush();
  await new Promise((r) => setTimeout(r, 200));
  countingApi = false;
  let complete = 0;
  for (const { message, t0, t1 } of done) {
    const m = seen.get(message);
    if (!m || MARKS.some((k) => m[k] === undefined)) continue;
    const at = [t0, ...MARKS.map((k) => m[k]!), t1];
    // JetStream's republished copy can reach this subscriber before the publish it copies: no order, no pieces
    if (at.some((v, i) => i > 0 && v < at[i - 1]!)) continue;
    complete++;
    recordMs(total, t1 - t0);
    for (const [i, g] of SEGMENTS.entries()) recordMs(segments[g], at[i + 1]! - at[i]!);
  }
  await nc.close();
  const pair = (h: Histogram) => {
    const { p50, p99 } = percentilesMs(h);
    return { p50, p99 };
  };
  return {
    calls,
    traced: complete,
    failures: failures.count,
    first_failure: failures.first,
    total_ms: pair(total),
    segments_ms: Object.fromEntries(SEGMENTS.map((g) => [g, pair(segments[g])])) as Record<(typeof SEGMENTS)[number], { p50: number; p99: number }>,
    jetstream_api_per_call: Object.fromEntries([...api].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, round(v / calls, 2)])),
  };
}

let failed = 0;
try {
  await startAgent();
  const config = join(dir, "a2a-agents.json");
  writeFileSync(config, JSON.stringify({ agents: { [AGENT]: { url: agentUrl } } }));
  log("starting the stack: 1 gateway process, 1 worker");
  stack = await Stack.start({ dir, echo: false, env: { RADIANT_A2A_CONFIG: config } });
  // the gateway fetches the agent's card in the background: a client made before it has it would fail
  const cardUrl = `http://127.0.0.1:${stack.gatewayPort}/a2a/${AGENT}/.well-known/agent-card.json`;
  await waitFor("RADIANT to serve the agent's card", async () => (await fetch(cardUrl, { headers: { "A2A-Version": "1.0" } })).ok);

  const results: Phase[] = [];
  for (const n of [1, CLIENTS]) {
    log(`${n} client(s) per path: ${WARMUP} warm-up calls, then ${CALLS} in ${BLOCKS} blocks, the paths taking turns`);
    for (const p of await phases(n)) {
      results.push(p);
      log(`  ${p.path}: ${p.calls_per_s} calls/s, p50 ${p.latency_ms.p50} ms, p99 ${p.latency_ms.p99} ms, ${p.failures + p.warmup_failures} failed`);
    }
  }
  log(`RADIANT, 1 client, timed at each NATS hop: ${WARMUP} warm-up calls, then ${TRACE_CALLS}`);
  const trace = await tracePass(TRACE_CALLS);
  failed = results.reduce((a, p) => a + p.failures + p.warmup_failures, 0) + trace.failures;

  const get = (path: Path, n: number) => results.find((p) => p.path === path && p.clients === n)!;
  const ratios = [1, CLIENTS].map((n) => {
    const d = get("direct", n);
    const r = get("radiant", n);
    return {
      clients: n,
      added_p50_ms: round(r.latency_ms.p50 - d.latency_ms.p50),
      added_p99_ms: round(r.latency_ms.p99 - d.latency_ms.p99),
      latency_p50_x: round(r.latency_ms.p50 / d.latency_ms.p50, 2),
      latency_p99_x: round(r.latency_ms.p99 / d.latency_ms.p99, 2),
      throughput_x: round(r.calls_per_s / d.calls_per_s, 2),
    };
  });
  const out = {
    quick,
    calls: CALLS,
    warmup: WARMUP,
    clients: CLIENTS,
    gateway_processes: 1,
    workers: 1,
    blocks: BLOCKS,
    phases: results,
    radiant_vs_direct: ratios,
    radiant_in_pieces: trace,
  };
  const file = writeResult("a2a", out);
  const name = (p: Phase) => `${p.path === "direct" ? "straight to the agent" : "through RADIANT"}, ${p.clients} client${p.clients === 1 ? "" : "s"}`;
  const components = Object.keys(results[0]!.cpu_us_per_call) as Component[];
  process.stdout.write(
    `${table([
      ["SendMessage (ms)", "calls/s", "p50", "p90", "p99", "max", "failed"],
      ...results.map((p) => [name(p), p.calls_per_s, p.latency_ms.p50, p.latency_ms.p90, p.latency_ms.p99, p.latency_ms.max, p.failures + p.warmup_failures]),
    ])}\n\n` +
      `${table([
        ["RADIANT vs straight", "added p50 ms", "added p99 ms", "p50 ×", "p99 ×", "calls/s ×"],
        ...ratios.map((r) => [
          `${r.clients} client${r.clients === 1 ? "" : "s"}`,
          r.added_p50_ms,
          r.added_p99_ms,
          r.latency_p50_x,
          r.latency_p99_x,
          r.throughput_x,
        ]),
      ])}\n\n` +
      `${table([["CPU µs per call", ...components], ...results.map((p) => [name(p), ...components.map((k) => p.cpu_us_per_call[k])])])}\n` +
      `${CALLS} timed calls per row after ${WARMUP} warm-up calls, in ${BLOCKS} blocks per path, the paths taking turns\n\n` +
      `${table([
        ["through RADIANT, 1 client, in pieces (ms)", "p50", "p99"],
        ...SEGMENTS.map((g) => [g.replaceAll("_", " "), trace.segments_ms[g].p50, trace.segments_ms[g].p99]),
        ["whole call", trace.total_ms.p50, trace.total_ms.p99],
      ])}\n` +
      `${trace.traced} of ${trace.calls} calls seen at every hop (a separate pass: its NATS subscriptions stay out of the figures above)\n` +
      `JetStream API requests per call, same pass: ${Object.entries(trace.jetstream_api_per_call)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")}\n${file}\n`,
  );
  if (failed > 0) {
    const first = results.find((p) => p.first_failure)?.first_failure ?? trace.first_failure;
    process.stderr.write(`[a2a] FAILED: ${failed} calls failed or got a wrong answer; the first: ${first}\n`);
  }
} catch (e) {
  failed = -1;
  process.stderr.write(`[a2a] ${(e as Error).stack ?? String(e)}\n`);
} finally {
  await cleanUp();
}
process.exit(failed === 0 ? 0 : 1);
