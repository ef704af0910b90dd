// A worker process: one durable pull consumer shared with every other worker.
import { loadOrExit } from "@radiant/infra/env";
import { loadModelTable } from "@radiant/infra/models";
import { createLogger } from "@radiant/infra/log";
import { openNats, refuseWrongTopology } from "@radiant/infra/nats";
import { stopEarly } from "@radiant/infra/proc";
import { inboxPolicy } from "@radiant/wire";
import { loadWorkerConfig } from "./config.js";
import { loadMcpServers } from "@radiant/infra/mcp-servers";
import type { NatsConnection } from "@nats-io/nats-core";
import { mcpHandler, mcpMethods } from "./handler_mcp.js";
import { BridgeClient } from "./mcp/bridge_client.js";
import { federation } from "./mcp/federation.js";
import { a2aHandler } from "./a2a/handler_a2a.js";
import { TaskEvents } from "./a2a/task_events.js";
import { TaskStore } from "./a2a/task_store.js";
import { UpstreamAgents } from "./a2a/agent_upstream.js";
import { Pusher } from "./a2a/push.js";
import { loadA2aConfig } from "@radiant/infra/a2a-agents";
import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import { testMethods } from "./handler_test_methods.js";
import type { HandlerTable } from "./handler.js";
import { EgressClient } from "./llm/egress_client.js";
import { llmHandlers } from "./llm/handler_llm.js";
import { reportUsage } from "./llm/usage.js";
import { NatsGate, Worker } from "./worker.js";

const cfg = loadOrExit("worker", () => loadWorkerConfig());
const log = createLogger("worker", cfg.dev);
const models = loadOrExit("worker", () => loadModelTable());
const egress = new EgressClient(cfg.egressProxyUrl.split(",")[0]!, cfg.concurrency);
const mcpServers = loadOrExit("worker", () => loadMcpServers());
const a2aConfig = loadOrExit("worker", () => loadA2aConfig());
let nc: NatsConnection | undefined;
let js: JetStreamClient | undefined;
// MCP servers are reached through the MCP bridge process, which owns their sessions
for (const s of mcpServers)
  if (s.timeoutMs > cfg.handlerTimeoutMs)
    log.warn(
      { server: s.name, timeoutMs: s.timeoutMs, handlerTimeoutMs: cfg.handlerTimeoutMs },
      "an MCP server's timeoutMs is longer than WORKER_HANDLER_TIMEOUT_MS: a call that long moves to another worker at each timeout (the bridge keeps it running)",
    );
const federated = mcpServers.length > 0 ? federation(mcpServers, new BridgeClient(() => nc!)) : undefined;
const ownMethods = cfg.testMethods ? { ...mcpMethods, ...testMethods } : mcpMethods;

// A2A: JSON-RPC and the HTTP+JSON binding, one handler
const a2a = a2aHandler({
  upstream: new UpstreamAgents(a2aConfig.agents),
  pusher: new Pusher({ post: (url, h, body) => egress.webhook(url, h, body) }, log),
  tasks: new TaskStore(() => nc!),
  events: new TaskEvents(() => (js ??= jetstream(nc!))),
  nc: () => nc!,
});
// (protocol, operation) → handler; what is missing answers "not supported yet" in the protocol's own format
const handlers: HandlerTable = {
  mcp: { rpc: federated ? mcpHandler({ ...ownMethods, ...federated.methods }, federated.extras) : mcpHandler(ownMethods) },
  a2a: { rpc: a2a, rest: a2a },
  ...llmHandlers({ models, egress, usage: (req, tokens) => nc && reportUsage(nc, req, tokens) }),
};

// while NATS does not answer, a signal or the parent's death ends the worker at once
const life = stopEarly();
log.info({ nats: cfg.natsUrl }, "worker waiting for NATS");
const link = await openNats(cfg.natsUrl, `radiant-worker-${process.pid}`, log, { consumer: true });
// the consumer's ack wait is the topology's (radiant topology apply): the worker times its own checks by it
const { ackWaitMs = inboxPolicy.ackWaitMs } = await link.topologyReady.catch(refuseWrongTopology(log, 2));
nc = link.nc;
const worker = new Worker({
  nc: link.nc,
  handlers,
  log,
  concurrency: cfg.concurrency,
  handlerTimeoutMs: cfg.handlerTimeoutMs,
  maxDeliver: inboxPolicy.maxDeliver,
  ackWaitMs,
  coalesceMs: cfg.coalesceMs,
  publishRetryMs: cfg.publishRetryMs,
  gate: new NatsGate(link),
});
await worker.start();
log.info(
  { nats: cfg.natsUrl, concurrency: cfg.concurrency, coalesceMs: cfg.coalesceMs, testMethods: cfg.testMethods, mcpServers: mcpServers.map((s) => s.name) },
  "worker ready",
);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  // first of all: whatever hangs or throws below, the process ends
  const force = setTimeout(() => process.exit(1), 20_000);
  log.info({ signal, running: worker.active }, "worker stopping: aborting the requests in hand");
  await worker.stop();
  await link.nc.drain().catch(() => {});
  await egress.close().catch(() => {});
  clearTimeout(force);
  log.info({ handled: worker.handled }, "worker stopped");
  process.exit(0);
}
life.ready((why) => void shutdown(why));
