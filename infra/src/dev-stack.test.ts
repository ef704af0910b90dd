// `make run` as a user runs it: the stack comes up on the configured ports,
// the seed's quick start works, a process killed with -9 is restarted while
// the rest stays up, and Ctrl-C (SIGINT) leaves no process behind.
import t from "tap";
import { mkdtempSync, writeFileSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { spawn } from "node:child_process";
import WebSocket from "ws";
import { descendants, exited, freePort, waitFor } from "./proc.js";

/** running (a zombie nobody reaps, as an orphan can be in a container, counts as gone) */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};
const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
};

const dir = mkdtempSync(join(tmpdir(), "radiant-run-"));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const [nats, mon, egress, gw, health] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
// one MCP server behind it: `make run` starts the MCP bridge too
const mcpConfig = join(dir, "mcp.json");
writeFileSync(
  mcpConfig,
  JSON.stringify({ mcpServers: { demo: { command: process.execPath, args: [fileURLToPath(new URL("../dist/mcp_demo/main.js", import.meta.url)), "stdio"] } } }),
);
const env: Record<string, string | undefined> = {
  ...process.env,
  RADIANT_DATA_DIR: dir,
  RADIANT_MCP_CONFIG: mcpConfig,
  NATS_URL: `nats://127.0.0.1:${nats}`,
  NATS_MONITOR_PORT: String(mon),
  EGRESS_PROXY_URL: `http://127.0.0.1:${egress}`,
  GATEWAY_LISTEN_ADDR: `127.0.0.1:${gw}`,
  GATEWAY_HEALTH_ADDR: `127.0.0.1:${health}`,
};
delete env.RESUME_TOKEN_SECRET; // made and kept in the data folder
const child = spawn(process.execPath, [fileURLToPath(new URL("../dist/dev-stack.js", import.meta.url))], { env, stdio: ["ignore", "pipe", "pipe"] });
let out = "";
child.stdout.on("data", (d) => (out += d));
child.stderr.on("data", (d) => (out += d));
t.teardown(() => child.kill("SIGKILL"));
/** every pid the stack ever had, to check at the end that none is left */
const seen = new Set<number>();
const pidsOf = (what: string) => {
  const pids = descendants(child.pid!);
  for (const p of pids) seen.add(p);
  return pids.filter((p) => cmdline(p).includes(what));
};
const withOutput = (e: unknown) => {
  throw new Error(`${(e as Error).message}\n--- dev-stack output ---\n${out.slice(-8000)}`);
};

await waitFor("RADIANT is up", async () => out.includes("RADIANT is up"), 30_000).catch(withOutput);

/**
 * `frame` (its id 1) on a fresh WebSocket, and the answer. The default framing
 * opens with a session frame (waited for first); the `mcp` one does not.
 */
async function call(frame: string, protocol?: "mcp"): Promise<Record<string, unknown>> {
  const ws = new WebSocket(`ws://127.0.0.1:${gw}/ws`, protocol ?? []);
  try {
    const frames: Record<string, unknown>[] = [];
    ws.on("message", (d) => frames.push(JSON.parse(d.toString()) as Record<string, unknown>));
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    if (protocol === undefined) await waitFor("the session frame", async () => frames.length >= 1, 20_000);
    ws.send(frame);
    await waitFor("the answer", async () => frames.some((f) => f.id === 1), 30_000);
    return frames.find((f) => f.id === 1)!;
  } finally {
    ws.close();
  }
}
/** A fresh WebSocket session gets an answer to ping (a worker is there to give it). */
const ping = () => call('{"jsonrpc":"2.0","id":1,"method":"ping"}');
const healthOk = async () => ((await (await fetch(`http://127.0.0.1:${health}/health`)).json()) as { status: string }).status === "ok";

/** kill -9 the one process running `what`; resolves with the pid of the one started in its place */
async function killAndAwaitRestart(what: string): Promise<{ old: number; fresh: number }> {
  const [old, ...more] = pidsOf(what);
  if (old === undefined || more.length) throw new Error(`expected one process running ${what}: ${[old, ...more].join(", ")}`);
  process.kill(old, "SIGKILL");
  let fresh: number | undefined;
  await waitFor(`a new process running ${what}`, async () => (fresh = pidsOf(what).find((p) => p !== old)) !== undefined, 30_000).catch(withOutput);
  return { old, fresh: fresh! };
}

t.test("up on the configured ports, the quick start works", async (t) => {
  t.ok(await healthOk(), "gateway /health ok");
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
});

t.test("the resume-token secret: made once in the data folder (0600), never logged", async (t) => {
  const file = join(dir, "resume-token-secret");
  const secret = readFileSync(file, "utf8").trim();
  t.match(secret, /^[A-Za-z0-9_-]{48}$/);
  t.equal(statSync(file).mode & 0o777, 0o600);
  t.match(out, /resume token secret: a new random one, kept in this file/);
  t.notOk(out.includes(secret), "the secret is not in the output");
});

t.test("kill -9 the worker: it is restarted, the stack stays up, a new session gets answers", async (t) => {
  const { old, fresh } = await killAndAwaitRestart("workers/dist/main.js");
  t.not(fresh, old);
  t.equal(child.exitCode, null, "make run still runs");
  await waitFor("gateway /health ok", healthOk, 30_000).catch(withOutput);
  t.same((await ping().catch(withOutput)).result, {}, "ping answered after the restart");
  t.match(out, /"process":"worker-0","code":null,"signal":"SIGKILL","delayMs":\d+,"msg":"worker-0 exited; restarting it/);
});

t.test("kill -9 the egress proxy: it is restarted and answers /health again", async (t) => {
  await killAndAwaitRestart("egress-proxy/dist/main.js");
  await waitFor("egress proxy /health", async () => (await fetch(`http://127.0.0.1:${egress}/health`)).ok, 30_000).catch(withOutput);
  t.equal(child.exitCode, null, "make run still runs");
  t.ok(await healthOk(), "gateway /health ok");
  t.match(out, /"process":"egress-proxy","code":null,"signal":"SIGKILL"/);
});

t.test("kill -9 the MCP bridge: it is restarted, and the MCP server behind it answers again", async (t) => {
  const toolsCall = () => call('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3}}}', "mcp");
  t.match(await toolsCall().catch(withOutput), { result: { content: [{ text: "5" }] } });
  await killAndAwaitRestart("workers/dist/mcp_bridge/main.js");
  await waitFor("the bridge back", async () => out.includes('"process":"mcp-bridge","code":null,"signal":"SIGKILL"'), 30_000).catch(withOutput);
  await waitFor("tools/call answered again", async () => JSON.stringify(await toolsCall().catch(() => ({}))).includes('"text":"5"'), 30_000).catch(withOutput);
  t.equal(child.exitCode, null, "make run still runs");
});

t.test("kill -9 the gateway supervisor: it is restarted on the same ports", async (t) => {
  await killAndAwaitRestart("gateway/dist/supervisor.js");
  await waitFor("gateway /health ok", healthOk, 60_000).catch(withOutput);
  t.same((await ping().catch(withOutput)).result, {}, "ping answered on the same port");
  t.equal(child.exitCode, null, "make run still runs");
  t.match(out, /"process":"gateway","code":null,"signal":"SIGKILL"/);
});

t.test("Ctrl-C stops everything", async (t) => {
  const pids = [...new Set([...seen, ...descendants(child.pid!)])];
  t.ok(descendants(child.pid!).length >= 5, "nats-server, egress proxy, worker, gateway supervisor and process");
  child.kill("SIGINT");
  t.equal(await exited(child), 0, "exits 0");
  await waitFor("every process gone", async () => pids.every((p) => !alive(p)), 15_000);
  t.pass("no process left behind");
  t.notMatch(out.slice(out.lastIndexOf("stopping the stack")), /restarting it/, "no restart while stopping");
});

t.test("a process that cannot run (invalid configuration, exit 2) is not restarted: make run stops, exits 1 and says why", async (t) => {
  const dir2 = mkdtempSync(join(tmpdir(), "radiant-run-"));
  t.teardown(() => rmSync(dir2, { recursive: true, force: true }));
  const [nats, mon, egress, gw, health] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const bad = spawn(process.execPath, [fileURLToPath(new URL("../dist/dev-stack.js", import.meta.url))], {
    env: {
      ...env,
      RADIANT_DATA_DIR: dir2,
      NATS_URL: `nats://127.0.0.1:${nats}`,
      NATS_MONITOR_PORT: String(mon),
      EGRESS_PROXY_URL: `http://127.0.0.1:${egress}`,
      GATEWAY_LISTEN_ADDR: `127.0.0.1:${gw}`,
      GATEWAY_HEALTH_ADDR: `127.0.0.1:${health}`,
      RESUME_TOKEN_SECRET: "a-secret-given-in-the-environment-0123456789",
      WORKER_CONCURRENCY: "lots",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out2 = "";
  bad.stdout.on("data", (d) => (out2 += d));
  bad.stderr.on("data", (d) => (out2 += d));
  t.teardown(() => bad.kill("SIGKILL"));
  t.equal(await exited(bad), 1, "exits 1");
  t.match(out2, /worker: invalid configuration: WORKER_CONCURRENCY/);
  t.match(
    out2,
    /"process":"worker-0","code":2,"signal":null,"reason":"invalid configuration","msg":"worker-0 cannot run \(invalid configuration\): not restarting it; stopping the stack"/,
  );
  t.notMatch(out2, /restarting it in/, "no restart");
  t.match(out2, /resume token secret: RESUME_TOKEN_SECRET from the environment/);
  t.notOk(out2.includes("a-secret-given-in-the-environment-0123456789"), "the secret is not in the output");
  // every process it started carries its data folder in its environment
  const ours = () =>
    readdirSync("/proc")
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/environ`, "utf8").split("\0").includes(`RADIANT_DATA_DIR=${dir2}`) && alive(Number(p));
        } catch {
          return false;
        }
      });
  await waitFor("every process gone", async () => ours().length === 0, 15_000).catch((e) => {
    throw new Error(`${(e as Error).message}: ${ours().join(", ")}`);
  });
  t.pass("no process left behind");
});
