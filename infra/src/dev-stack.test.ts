// `make run` as a user runs it: the stack comes up on the configured ports,
// the seed's quick start works, and Ctrl-C (SIGINT) leaves no process behind.
import t from "tap";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { spawn } from "node:child_process";
import WebSocket from "ws";
import { descendants, exited, freePort, waitFor } from "./proc.js";

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

t.test("make run: up, quick start, Ctrl-C stops everything", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "radiant-run-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const [nats, mon, egress, gw, health] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const child = spawn(process.execPath, [fileURLToPath(new URL("../dist/dev-stack.js", import.meta.url))], {
    env: {
      ...process.env,
      RADIANT_DATA_DIR: dir,
      NATS_URL: `nats://127.0.0.1:${nats}`,
      NATS_MONITOR_PORT: String(mon),
      EGRESS_PROXY_URL: `http://127.0.0.1:${egress}`,
      GATEWAY_LISTEN_ADDR: `127.0.0.1:${gw}`,
      GATEWAY_HEALTH_ADDR: `127.0.0.1:${health}`,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  t.teardown(() => child.kill("SIGKILL"));
  await waitFor("RADIANT is up", async () => out.includes("RADIANT is up"), 30_000).catch((e) => {
    throw new Error(`${(e as Error).message}\n${out}`);
  });
  const h = (await (await fetch(`http://127.0.0.1:${health}/health`)).json()) as { status: string };
  t.equal(h.status, "ok");
  t.ok((await fetch(`http://127.0.0.1:${egress}/health`)).ok, "egress proxy answers /health");

  const ws = new WebSocket(`ws://127.0.0.1:${gw}/ws`);
  const frames: Record<string, unknown>[] = [];
  ws.on("message", (d) => frames.push(JSON.parse(d.toString()) as Record<string, unknown>));
  await new Promise((r) => ws.once("open", r));
  ws.send('{"jsonrpc":"2.0","method":"initialize","id":1}');
  await waitFor("initialize result", async () => frames.length >= 2);
  t.equal(frames[0]!.type, "session");
  t.match(frames[1], { id: 1, result: { protocolVersion: "2025-03-26" } });
  ws.close();

  const pids = descendants(child.pid!);
  t.ok(pids.length >= 5, `nats-server, egress proxy, worker, gateway supervisor and process: ${pids.length} processes`);
  child.kill("SIGINT");
  t.equal(await exited(child), 0, "exits 0");
  await waitFor("every process gone", async () => pids.every((p) => !alive(p)), 15_000);
  t.pass("no process left behind");
});
