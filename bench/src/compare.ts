// A through-RADIANT-vs-straight comparison, as bench:mcp and bench:a2a run it: the same calls
// through RADIANT and straight to the upstream, same run, 1 and C clients per path, each path's
// calls in blocks, the paths taking turns; every answer checked, the CPU of each process counted;
// one more pass through RADIANT timed at each NATS hop; a table for people and JSON for tools.
// What is each bench's own (its upstream, its client and answer check, the NATS marks of its hop
// pass) stays in its file and comes in through `Comparison`.
import type { ChildProcess } from "node:child_process";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { accepts, GiveUp, spawnOwned, waitFor } from "@radiant/infra/proc";
import { type Histogram, newHistogram, p50p99, percentilesMs, recordMs } from "./latency.js";
import { round, table, writeResult } from "./results.js";
import { cpuSecondsMeter } from "./system.js";

export type Path = "direct" | "radiant";
export const PATHS: Path[] = ["direct", "radiant"];

export const logger = (name: string) => (s: string) => process.stderr.write(`[${name}] ${s}\n`);

export interface Options {
  quick: boolean;
  /** timed calls per path and mode; the concurrent clients share them */
  calls: number;
  /** calls per path and mode before timing */
  warmup: number;
  /** the clients of the concurrent mode */
  clients: number;
  /** blocks each path's timed calls go in, the paths taking turns */
  blocks: number;
  /** calls of the pass timed at each NATS hop (its own subscriptions cost nats-server a little: kept out of the figures above) */
  traceCalls: number;
}

/**
 * The command line: `--quick`, `--calls N`, `--warmup N`, `--clients N` (8 unless told). A number
 * that is not whole (or not above 0; `--warmup` may be 0) ends the process with 2.
 */
export function readOptions(name: string, defaults: { calls: { quick: number; full: number }; warmup: { quick: number; full: number } }): Options {
  const quick = process.argv.includes("--quick");
  const arg = (flag: string, dflt: number) => {
    const i = process.argv.indexOf(`--${flag}`);
    const v = i > 0 ? Number(process.argv[i + 1]) : dflt;
    if (!Number.isInteger(v) || v < (flag === "warmup" ? 0 : 1)) {
      logger(name)(`--${flag} takes a whole number${flag === "warmup" ? "" : " above 0"}`);
      process.exit(2);
    }
    return v;
  };
  const calls = arg("calls", quick ? defaults.calls.quick : defaults.calls.full);
  const warmup = arg("warmup", quick ? defaults.warmup.quick : defaults.warmup.full);
  const clients = arg("clients", 8);
  return { quick, calls, warmup, clients, blocks: Math.min(8, calls), traceCalls: Math.min(calls, 500) };
}

/** A bench's side of a comparison: its client (of type `C`) and its call, where the paths go, the processes (by component `K`) whose CPU counts. */
export interface Comparison<C, K extends string> {
  /** the command: the log's prefix, the result file's name */
  name: string;
  options: Options;
  connect: (url: string) => Promise<C>;
  /** one call of `message`: undefined when the answer is right, else what was wrong with it */
  call: (c: C, message: string) => Promise<string | undefined>;
  /** what a call is in the text of one that threw: `send`, `call` */
  verb: string;
  /** ends a client once its phase is over */
  close?: (c: C) => Promise<void>;
  /** where each path's clients connect (asked once the stack runs) */
  urls: () => Record<Path, string>;
  /** the NATS server's URL, for the hop pass's subscriptions */
  nats: () => string;
  /** the processes each component runs (asked at each block; this process is counted as `bench`) */
  pids: () => Record<K, number[]>;
}

export interface Failures {
  count: number;
  first?: string;
}

/** `total` calls over the clients, each calling in sequence (a closed loop); `done` gets each right answer's times. */
export async function drive<C>(
  cmp: Comparison<C, string>,
  cs: C[],
  total: number,
  tag: string,
  failures: Failures,
  done?: (message: string, t0: number, t1: number) => void,
): Promise<void> {
  let next = 0;
  await Promise.all(
    cs.map(async (c) => {
      for (let i = next++; i < total; i = next++) {
        // fixed width: no message is the start of another (the NATS marks find calls by it)
        const message = `${tag}-${String(i).padStart(6, "0")}`;
        const t0 = performance.now();
        let bad: string | undefined;
        try {
          bad = await cmp.call(c, message);
        } catch (e) {
          bad = `${cmp.verb} ${JSON.stringify(message)} failed: ${(e as Error).message}`;
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

export interface Phase<K extends string> {
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
  cpu_us_per_call: Record<K | "bench", number>;
}

/**
 * Both paths with `n` clients each. Each path's calls go in `blocks` blocks, the paths taking
 * turns (and turns at going first): the machine is shared, and its load drifts over a run.
 */
async function phases<C, K extends string>(cmp: Comparison<C, K>, n: number): Promise<Phase<K>[]> {
  const { calls, warmup, blocks } = cmp.options;
  const urls = cmp.urls();
  const acc = Object.fromEntries(
    PATHS.map((path) => [
      path,
      { cs: [] as C[], warm: { count: 0 } as Failures, timed: { count: 0 } as Failures, h: newHistogram(), seconds: 0, cpu: {} as Record<string, number> },
    ]),
  ) as Record<Path, { cs: C[]; warm: Failures; timed: Failures; h: Histogram; seconds: number; cpu: Record<string, number> }>;
  for (const path of PATHS) {
    const a = acc[path];
    a.cs = await Promise.all(Array.from({ length: n }, () => cmp.connect(urls[path])));
    await drive(cmp, a.cs, warmup, `warm-${path}-${n}`, a.warm);
  }
  for (let b = 0; b < blocks; b++) {
    const count = Math.floor(((b + 1) * calls) / blocks) - Math.floor((b * calls) / blocks);
    for (const path of b % 2 === 0 ? PATHS : [...PATHS].reverse()) {
      const a = acc[path];
      const cpu = cpuSecondsMeter(cmp.pids());
      const t0 = performance.now();
      await drive(cmp, a.cs, count, `${path}-${n}-${b}`, a.timed, (_m, t, t1) => recordMs(a.h, t1 - t));
      a.seconds += (performance.now() - t0) / 1000;
      for (const [k, v] of Object.entries<number>(cpu())) a.cpu[k] = (a.cpu[k] ?? 0) + v;
    }
  }
  const { close } = cmp;
  if (close) await Promise.all(PATHS.flatMap((path) => acc[path].cs.map((c) => close(c))));
  return PATHS.map((path): Phase<K> => {
    const { warm, timed, h, seconds, cpu } = acc[path];
    const { p50, p90, p99, max } = percentilesMs(h);
    const first = warm.first ?? timed.first;
    return {
      path,
      clients: n,
      calls,
      answered: h.totalCount,
      failures: timed.count,
      warmup_failures: warm.count,
      ...(first === undefined ? {} : { first_failure: first }),
      seconds: round(seconds, 2),
      calls_per_s: Math.round(h.totalCount / seconds),
      latency_ms: { p50, p90, p99, max },
      cpu_us_per_call: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, Math.round((v / calls) * 1e6)])) as Record<K | "bench", number>,
    };
  });
}

/** The phases with 1 client per path, then with `clients`; each logged as it ends. */
export async function comparePaths<C, K extends string>(cmp: Comparison<C, K>): Promise<Phase<K>[]> {
  const log = logger(cmp.name);
  const { calls, warmup, clients, blocks } = cmp.options;
  const results: Phase<K>[] = [];
  for (const n of [1, clients]) {
    log(`${n} client(s) per path: ${warmup} warm-up calls, then ${calls} in ${blocks} blocks, the paths taking turns`);
    for (const p of await phases(cmp, n)) {
      results.push(p);
      log(`  ${p.path}: ${p.calls_per_s} calls/s, p50 ${p.latency_ms.p50} ms, p99 ${p.latency_ms.p99} ms, ${p.failures + p.warmup_failures} failed`);
    }
  }
  return results;
}

// ---- where RADIANT's time goes: one client's calls, timed at each NATS hop ----

/** the tag of the hop pass's timed calls: its messages are `trace-NNNNNN` */
export const TRACE_TAG = "trace";

export interface HopTimes<G extends string> {
  calls: number;
  traced: number;
  failures: number;
  first_failure?: string;
  total_ms: { p50: number; p99: number };
  segments_ms: Record<G, { p50: number; p99: number }>;
}

/** What the bench's subscriptions see of the hop pass's timed calls: each one's marks, by its message. */
export interface Hops<M extends string> {
  /** the timed call whose message a text holds (a NATS payload, as latin1), if any */
  callIn: (text: string) => string | undefined;
  /** a call's marks, to set: when this process heard each */
  of: (call: string) => Partial<Record<M, number>>;
}

/**
 * One client's `traceCalls` calls through RADIANT, after warm-up calls of a tag of their own (their
 * marks must not be taken for the timed ones). First `watch` subscribes, on a NATS connection of
 * this process's, to what marks a call's hops, and notes when it heard each (`hops.of(call)`); a
 * call's segments are the times between its start, its `marks` in order and its answer (one more
 * than the marks). `onTimed` is told when the timed calls start and when they (and what they
 * published) are over.
 */
export async function timeHops<C, M extends string, G extends string>(
  cmp: Comparison<C, string>,
  pass: {
    marks: readonly M[];
    segments: readonly G[];
    watch: (nc: NatsConnection, hops: Hops<M>) => void;
    onTimed?: (timed: boolean) => void;
  },
): Promise<HopTimes<G>> {
  const { marks, segments } = pass;
  const { warmup, traceCalls: calls } = cmp.options;
  logger(cmp.name)(`RADIANT, 1 client, timed at each NATS hop: ${warmup} warm-up calls, then ${calls}`);
  const nc = await connect({ servers: cmp.nats(), noAsyncTraces: true });
  const seen = new Map<string, Partial<Record<M, number>>>();
  const id = new RegExp(`${TRACE_TAG}-\\d{6}`);
  const of = (call: string) => {
    const m = seen.get(call) ?? {};
    seen.set(call, m);
    return m;
  };
  pass.watch(nc, { callIn: (text) => id.exec(text)?.[0], of });
  await nc.flush();

  const c = await cmp.connect(cmp.urls().radiant);
  const failures: Failures = { count: 0 };
  await drive(cmp, [c], warmup, "warm-t", failures);
  const total = newHistogram();
  const pieces = Object.fromEntries(segments.map((g) => [g, newHistogram()])) as Record<G, Histogram>;
  const done: { message: string; t0: number; t1: number }[] = [];
  await nc.flush();
  pass.onTimed?.(true);
  await drive(cmp, [c], calls, TRACE_TAG, failures, (message, t0, t1) => done.push({ message, t0, t1 }));
  // the client can have its answer before this process has read the marks off its NATS socket
  await nc.flush();
  await new Promise((r) => setTimeout(r, 200));
  pass.onTimed?.(false);
  let complete = 0;
  for (const { message, t0, t1 } of done) {
    const m = seen.get(message);
    if (!m || marks.some((k) => m[k] === undefined)) continue;
    const at = [t0, ...marks.map((k) => m[k]!), t1];
    // JetStream's republished copy can reach this subscriber before the publish it copies: no order, no pieces
    if (at.some((v, i) => i > 0 && v < at[i - 1]!)) continue;
    complete++;
    recordMs(total, t1 - t0);
    for (const [i, g] of segments.entries()) recordMs(pieces[g], at[i + 1]! - at[i]!);
  }
  await cmp.close?.(c);
  await nc.close();
  return {
    calls,
    traced: complete,
    failures: failures.count,
    first_failure: failures.first,
    total_ms: p50p99(total),
    segments_ms: Object.fromEntries(segments.map((g) => [g, p50p99(pieces[g])])) as Record<G, { p50: number; p99: number }>,
  };
}

// ---- the report ----

/**
 * Writes the result file and prints the tables: each phase, RADIANT against straight, the CPU per
 * call, the hop pass in pieces (`more`: lines of the bench's own after it). Returns how many calls
 * failed or got a wrong answer (and says so, with the first, when any did).
 */
export function report<C, K extends string, G extends string>(
  cmp: Comparison<C, K>,
  results: Phase<K>[],
  trace: HopTimes<G>,
  labels: { title: string; straight: string; segments: readonly G[]; more?: string },
): number {
  const { quick, calls, warmup, clients, blocks } = cmp.options;
  const failed = results.reduce((a, p) => a + p.failures + p.warmup_failures, 0) + trace.failures;
  const get = (path: Path, n: number) => results.find((p) => p.path === path && p.clients === n)!;
  const ratios = [1, clients].map((n) => {
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
    calls,
    warmup,
    clients,
    gateway_processes: 1,
    workers: 1,
    blocks,
    phases: results,
    radiant_vs_direct: ratios,
    radiant_in_pieces: trace,
  };
  const file = writeResult(cmp.name, out);
  const clientsText = (n: number) => `${n} client${n === 1 ? "" : "s"}`;
  const name = (p: Phase<K>) => `${p.path === "direct" ? labels.straight : "through RADIANT"}, ${clientsText(p.clients)}`;
  const components = Object.keys(results[0]!.cpu_us_per_call) as (K | "bench")[];
  process.stdout.write(
    `${table([
      [labels.title, "calls/s", "p50", "p90", "p99", "max", "failed"],
      ...results.map((p) => [name(p), p.calls_per_s, p.latency_ms.p50, p.latency_ms.p90, p.latency_ms.p99, p.latency_ms.max, p.failures + p.warmup_failures]),
    ])}\n\n` +
      `${table([
        ["RADIANT vs straight", "added p50 ms", "added p99 ms", "p50 ×", "p99 ×", "calls/s ×"],
        ...ratios.map((r) => [clientsText(r.clients), r.added_p50_ms, r.added_p99_ms, r.latency_p50_x, r.latency_p99_x, r.throughput_x]),
      ])}\n\n` +
      `${table([["CPU µs per call", ...components], ...results.map((p) => [name(p), ...components.map((k) => p.cpu_us_per_call[k])])])}\n` +
      `${calls} timed calls per row after ${warmup} warm-up calls, in ${blocks} blocks per path, the paths taking turns\n\n` +
      `${table([
        ["through RADIANT, 1 client, in pieces (ms)", "p50", "p99"],
        ...labels.segments.map((g) => [g.replaceAll("_", " "), trace.segments_ms[g].p50, trace.segments_ms[g].p99]),
        ["whole call", trace.total_ms.p50, trace.total_ms.p99],
      ])}\n` +
      `${trace.traced} of ${trace.calls} calls seen at every hop (a separate pass: its NATS subscriptions stay out of the figures above)\n` +
      `${labels.more ?? ""}${file}\n`,
  );
  if (failed > 0) {
    const first = results.find((p) => p.first_failure)?.first_failure ?? trace.first_failure;
    logger(cmp.name)(`FAILED: ${failed} calls failed or got a wrong answer; the first: ${first}`);
  }
  return failed;
}

// ---- the process ----

/** `stop` made safe to call more than once, and called on SIGINT and SIGTERM before the process exits. */
export function cleanUpOnce(stop: () => Promise<void>): () => Promise<void> {
  let cleaning: Promise<void> | undefined;
  const cleanUp = () => (cleaning ??= stop());
  process.once("SIGINT", () => void cleanUp().then(() => process.exit(130)));
  process.once("SIGTERM", () => void cleanUp().then(() => process.exit(143)));
  return cleanUp;
}

/**
 * Starts the upstream, a child (`args` to node) that dies with this process; `listening` settles
 * once it accepts connections on 127.0.0.1:`port`, or fails with the end of its stderr if it exits first.
 */
export function spawnUpstream(what: string, port: number, args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; listening: Promise<void> } {
  // stdout can get a line per request: /dev/null, or an undrained pipe would stall the server
  const child = spawnOwned(process.execPath, args, { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr?.setEncoding("utf8").on("data", (s: string) => {
    err = (err + s).slice(-4096);
  });
  const listening = waitFor(`${what} to listen`, async () => {
    if (child.exitCode !== null || child.signalCode !== null) throw new GiveUp(`${what} exited: ${err.trim()}`);
    return accepts("127.0.0.1", port);
  });
  return { child, listening };
}

/** Runs a bench (it returns how many calls failed), cleans up, and exits: 0 if none failed, 1 if any did or it threw. */
export async function main(name: string, cleanUp: () => Promise<void>, body: () => Promise<number>): Promise<never> {
  let failed = 0;
  try {
    failed = await body();
  } catch (e) {
    failed = -1;
    logger(name)((e as Error).stack ?? String(e));
  } finally {
    await cleanUp();
  }
  process.exit(failed === 0 ? 0 : 1);
}
