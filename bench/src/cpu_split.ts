// bench:cpu — where the CPU of the full path goes: a closed loop of MCP pings
// (64 sessions, 10 s) through a stack with N workers, and the CPU each
// process used meanwhile (% of one core, /proc). The profile-guided changes
// in RESULTS.md were measured with it; `--node-args "--cpu-prof
// --cpu-prof-dir=DIR"` profiles the gateway and the workers under this load.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Stack } from "@radiant/infra/stack";
import { closedLoop } from "./latency.js";
import { treeCpuSeconds } from "./system.js";
import { openLite, sendText } from "./ws_lite.js";

const argText = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? dflt) : dflt;
};
const workers = Number(argText("workers", "2"));
const nodeArgs = argText("node-args", "").split(" ").filter(Boolean);
const K = 64;
const SECONDS = 10;

const dir = mkdtempSync(join(tmpdir(), "radiant-bench-"));
const stack = await Stack.start({ dir, workers, gatewayNodeArgs: nodeArgs, workerNodeArgs: nodeArgs });
const conns = await Promise.all(Array.from({ length: K }, () => openLite(stack.gatewayPort, "127.0.0.1", "127.0.0.2")));
const pids: Record<string, number> = {
  gateway: stack.gateway!.child.pid!,
  nats: stack.nats.pid!,
  ...Object.fromEntries(stack.workers.map((w, i) => [`worker${i}`, w.child.pid!])),
};
const before = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, treeCpuSeconds(p)]));
const own0 = process.cpuUsage();
let n = 0;
const t0 = performance.now();
const r = await closedLoop(K, SECONDS * 1000, (slot, done) => {
  const c = conns[slot]!;
  c.onText = () => {
    c.onText = undefined;
    done();
  };
  sendText(c, `{"jsonrpc":"2.0","id":${n++},"method":"ping"}`);
});
const s = (performance.now() - t0) / 1000;
const own = process.cpuUsage(own0);
const pct = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, Number((((treeCpuSeconds(p) - before[k]!) / s) * 100).toFixed(1))]));
pct.bench = Number((((own.user + own.system) / 1e6 / s) * 100).toFixed(1));
process.stdout.write(`${r.msgsPerS} msgs/s; CPU, % of one core: ${JSON.stringify(pct)}\n`);
for (const c of conns) c.socket.destroy();
await stack.stop();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
