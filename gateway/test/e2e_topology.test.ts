// The JetStream topology has one writer: `radiant topology apply` creates the
// streams, the workers' consumer and the KV buckets with the settings of its environment;
// gateways and workers only check it at start, refuse to run (clearly, with a
// fatal exit code) when it is missing or differs, and never rewrite it.
import t from "tap";
import { execFile } from "node:child_process";
import { once } from "node:events";
import { jetstreamManager } from "@nats-io/jetstream";
import { natsForTest } from "@radiant/infra/nats-server";
import { entries } from "@radiant/infra/stack";
import { spawnOwned, stopChild } from "@radiant/infra/proc";
import { A2A_TASKS_BUCKET, API_KEYS_BUCKET, checkTopology, HISTORY_STREAM, INBOX_STREAM, MCP_SESSIONS_BUCKET, WORKER_CONSUMER } from "@radiant/wire";

const { server, nc } = await natsForTest("topology", t.teardown);
const jsm = await jetstreamManager(nc);
const BASE = { PATH: process.env.PATH!, NATS_URL: server.url, RADIANT_PARENT_PID: String(process.pid) };

function radiant(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [entries.topology, ...args], { env: { ...BASE, ...env }, timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: child.exitCode ?? (err ? 1 : 0), stdout, stderr }),
    );
  });
}

/** Start a process and collect what it says until it exits (or `ms` passed: then it is stopped). */
async function runProcess(entry: string, env: Record<string, string>, ms: number) {
  const child = spawnOwned(process.execPath, [entry], { env: { ...BASE, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout?.on("data", (b: Buffer) => void (out += b.toString()));
  child.stderr?.on("data", (b: Buffer) => void (out += b.toString()));
  const timer = setTimeout(() => void stopChild(child, 2000), ms);
  const [code] = (await once(child, "exit")) as [number | null];
  clearTimeout(timer);
  return { code, out };
}

const GATEWAY_ENV = {
  GATEWAY_LISTEN_ADDR: "127.0.0.1:0",
  GATEWAY_HEALTH_ADDR: "127.0.0.1:0",
  RESUME_TOKEN_SECRET: "a-long-random-production-secret-0123456789",
};

t.test("bad usage and a bad setting: a line saying so, and no change", async (t) => {
  const usage = await radiant(["topology", "remove"]);
  t.equal(usage.code, 64);
  t.match(usage.stderr, /usage: radiant topology apply\|check/);
  const bad = await radiant(["topology", "apply"], { HISTORY_MAX_MSGS_PER_SESSION: "lots" });
  t.equal(bad.code, 2);
  t.match(bad.stderr, /^radiant topology: invalid configuration: HISTORY_MAX_MSGS_PER_SESSION:/);
  t.equal(bad.stderr.trim().split("\n").length, 1, "one line");
  t.same((await checkTopology(jsm, { consumer: true })).problems.length, 5, "nothing was created");
});

t.test("with no topology, check lists what is missing; a gateway and a worker refuse to run", async (t) => {
  const check = await radiant(["topology", "check"]);
  t.equal(check.code, 1);
  for (const s of ["INBOX", "HISTORY", "ENDED", "A2A_EVENTS"]) t.match(check.stderr, `stream ${s} is missing`);
  t.match(check.stderr, `consumer ${WORKER_CONSUMER} on ${INBOX_STREAM} is missing`);

  const worker = await runProcess(entries.worker, {}, 20_000);
  t.equal(worker.code, 2, "the worker exits 2");
  t.match(worker.out, /the JetStream topology is not as this version needs it \(run `pnpm radiant topology apply`\)/);
  const gateway = await runProcess(entries.gateway, GATEWAY_ENV, 20_000);
  t.equal(gateway.code, 5, "the gateway (its supervisor) exits 5");
  t.match(gateway.out, /stream HISTORY is missing/);
  t.same((await checkTopology(jsm, { consumer: true })).problems.length, 5, "and neither wrote anything");
});

t.test("apply writes it with its environment's settings; processes check it and never rewrite it", async (t) => {
  const applied = await radiant(["topology", "apply"], {
    HISTORY_MAX_MSGS_PER_SESSION: "7",
    WORKER_ACK_WAIT_MS: "4000",
    MCP_BRIDGE_STATE_TTL_MS: "3600000",
    MCP_BRIDGE_STATE_MAX_BYTES: "2097152",
  });
  t.equal(applied.code, 0, applied.stderr);
  t.match(applied.stdout, /radiant topology: applied/);
  t.equal((await radiant(["topology", "check"])).code, 0, "check: as this version needs it");
  t.equal((await jsm.streams.info(HISTORY_STREAM)).config.max_msgs_per_subject, 7);
  t.equal((await jsm.consumers.info(INBOX_STREAM, WORKER_CONSUMER)).config.ack_wait, 4000 * 1e6);
  // the KV buckets too, the MCP bridge's with its settings
  const mcp = (await jsm.streams.info(`KV_${MCP_SESSIONS_BUCKET}`)).config;
  t.match(mcp, { max_age: 3600000 * 1e6, max_bytes: 2097152, max_msgs_per_subject: 1 }, "MCP_SESSIONS: the TTL and cap apply was given");
  for (const b of [API_KEYS_BUCKET, A2A_TASKS_BUCKET]) t.ok(await jsm.streams.info(`KV_${b}`), `${b} written by apply`);

  // a worker with other settings in its environment starts, and leaves the topology as it was
  const worker = await runProcess(entries.worker, { HISTORY_MAX_MSGS_PER_SESSION: "9", WORKER_ACK_WAIT_MS: "9000", LOG_LEVEL: "info" }, 4000);
  t.match(worker.out, /"msg":"worker ready"/);
  t.equal((await jsm.streams.info(HISTORY_STREAM)).config.max_msgs_per_subject, 7, "HISTORY's retention is apply's");
  t.equal((await jsm.consumers.info(INBOX_STREAM, WORKER_CONSUMER)).config.ack_wait, 4000 * 1e6, "so is the ack wait");

  // apply again with other settings: brought up to them (idempotent otherwise)
  t.equal((await radiant(["topology", "apply"], { HISTORY_MAX_MSGS_PER_SESSION: "11" })).code, 0);
  t.equal((await jsm.streams.info(HISTORY_STREAM)).config.max_msgs_per_subject, 11);
  t.equal((await jsm.streams.info(`KV_${MCP_SESSIONS_BUCKET}`)).config.max_age, 86_400_000 * 1e6, "a bucket too (the default TTL again)");
  t.equal((await radiant(["topology", "apply"], { MCP_BRIDGE_STATE_TTL_MS: "60000" })).code, 0, "a TTL under the 2-minute duplicate window");
  t.equal((await jsm.streams.info(`KV_${MCP_SESSIONS_BUCKET}`)).config.max_age, 60_000 * 1e6);
});

t.test("a stream that differs in what the code relies on: check names it, a worker refuses, apply mends it", async (t) => {
  // (nats-server 2.9 keeps a republish an update leaves out: direct gets are what can be turned off)
  await jsm.streams.update(HISTORY_STREAM, { ...(await jsm.streams.info(HISTORY_STREAM)).config, allow_direct: false });
  const check = await radiant(["topology", "check"]);
  t.equal(check.code, 1);
  t.match(check.stderr, /stream HISTORY: allow_direct is unset, this version needs true/);
  const worker = await runProcess(entries.worker, {}, 20_000);
  t.equal(worker.code, 2);
  t.match(worker.out, /allow_direct/);
  t.equal((await radiant(["topology", "apply"])).code, 0);
  t.same((await checkTopology(jsm, { consumer: true })).problems, [], "mended");
});
