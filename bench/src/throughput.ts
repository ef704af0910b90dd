// bench:throughput — closed-loop MCP pings through the full path (socket →
// INBOX → worker → HISTORY → socket) against same-run references: (a) a raw
// JetStream round trip on the same path shape with no sockets, (b) a bare uWS
// echo server, (c) a `ws` echo server.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { connect } from "@nats-io/transport-node";
import { AckPolicy, RetentionPolicy, StorageType, jetstreamManager } from "@nats-io/jetstream";
import { spawnOwned, stopChild, waitFor } from "@radiant/infra/proc";
import { AckedPublisher } from "@radiant/infra/publish";
import { Stack } from "@radiant/infra/stack";
import { closedLoop, type LoopResult } from "./latency.js";
import { treeCpuSeconds } from "./system.js";
import { openLite, sendText } from "./ws_lite.js";
import { table, writeResult } from "./results.js";

const quick = process.argv.includes("--quick");
const K = quick ? 16 : 64;
const DURATION = quick ? 3000 : 15_000;

/** A closed loop over K sessions of the light client (ws_lite.ts), with the CPU both ends used meanwhile. */
async function wsLoop(port: number, serverPid: number, frame: (n: number) => string, session: boolean): Promise<Measured> {
  const conns = await Promise.all(Array.from({ length: K }, () => openLite(port, "127.0.0.1", "127.0.0.2", "/ws", undefined, session)));
  let n = 0;
  const cpu = cpuMeter(serverPid);
  const r = await closedLoop(K, DURATION, (slot, done) => {
    const c = conns[slot]!;
    c.onText = () => {
      c.onText = undefined;
      done();
    };
    sendText(c, frame(n++));
  });
  const used = cpu();
  for (const c of conns) c.socket.destroy();
  return { ...r, ...used };
}

interface Measured extends LoopResult {
  /** % of one core: the load generator (this process) and the server's process tree */
  clientCpuPct: number;
  serverCpuPct: number;
}

/** Starts counting; the returned function gives the CPU each side used since, in % of one core. */
function cpuMeter(serverPid: number): () => { clientCpuPct: number; serverCpuPct: number } {
  const t0 = performance.now();
  const own = () => {
    const u = process.cpuUsage(); // this process only: the stack's processes are its children
    return (u.user + u.system) / 1e6;
  };
  const c0 = own();
  const s0 = treeCpuSeconds(serverPid);
  return () => {
    const s = (performance.now() - t0) / 1000;
    const pct = (v: number) => Number(((v / s) * 100).toFixed(1));
    return { clientCpuPct: pct(own() - c0), serverCpuPct: pct(treeCpuSeconds(serverPid) - s0) };
  };
}

async function echo(file: string, frame: string): Promise<Measured> {
  const child = spawnOwned(process.execPath, [fileURLToPath(new URL(file, import.meta.url))], {
    env: { ...process.env, RADIANT_PARENT_PID: String(process.pid) },
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d));
  await waitFor(file, async () => out.includes("listening"));
  const r = await wsLoop(Number(/listening (\d+)/.exec(out)![1]), child.pid!, () => frame, false);
  await stopChild(child);
  return r;
}

/**
 * (a) publish to a work queue; a consumer (another process) publishes to a
 * RePublish stream; a core subscriber receives. Server CPU: nats-server's.
 */
async function rawJetStream(natsUrl: string, natsPid: number, frame: string): Promise<Measured> {
  // the same client and publisher as RADIANT's processes (infra/src/nats.ts, publish.ts)
  const nc = await connect({ servers: natsUrl, noAsyncTraces: true });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "BENCH_IN", subjects: ["bin.>"], retention: RetentionPolicy.Workqueue, storage: StorageType.File });
  await jsm.streams.add({ name: "BENCH_OUT", subjects: ["bhist.>"], storage: StorageType.File, republish: { src: "bhist.>", dest: "bout.>" } });
  await jsm.consumers.add("BENCH_IN", { durable_name: "bench", ack_policy: AckPolicy.Explicit, max_ack_pending: 10_000 });
  const publisher = new AckedPublisher(nc, 10_000);
  // the consumer in a process of its own, as RADIANT's workers are: the bench process only publishes and receives
  const worker = spawnOwned(process.execPath, [fileURLToPath(new URL("./jetstream_worker.js", import.meta.url)), natsUrl], {
    env: { ...process.env, RADIANT_PARENT_PID: String(process.pid) },
  });
  let said = "";
  worker.stdout?.on("data", (d: Buffer) => (said += d));
  await waitFor("the JetStream worker", async () => said.includes("consuming"));
  const onAnswer: (() => void)[] = [];
  nc.subscribe("bout.>", { callback: (_e, m) => onAnswer[Number(m.subject.slice(5))]?.() });
  await nc.flush();
  const body = new TextEncoder().encode(frame);
  const cpu = cpuMeter(natsPid);
  const r = await closedLoop(K, DURATION, (slot, done) => {
    onAnswer[slot] = done;
    void publisher.publish(`bin.${slot}`, body);
  });
  const used = cpu();
  await stopChild(worker);
  await nc.close();
  return { ...r, ...used };
}

/** HTTP ingress: autocannon POSTs one frame per request to /sse/messages; each 202 means JetStream stored it. */
async function postIngress(base: string): Promise<{ perS: number; p50: number; p99: number; non2xx: number }> {
  const r = await fetch(`${base}/sse`, { redirect: "manual" });
  const token = new URL(r.headers.get("location")!, base).searchParams.get("resume")!;
  const res = await autocannon({
    url: `${base}/sse/messages`,
    method: "POST",
    connections: K,
    duration: DURATION / 1000,
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    // a notification: no reply, no de-duplication id, so every POST is stored
    body: '{"jsonrpc":"2.0","method":"notifications/initialized"}',
  });
  return { perS: Math.round(res.requests.average), p50: res.latency.p50, p99: res.latency.p99, non2xx: res.non2xx };
}

const dir = mkdtempSync(join(tmpdir(), "radiant-bench-"));
// --gateway-node-args "--max-semi-space-size=1": the gateway process under other V8 flags (what they cost in throughput)
const gatewayArgsAt = process.argv.indexOf("--gateway-node-args");
const gatewayNodeArgs = gatewayArgsAt > 0 ? (process.argv[gatewayArgsAt + 1] ?? "").split(" ").filter(Boolean) : [];
const stack = await Stack.start({ dir, workers: 2, gatewayProcesses: 1, gatewayNodeArgs });
const ping = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
const results: Record<string, Measured> = {};
// every request its own id: the gateway runs a repeated JSON-RPC id once (INBOX de-duplication)
results.gateway = await wsLoop(stack.gatewayPort, stack.gateway!.child.pid!, (n) => `{"jsonrpc":"2.0","id":${n},"method":"ping"}`, true);
results.jetstream = await rawJetStream(stack.nats.url, stack.nats.pid!, ping);
const ingress = await postIngress(stack.wsUrl.replace(/^ws/, "http").replace(/\/ws$/, ""));
await stack.stop();
rmSync(dir, { recursive: true, force: true });
// --nats-cluster 3: the full path again, on a 3-node NATS cluster on this machine (streams R3), same run
const clusterAt = process.argv.indexOf("--nats-cluster");
const clusterNodes = clusterAt > 0 ? Number(process.argv[clusterAt + 1]) : 0;
if (clusterNodes > 1) {
  const cdir = mkdtempSync(join(tmpdir(), "radiant-bench-"));
  const cstack = await Stack.start({ dir: cdir, workers: 2, gatewayProcesses: 1, gatewayNodeArgs, natsCluster: clusterNodes });
  results.gateway_cluster = await wsLoop(cstack.gatewayPort, cstack.gateway!.child.pid!, (n) => `{"jsonrpc":"2.0","id":${n},"method":"ping"}`, true);
  await cstack.stop();
  rmSync(cdir, { recursive: true, force: true });
}
results.uws = await echo("./echo_uws.js", ping);
results.ws = await echo("./echo_ws.js", ping);

const g = results.gateway!;
const out = {
  concurrency: K,
  seconds: DURATION / 1000,
  msgs_per_s: g.msgsPerS,
  ref_jetstream_msgs_per_s: results.jetstream!.msgsPerS,
  ref_uws_echo_msgs_per_s: results.uws!.msgsPerS,
  ref_ws_echo_msgs_per_s: results.ws!.msgsPerS,
  of_jetstream: Number((g.msgsPerS / results.jetstream!.msgsPerS).toFixed(3)),
  of_uws_echo: Number((g.msgsPerS / results.uws!.msgsPerS).toFixed(4)),
  latency_ms: g.latencyMs,
  references_latency_ms: { jetstream: results.jetstream!.latencyMs, uws: results.uws!.latencyMs, ws: results.ws!.latencyMs },
  // is the load generator the bottleneck? % of one core, per path: the bench process, and the server side
  // (gateway tree; nats-server for (a), whose publisher, consumer and subscriber run in the bench process)
  cpu_pct: Object.fromEntries(Object.entries(results).map(([k, r]) => [k, { client: r.clientCpuPct, server: r.serverCpuPct }])),
  post_ingress: { requests_per_s: ingress.perS, latency_ms: { p50: ingress.p50, p99: ingress.p99 }, non_2xx: ingress.non2xx },
  ...(results.gateway_cluster
    ? {
        nats_cluster: {
          nodes: clusterNodes,
          msgs_per_s: results.gateway_cluster.msgsPerS,
          of_single_node: Number((results.gateway_cluster.msgsPerS / g.msgsPerS).toFixed(3)),
          latency_ms: results.gateway_cluster.latencyMs,
        },
      }
    : {}),
};
const path = writeResult("throughput", out);
const row = (name: string, r: Measured) => [
  name,
  r.msgsPerS,
  r.latencyMs.p50,
  r.latencyMs.p90,
  r.latencyMs.p99,
  r.latencyMs.p999,
  r.latencyMs.max,
  `${r.clientCpuPct} / ${r.serverCpuPct}`,
];
process.stdout.write(
  table([
    ["path", "msgs/s", "p50 ms", "p90", "p99", "p99.9", "max", "CPU % bench / server"],
    row("RADIANT full path (MCP ping)", g),
    ...(results.gateway_cluster
      ? [row(`RADIANT full path, ${clusterNodes}-node NATS cluster (streams R${Math.min(3, clusterNodes)})`, results.gateway_cluster)]
      : []),
    row("(a) raw JetStream round trip", results.jetstream!),
    row("(b) bare uWS echo", results.uws!),
    row("(c) ws echo", results.ws!),
  ]) +
    `\n\nHTTP POST /sse/messages ingress (autocannon, ${K} connections): ${ingress.perS} req/s, p50 ${ingress.p50} ms, p99 ${ingress.p99} ms, ${ingress.non2xx} not 2xx` +
    `\n${K} concurrent, ${DURATION / 1000} s each; full path = ${(out.of_jetstream * 100).toFixed(1)}% of (a); ${path}\n`,
);
process.exit(0);
