// bench:memory — gateway memory per idle WebSocket connection against a bare
// uWebSockets.js server and a `ws` server: same client, same N, same run; and
// the gateway's memory per idle SSE stream beside it.
//
// `--young-mib N` runs every server with V8's young generation capped at N
// MiB (--max-semi-space-size). By default it grows to 32 MiB, which at 15,000
// connections is ~2 KB per connection of garbage space, filled more or less
// depending on what survived the last collections: with it capped, the figure
// is what a connection keeps (what 1M connections on one box are made of).
//
// Each server's RSS is read twice: just after its connections opened (the
// garbage of opening them not yet given back), and settled — once V8's memory
// reducer has returned the freed pages (it acts some seconds after allocation
// stops: sampled every 2 s from 24 s on until three samples agree within 1 %,
// at most `--settle-s` seconds; 0 in --quick). The ratios are taken on the
// settled figures: what an idle connection keeps.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { spawnOwned, stopChild, treeRssBytes, waitFor } from "@radiant/infra/proc";
import { Stack } from "@radiant/infra/stack";
import { openIdle, openIdleSse, openMany, type Opener } from "./idle_clients.js";
import { table, writeResult } from "./results.js";

const quick = process.argv.includes("--quick");
const n = quick ? 2000 : 15_000; // one client process holds them all: under the 20,000 open-file limit
const youngAt = process.argv.indexOf("--young-mib");
const youngMib = youngAt > 0 ? Number(process.argv[youngAt + 1]) : undefined;
const nodeArgs = youngMib !== undefined ? [`--max-semi-space-size=${youngMib}`] : [];
const settleAt = process.argv.indexOf("--settle-s");
const settleMs = (settleAt > 0 ? Number(process.argv[settleAt + 1]) : quick ? 0 : 60) * 1000;

interface Target {
  name: string;
  open?: Opener;
  start(): Promise<{ pid: number; port: number; stop(): Promise<void> }>;
}

function echoServer(file: string): Target["start"] {
  return async () => {
    const child = spawnOwned(process.execPath, [...nodeArgs, fileURLToPath(new URL(file, import.meta.url))], {
      env: { ...process.env, RADIANT_PARENT_PID: String(process.pid) },
    });
    let out = "";
    child.stdout?.on("data", (d: Buffer) => (out += d));
    await waitFor(file, async () => out.includes("listening"));
    return { pid: child.pid!, port: Number(/listening (\d+)/.exec(out)![1]), stop: () => stopChild(child) };
  };
}

async function gateway(): ReturnType<Target["start"]> {
  const dir = mkdtempSync(join(tmpdir(), "radiant-bench-"));
  const stack = await Stack.start({ dir, gatewayNodeArgs: nodeArgs });
  return {
    pid: stack.gateway!.child.pid!,
    port: stack.gatewayPort,
    stop: async () => {
      await stack.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const targets: Target[] = [
  { name: "uws", start: echoServer("./echo_uws.js") },
  { name: "uws_sse", start: echoServer("./echo_uws.js"), open: openIdleSse },
  { name: "ws", start: echoServer("./echo_ws.js") },
  { name: "gateway", start: gateway },
  { name: "gateway_sse", start: gateway, open: openIdleSse },
];

/** RSS once the memory reducer had its chance and RSS stopped moving: three samples 2 s apart within 1 %, from 24 s on; or the last one at `settleMs`. */
async function settledRss(pid: number): Promise<number> {
  const samples = [treeRssBytes(pid)];
  const start = Date.now();
  for (const until = start + settleMs; Date.now() < until; ) {
    await sleep(2000);
    samples.push(treeRssBytes(pid));
    const last = samples.slice(-3);
    if (Date.now() - start >= Math.min(24_000, settleMs) && last.length === 3 && Math.max(...last) - Math.min(...last) < Math.min(...last) * 0.01) break;
  }
  return samples[samples.length - 1]!;
}

const perConn: Record<string, number> = {};
const atOpen: Record<string, number> = {};
for (const target of targets) {
  const t = await target.start();
  await sleep(1500);
  const before = treeRssBytes(t.pid);
  const { sockets, failed } = await openMany(n, t.port, 200, target.open ?? openIdle);
  await sleep(1500);
  const opened = treeRssBytes(t.pid);
  const after = await settledRss(t.pid);
  atOpen[target.name] = Math.round((opened - before) / sockets.length);
  perConn[target.name] = Math.round((after - before) / sockets.length);
  process.stderr.write(
    `${target.name}: ${sockets.length} connections (${failed} failed), +${((opened - before) / 1024 / 1024).toFixed(1)} MiB at open, +${((after - before) / 1024 / 1024).toFixed(1)} MiB settled\n`,
  );
  for (const s of sockets) s.destroy();
  await t.stop();
}

const result = {
  connections: n,
  young_generation_mib: youngMib ?? "default",
  settle_s_max: settleMs / 1000,
  at_open: atOpen,
  bytes_per_conn_gateway: perConn.gateway,
  bytes_per_conn_uws: perConn.uws,
  bytes_per_conn_ws: perConn.ws,
  bytes_per_sse_stream_gateway: perConn.gateway_sse,
  bytes_per_sse_stream_uws: perConn.uws_sse,
  sse_vs_gateway_ws: Number((perConn.gateway_sse! / perConn.gateway!).toFixed(2)),
  gateway_vs_uws: Number((perConn.gateway! / perConn.uws!).toFixed(2)),
};
const path = writeResult(youngMib !== undefined ? `memory_young${youngMib}` : "memory", result);
process.stdout.write(
  table([
    ["server", "bytes/connection at open", "settled", "× bare uWS (settled)"],
    ["bare uWebSockets.js", atOpen.uws!, perConn.uws!, "1.00"],
    ["ws", atOpen.ws!, perConn.ws!, (perConn.ws! / perConn.uws!).toFixed(2)],
    ["RADIANT gateway", atOpen.gateway!, perConn.gateway!, result.gateway_vs_uws.toFixed(2)],
    ["RADIANT gateway, SSE streams", atOpen.gateway_sse!, perConn.gateway_sse!, (perConn.gateway_sse! / perConn.uws!).toFixed(2)],
    ["bare uWebSockets.js, SSE streams", atOpen.uws_sse!, perConn.uws_sse!, (perConn.uws_sse! / perConn.uws!).toFixed(2)],
  ]) +
    `\nan SSE stream is ${result.sse_vs_gateway_ws}× a WebSocket session (gateway); bare uWS's SSE stream is ${(perConn.uws_sse! / perConn.uws!).toFixed(2)}× its WebSocket` +
    `\n\n${n} idle connections each (SSE: GET /sse, its 307 followed on the same connection)` +
    `${youngMib !== undefined ? `, young generation ${youngMib} MiB` : ""}; ${path}\n`,
);
process.exit(0);
