// The MCP bridge process: owns the upstream MCP sessions (stdio servers it
// starts, Streamable HTTP sessions and their GET streams) for every client
// session; workers reach them through it (README.md beside this file).
import { randomBytes } from "node:crypto";
import { int, loadOrExit, url, bool } from "@radiant/infra/env";
import { createLogger } from "@radiant/infra/log";
import { loadMcpServers } from "@radiant/infra/mcp-servers";
import { openNats, refuseWrongTopology } from "@radiant/infra/nats";
import { stopEarly } from "@radiant/infra/proc";
import { AckedPublisher } from "@radiant/infra/publish";
import { MCP_SESSIONS_BUCKET, openBucket } from "@radiant/wire";
import { McpBridge } from "./bridge.js";

const env = process.env;
const cfg = loadOrExit("mcp-bridge", () => ({
  natsUrl: url(env, "NATS_URL", "nats://localhost:4222", ["nats", "tls"]),
  dev: bool(env, "GATEWAY_DEV", false),
  idleMs: int(env, "MCP_BRIDGE_IDLE_MS", 3_600_000, 1000, 7 * 86_400_000),
  maxSessions: int(env, "MCP_BRIDGE_MAX_SESSIONS", 1000, 1, 1_000_000),
  maxStdio: int(env, "MCP_BRIDGE_MAX_STDIO", 64, 1, 10_000),
  minIdleMs: int(env, "MCP_BRIDGE_MIN_IDLE_MS", 60_000, 0, 86_400_000),
  openWaitMs: int(env, "MCP_BRIDGE_OPEN_WAIT_MS", 10_000, 0, 600_000),
}));
const servers = loadOrExit("mcp-bridge", () => loadMcpServers(env));
const log = createLogger("mcp-bridge", cfg.dev);

const life = stopEarly();
const link = await openNats(cfg.natsUrl, `radiant-mcp-bridge-${process.pid}`, log);
await link.topologyReady.catch(refuseWrongTopology(log, 2));
// its TTL and size are the topology's (`radiant topology apply`: MCP_BRIDGE_STATE_TTL_MS, MCP_BRIDGE_STATE_MAX_BYTES)
const kv = await openBucket(link.nc, MCP_SESSIONS_BUCKET).catch((e: unknown) => {
  log.warn({ err: String(e) }, "no KV bucket for MCP session state: a bridge started again opens fresh upstream sessions");
  return undefined;
});
const maxPayload = link.nc.info?.max_payload ?? 1024 * 1024;
const bridge = new McpBridge({
  nc: link.nc,
  servers,
  publisher: new AckedPublisher(link.nc, 10_000),
  kv,
  log,
  idleMs: cfg.idleMs,
  maxSessions: cfg.maxSessions,
  maxStdio: cfg.maxStdio,
  minIdleMs: cfg.minIdleMs,
  openWaitMs: cfg.openWaitMs,
  maxFrameBytes: maxPayload - 4096,
  id: randomBytes(6).toString("base64url"),
});
bridge.start();
await link.nc.flush();
log.info({ servers: servers.map((s) => `${s.name} (${s.kind === "http" ? s.url : s.command})`) }, "MCP bridge ready");

process.on("unhandledRejection", (err) => log.error({ err: String(err) }, "mcp-bridge: unhandled rejection"));

let stopping = false;
life.ready((why) => {
  if (stopping) return;
  stopping = true;
  log.info({ why, sessions: bridge.sessionCount }, "MCP bridge stopping");
  setTimeout(() => process.exit(0), 10_000).unref();
  void bridge
    .stop()
    .then(() => link.nc.drain())
    .finally(() => process.exit(0));
});
