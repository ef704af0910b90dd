// bench:throughput — closed-loop MCP pings through the full path (socket →
// INBOX → worker → HISTORY → socket) against same-run references: (a) a raw
// JetStream round trip on the same path shape with no sockets, (b) a bare uWS
// echo server, (c) a `ws` echo server.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import autocannon from "autocannon";
import { connect } from "@nats-io/transport-node";
import { AckPolicy, RetentionPolicy, StorageType, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { spawnOwned, stopChild, waitFor } from "@radiant/infra/proc";
import { Stack } from "@radiant/infra/stack";
import { closedLoop, type LoopResult } from "./latency.js";
import { table, writeResult } from "./results.js";

const quick = process.argv.includes("--quick");
const K = quick ? 16 : 64;
const DURATION = quick ? 3000 : 15_000;

/** K WebSocket clients; `done` is called for the answer to each slot's request. */
async function sockets(url: string, skipFirst: boolean): Promise<{ ws: WebSocket[]; onAnswer: ((slot: number) => void)[] }> {
  const onAnswer: ((slot: number) => void)[] = [];
  const ws = await Promise.all(
    Array.from({ length: K }, (_, slot) => {
      const w = new WebSocket(url, { perMessageDeflate: false });
      let first = skipFirst;
      w.on("message", () => {
        if (first) {
          first = false; // the session frame
          return;
        }
        onAnswer[slot]?.(slot);
      });
      return new Promise<WebSocket>((r) => w.once(skipFirst ? "message" : "open", () => r(w)));
    }),
  );
  return { ws, onAnswer };
}

async function wsLoop(url: string, frame: (n: number) => string, skipFirst: boolean): Promise<LoopResult> {
  const { ws, onAnswer } = await sockets(url, skipFirst);
  let n = 0;
  const r = await closedLoop(K, DURATION, (slot, done) => {
    onAnswer[slot] = done;
    ws[slot]!.send(frame(n++));
  });
  for (const w of ws) w.terminate();
  return r;
}

async function echo(file: string, frame: string): Promise<LoopResult> {
  const child = spawnOwned(process.execPath, [fileURLToPath(new URL(file, import.meta.url))], {
    env: { ...process.env, RADIANT_PARENT_PID: String(process.pid) },
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d));
  await waitFor(file, async () => out.includes("listening"));
  const r = await wsLoop(`ws://127.0.0.1:${/listening (\d+)/.exec(out)![1]}/ws`, () => frame, false);
  await stopChild(child);
  return r;
}

/** (a) publish to a work queue; a consumer publishes to a RePublish stream; a core subscriber receives. */
async function rawJetStream(natsUrl: string, frame: string): Promise<LoopResult> {
  const nc = await connect({ servers: natsUrl });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "BENCH_IN", subjects: ["bin.>"], retention: RetentionPolicy.Workqueue, storage: StorageType.File });
  await jsm.streams.add({ name: "BENCH_OUT", subjects: ["bhist.>"], storage: StorageType.File, republish: { src: "bhist.>", dest: "bout.>" } });
  await jsm.consumers.add("BENCH_IN", { durable_name: "bench", ack_policy: AckPolicy.Explicit, max_ack_pending: 10_000 });
  const js = jetstream(nc);
  const worker = await connect({ servers: natsUrl });
  const wjs = jetstream(worker);
  const messages = await (await wjs.consumers.get("BENCH_IN", "bench")).consume({ max_messages: 256 });
  void (async () => {
    // errors only when the run is over and the connection closes under in-flight publishes
    for await (const m of messages) void wjs.publish(`bhist.${m.subject.slice(4)}`, m.data).then(() => m.ack(), () => {});
  })();
  const onAnswer: (() => void)[] = [];
  nc.subscribe("bout.>", { callback: (_e, m) => onAnswer[Number(m.subject.slice(5))]?.() });
  await nc.flush();
  const body = new TextEncoder().encode(frame);
  const r = await closedLoop(K, DURATION, (slot, done) => {
    onAnswer[slot] = done;
    void js.publish(`bin.${slot}`, body);
  });
  await messages.close();
  await worker.close();
  await nc.close();
  return r;
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
const stack = await Stack.start({ dir, workers: 2, gatewayProcesses: 1 });
const ping = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
const results: Record<string, LoopResult> = {};
// every request its own id: the gateway runs a repeated JSON-RPC id once (INBOX de-duplication)
results.gateway = await wsLoop(stack.wsUrl, (n) => `{"jsonrpc":"2.0","id":${n},"method":"ping"}`, true);
results.jetstream = await rawJetStream(stack.nats.url, ping);
const ingress = await postIngress(stack.wsUrl.replace(/^ws/, "http").replace(/\/ws$/, ""));
await stack.stop();
rmSync(dir, { recursive: true, force: true });
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
  post_ingress: { requests_per_s: ingress.perS, latency_ms: { p50: ingress.p50, p99: ingress.p99 }, non_2xx: ingress.non2xx },
};
const path = writeResult("throughput", out);
const row = (name: string, r: LoopResult) => [name, r.msgsPerS, r.latencyMs.p50, r.latencyMs.p90, r.latencyMs.p99, r.latencyMs.p999, r.latencyMs.max];
process.stdout.write(
  table([
    ["path", "msgs/s", "p50 ms", "p90", "p99", "p99.9", "max"],
    row("RADIANT full path (MCP ping)", g),
    row("(a) raw JetStream round trip", results.jetstream!),
    row("(b) bare uWS echo", results.uws!),
    row("(c) ws echo", results.ws!),
  ]) +
    `\n\nHTTP POST /sse/messages ingress (autocannon, ${K} connections): ${ingress.perS} req/s, p50 ${ingress.p50} ms, p99 ${ingress.p99} ms, ${ingress.non2xx} not 2xx` +
    `\n${K} concurrent, ${DURATION / 1000} s each; full path = ${(out.of_jetstream * 100).toFixed(1)}% of (a); ${path}\n`,
);
process.exit(0);
