// bench:soak — N WebSocket sessions held idle-but-alive (the gateway pings,
// the clients answer) through several gateway processes on one port, opened by
// several load processes from source addresses 127.0.0.2, 127.0.0.3, … (every
// process may hold 20,000 files at most). Then low-rate MCP pings from a
// sample of them through the full path, and a reconnect storm: every session
// drops and resumes at once; each must get the answer it was owed, once.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ChildProcess } from "node:child_process";
import { spawnOwned, stopChild, treeRssBytes } from "@radiant/infra/proc";
import { Stack } from "@radiant/infra/stack";
import { mergeSamples } from "./latency.js";
import { table, writeResult } from "./results.js";
import type { SoakCommand, SoakReply } from "./soak_protocol.js";
import { availableBytes, slabBytes, sockStat, treeCpuSeconds } from "./system.js";
import { lookUpInHistory } from "./soak_history.js";

const quick = process.argv.includes("--quick");
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const argText = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? "") : "";
};
const N = arg("connections", quick ? 4000 : 60_000);
/** sessions per load process and per gateway process stay under the 20,000-file limit (--per-process, up to 19,000) */
const PER_PROCESS = Math.min(19_000, arg("per-process", 15_000));
const loaders = Math.max(1, Math.ceil(N / PER_PROCESS));
const gatewayProcesses = arg("gateway-processes", Math.max(2, Math.ceil(N / PER_PROCESS)));
/** sampled round trips in all, at SAMPLE_RATE a second over all load processes: a probe, not a load that grows with the run */
const SAMPLES = quick ? 400 : 7000;
const SAMPLE_RATE = 500;
const IDLE_S = quick ? 5 : 15;

const log = (s: string) => process.stderr.write(`[soak] ${s}\n`);

class Loader {
  private waiting: ((r: SoakReply) => void) | undefined;
  constructor(readonly child: ChildProcess) {
    child.on("message", (r: SoakReply) => {
      const w = this.waiting;
      this.waiting = undefined;
      w?.(r);
    });
  }
  static async start(): Promise<Loader> {
    const child = spawnOwned(process.execPath, [fileURLToPath(new URL("./soak_client.js", import.meta.url))], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      env: { ...process.env, RADIANT_PARENT_PID: String(process.pid) },
    });
    const l = new Loader(child);
    await l.next();
    return l;
  }
  next(): Promise<SoakReply> {
    return new Promise((r) => (this.waiting = r));
  }
  ask<T extends SoakReply["type"]>(cmd: SoakCommand, _want: T): Promise<Extract<SoakReply, { type: T }>> {
    const r = this.next();
    this.child.send(cmd);
    return r as Promise<Extract<SoakReply, { type: T }>>;
  }
}

const dir = mkdtempSync(join(tmpdir(), "radiant-bench-"));
const stack = await Stack.start({
  dir,
  gatewayProcesses,
  workers: 2,
  // the storm's requests sleep in the worker: let them all wait at once
  workerEnv: { WORKER_TEST_METHODS: "true", WORKER_CONCURRENCY: "10000" },
  // the gateway pings a socket quiet this long and closes it if nothing comes back (--idle-timeout; production default 120)
  gatewayEnv: { GATEWAY_IDLE_TIMEOUT: String(arg("idle-timeout", 30)) },
  // --gateway-node-args "--cpu-prof --cpu-prof-dir=/tmp/prof": a profile of every gateway process under this load
  gatewayNodeArgs: argText("gateway-node-args").split(" ").filter(Boolean),
});
const gw = stack.gateway!.child.pid!;
const cleanUp = async () => {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
};
process.once("SIGINT", () => void cleanUp().then(() => process.exit(130)));
process.once("SIGTERM", () => void cleanUp().then(() => process.exit(143)));

// a run that would push the box into the out-of-memory killer stops first, cleanly, and says where it was
const FLOOR_MIB = arg("memory-floor-mib", 1024);
let phase = "starting";
const guard = setInterval(() => {
  const free = availableBytes();
  if (!(free < FLOOR_MIB * 1024 * 1024)) return;
  clearInterval(guard);
  log(
    `stopped: available memory ${Math.round(free / 1024 / 1024)} MiB is under the floor (--memory-floor-mib ${FLOOR_MIB}) while ${phase}; the gateway's RSS was ${Math.round(treeRssBytes(gw) / 1024 / 1024)} MiB`,
  );
  void cleanUp().then(() => process.exit(3));
}, 1000);
guard.unref();

const loadProcs = await Promise.all(Array.from({ length: loaders }, () => Loader.start()));
await new Promise((r) => setTimeout(r, 1500));
const rssBefore = treeRssBytes(gw);
const sockBefore = sockStat();
const slabBefore = slabBytes();

// ramp: each load process its share, over its own 50 source addresses
log(`opening ${N} sessions: ${loaders} load processes → ${gatewayProcesses} gateway processes`);
phase = `opening ${N} sessions`;
const share = (i: number) => Math.floor(N / loaders) + (i < N % loaders ? 1 : 0);
const opened = await Promise.all(
  loadProcs.map((l, i) =>
    l.ask(
      { type: "open", port: stack.gatewayPort, n: share(i), concurrency: 200, addresses: Array.from({ length: 50 }, (_, j) => `127.0.${1 + i}.${2 + j}`) },
      "opened",
    ),
  ),
);
const connections = opened.reduce((a, o) => a + o.opened, 0);
const failed = opened.reduce((a, o) => a + o.failed, 0);
const rampSeconds = Math.max(...opened.map((o) => o.seconds));
log(`${connections} open, ${failed} failed, in ${rampSeconds.toFixed(1)} s`);

await new Promise((r) => setTimeout(r, 3000));
const rssAfter = treeRssBytes(gw);
const sockAfter = sockStat();
const slabAfter = slabBytes();
const health = (await (await fetch(`${stack.healthUrl}/health`)).json()) as { active_connections: number };

// idle: the gateway's CPU while every session is open and quiet (pings only)
const cpu0 = treeCpuSeconds(gw);
const load0 = loadProcs.reduce((a, l) => a + treeCpuSeconds(l.child.pid!), 0);
await new Promise((r) => setTimeout(r, IDLE_S * 1000));
const idleCpuPct = ((treeCpuSeconds(gw) - cpu0) / IDLE_S) * 100;
const loadIdleCpuPct = ((loadProcs.reduce((a, l) => a + treeCpuSeconds(l.child.pid!), 0) - load0) / IDLE_S) * 100;
// still held: a client too starved to answer the gateway's pings in time is closed by it
const heldAfterIdle = ((await (await fetch(`${stack.healthUrl}/health`)).json()) as { active_connections: number }).active_connections;
log(`idle: gateway ${idleCpuPct.toFixed(1)}% of a core; ${heldAfterIdle} sessions still held after ${IDLE_S} s`);

// sampled round trips through the full path
const sampled = await Promise.all(
  loadProcs.map((l) => l.ask({ type: "sample", count: Math.ceil(SAMPLES / loaders), everyMs: (1000 * loaders) / SAMPLE_RATE }, "sampled")),
);
const { latencyMs: rtt, count: rttCount } = mergeSamples(sampled.map((s) => s.rttsUs));
const sampleLost = sampled.reduce((a, s) => a + s.lost, 0);
log(`sampled ${rttCount} pings: p50 ${rtt.p50} ms, p99 ${rtt.p99} ms`);

// the reconnect storm: all sessions, or a sample (--storm N) spread over the load processes
const STORM = Math.min(connections, arg("storm", connections));
log(`reconnect storm: ${STORM} of ${connections} sessions drop and resume at once`);
phase = `the reconnect storm of ${STORM} sessions`;
const stormed = await Promise.all(
  loadProcs.map((l, i) =>
    l.ask({ type: "storm", count: Math.ceil((STORM * opened[i]!.opened) / connections), sleepMs: 1000, concurrency: 500, timeoutMs: 180_000 }, "stormed"),
  ),
);
const storm = {
  sessions: stormed.reduce((a, s) => a + s.sessions, 0),
  resumed: stormed.reduce((a, s) => a + s.resumed, 0),
  refused: stormed.reduce((a, s) => a + s.refused, 0),
  deferred: stormed.reduce((a, s) => a + s.deferred, 0),
  failed: stormed.reduce((a, s) => a + s.failed, 0),
  failures: stormed.reduce<Record<string, number>>((a, s) => {
    for (const [k, v] of Object.entries(s.failures)) a[k] = (a[k] ?? 0) + v;
    return a;
  }, {}),
  errors: stormed.reduce((a, s) => a + s.errors, 0),
  requests_sent_again: stormed.reduce((a, s) => a + s.retried, 0),
  resumed_again: stormed.reduce((a, s) => a + s.resumedAgain, 0),
  error_kinds: stormed.reduce<Record<string, number>>((a, s) => {
    for (const [k, v] of Object.entries(s.errorKinds)) a[k] = (a[k] ?? 0) + v;
    return a;
  }, {}),
  lost_kinds: stormed.reduce<Record<string, number>>((a, s) => {
    for (const [k, v] of Object.entries(s.lostKinds)) a[k] = (a[k] ?? 0) + v;
    return a;
  }, {}),
  seconds: Number(Math.max(...stormed.map((s) => s.resumeSeconds)).toFixed(2)),
  answered_seconds: Number(Math.max(...stormed.map((s) => s.answeredSeconds)).toFixed(2)),
  lost: stormed.reduce((a, s) => a + s.lost, 0),
  duplicates: stormed.reduce((a, s) => a + s.duplicates, 0),
};
// for those without a result: was their answer stored (and not delivered), or never made?
const unanswered = stormed.flatMap((s) => s.unanswered);
const unansweredInHistory = unanswered.length > 0 ? await lookUpInHistory(stack.nats.url, unanswered) : {};
if (unanswered.length > 0) log(`without a result, as HISTORY has them (${unanswered.length} looked up): ${JSON.stringify(unansweredInHistory)}`);

// where the sessions ended up: a resume lands on whichever process the kernel picks; a session
// away from the process that made it is forwarded by that process (or, its home gone, subscribes on its own)
const gauges = await (await fetch(`${stack.healthUrl}/metrics`)).text();
const gauge = (name: string) => Number(new RegExp(`^${name} (\\d+)`, "m").exec(gauges)?.[1] ?? Number.NaN);
const afterStorm = {
  sessions_at_home: gauge("radiant_home_sessions"),
  sessions_away_forwarded: gauge("radiant_sessions_forwarded_in"),
  sessions_away_subscribed: gauge("radiant_session_subscriptions"),
  // as the NATS server counts them: live subjects (a wildcard per process, plus one per session subscribed on its own) and forwarding wildcards
  nats_subscriptions_live: await stack.nats.subscriptionsUnder("out."),
  nats_subscriptions_forwarding: await stack.nats.subscriptionsUnder("fwd."),
  resumes_deferred: Number(/^radiant_resumes_total\{outcome="deferred"\} (\d+)/m.exec(gauges)?.[1] ?? 0),
};
log(
  `after the storm: ${afterStorm.sessions_at_home} sessions at home, ${afterStorm.sessions_away_forwarded} away forwarded by their home, ${afterStorm.sessions_away_subscribed} away with a subscription each; NATS subscriptions: ${afterStorm.nats_subscriptions_live} live + ${afterStorm.nats_subscriptions_forwarding} forwarding for ${gatewayProcesses} processes; ${afterStorm.resumes_deferred} resumes deferred by the gateways`,
);
log(
  `storm: ${storm.resumed}/${storm.sessions} resumed in ${storm.seconds} s (${storm.deferred} deferrals), ${storm.lost} without a result, ${storm.errors} error frames, ${storm.duplicates} twice` +
    (storm.resumed_again > 0 ? `; ${storm.resumed_again} told to come back after their session frame resumed again` : "") +
    (storm.requests_sent_again > 0 ? `; ${storm.requests_sent_again} requests sent again after "could not be queued"` : "") +
    (storm.failed > 0 ? `; not resumed by the deadline: ${storm.failed} (${JSON.stringify(storm.failures)})` : "") +
    (storm.errors > 0 ? `; error frames: ${JSON.stringify(storm.error_kinds)}` : "") +
    (storm.lost > 0 ? `; without a result: ${JSON.stringify(storm.lost_kinds)}` : ""),
);

await Promise.all(
  loadProcs.map((l) => {
    l.child.send({ type: "close" } satisfies SoakCommand);
    return stopChild(l.child, 5000);
  }),
);
await cleanUp();

const result = {
  connections,
  failed,
  connect_per_s: Math.round(connections / rampSeconds),
  gateway_processes: gatewayProcesses,
  load_processes: loaders,
  active_connections_reported: health.active_connections,
  active_connections_after_idle: heldAfterIdle,
  idle_timeout_s: arg("idle-timeout", 30),
  bytes_per_conn_gateway: Math.round((rssAfter - rssBefore) / connections),
  // before any session: the supervisor and its processes, each
  gateway_idle_rss_per_process: Math.round(rssBefore / (gatewayProcesses + 1)),
  // both ends of each connection live in this kernel (loopback): socket structures (slab) plus buffer pages
  kernel_bytes_per_conn: Math.round((slabAfter - slabBefore + sockAfter.tcpMemBytes - sockBefore.tcpMemBytes) / connections),
  kernel_tcp_buffer_bytes_per_conn: Math.max(0, Math.round((sockAfter.tcpMemBytes - sockBefore.tcpMemBytes) / connections)),
  tcp_sockets_added: sockAfter.tcpInUse - sockBefore.tcpInUse,
  idle_cpu_pct: Number(idleCpuPct.toFixed(2)),
  load_idle_cpu_pct: Number(loadIdleCpuPct.toFixed(2)),
  rtt_ms: { p50: rtt.p50, p99: rtt.p99, max: rtt.max, samples: rttCount, lost: sampleLost },
  reconnect_storm: { ...storm, unanswered_in_history: unansweredInHistory },
  after_storm: afterStorm,
};
const path = writeResult("soak", result);
process.stdout.write(
  `${table([
    ["measure", "value"],
    ["sessions held (failed)", `${connections} (${failed})`],
    ["held by the gateway after the ramp / after the idle phase", `${health.active_connections} / ${heldAfterIdle}`],
    ["connect rate", `${result.connect_per_s}/s`],
    ["gateway RSS per connection", `${result.bytes_per_conn_gateway} B`],
    ["kernel memory per connection (both ends: slab + buffers)", `${result.kernel_bytes_per_conn} B (buffers ${result.kernel_tcp_buffer_bytes_per_conn} B)`],
    ["gateway CPU, idle", `${result.idle_cpu_pct}% of a core`],
    ["sampled ping RTT p50 / p99", `${rtt.p50} / ${rtt.p99} ms (${rttCount} samples, ${sampleLost} lost)`],
    [
      "reconnect storm: all resumed in",
      `${storm.seconds} s (${storm.resumed} resumed, ${storm.refused} refused, ${storm.deferred} deferrals, ${storm.failed} not by the deadline)`,
    ],
    [
      "reconnect storm: no result / error frames / twice",
      `${storm.lost} / ${storm.errors} / ${storm.duplicates} (all answered in ${storm.answered_seconds} s)`,
    ],
    [
      "after the storm: sessions at home / away forwarded / away subscribed",
      `${afterStorm.sessions_at_home} / ${afterStorm.sessions_away_forwarded} / ${afterStorm.sessions_away_subscribed}`,
    ],
    [
      "after the storm: NATS subscriptions, live / forwarding",
      `${afterStorm.nats_subscriptions_live} / ${afterStorm.nats_subscriptions_forwarding} (${gatewayProcesses} gateway processes)`,
    ],
  ])}\n\n${gatewayProcesses} gateway processes, ${loaders} load processes; ${path}\n`,
);
process.exit(0);
