// The gateway supervisor: validates the configuration, runs GATEWAY_PROCESSES
// gateway processes on one port (uSockets sets SO_REUSEPORT), restarts one that
// crashes, and serves /health and /metrics from their combined counters.
import { fork, type ChildProcess } from "node:child_process";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { connect as connectTcp, type AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { AggregatorRegistry } from "prom-client";
import { loadOrExit } from "@radiant/infra/env";
import { createLogger } from "@radiant/infra/log";
import { DEV_SECRET, loadGatewayConfig } from "./config.js";
import { fatalExit, type ListeningMessage, type MetricsRequest, type MetricsResponse, type MetricsSnapshot } from "./ipc.js";
import { loadNativeUws, NativeUwsError } from "./uws.js";
import { freePort, stopWithParent } from "@radiant/infra/proc";

const cfg = loadOrExit("gateway", () => loadGatewayConfig());
const log = createLogger("gateway", cfg.dev);

try {
  loadNativeUws();
} catch (e) {
  if (!(e instanceof NativeUwsError)) throw e;
  log.fatal(e.message);
  process.exit(fatalExit.noNativeUws);
}
if (cfg.resumeTokenSecret === DEV_SECRET) {
  log.warn("RESUME_TOKEN_SECRET is the default 'dev-secret' (allowed because GATEWAY_DEV=true): anyone can forge resume tokens. Never run this way in production.");
}

const FATAL_EXITS = new Set<number>(Object.values(fatalExit));
const serverEntry = fileURLToPath(new URL("./server.js", import.meta.url));
const children: (ChildProcess | undefined)[] = new Array(cfg.processes).fill(undefined);
let stopping = false;

/** the port every gateway process listens on: the configured one, or the one process 0 was given for `:0` */
let port = cfg.listen.port;
const listening = new Set<number>();

/** restarts in a row per slot that did not get to listen: the delay doubles with each */
const failedRestarts: number[] = new Array(cfg.processes).fill(0);

function start(i: number): void {
  const env = { ...process.env, GATEWAY_WORKER_INDEX: String(i), GATEWAY_LISTEN_ADDR: `${cfg.listen.host}:${port}` };
  const c = fork(serverEntry, [], { env, stdio: "inherit" });
  children[i] = c;
  c.on("message", onChildMessage);
  c.on("exit", (code, signal) => {
    children[i] = undefined;
    retire(i);
    if (stopping) {
      if (children.every((x) => x === undefined)) finish();
      return;
    }
    // A process that cannot listen when the gateway starts means a wrong
    // address: stop. The same after a crash is the kernel still holding the
    // dead process's connections on the port (TIME_WAIT, up to a minute):
    // keep trying, the other processes serve meanwhile.
    const relisten = code === fatalExit.listen && listening.has(i);
    if (code !== null && FATAL_EXITS.has(code) && !relisten) {
      log.fatal({ process: i, code }, "gateway process cannot start; stopping");
      void stop(code);
      return;
    }
    const delay = Math.min(5000, 500 * 2 ** failedRestarts[i]!);
    failedRestarts[i]!++;
    if (relisten) log.warn({ process: i, retryInMs: delay }, "gateway process cannot listen yet (the port still holds the dead process's connections); retrying");
    else log.error({ process: i, code, signal, retryInMs: delay }, "gateway process died; restarting it");
    setTimeout(() => !stopping && start(i), delay);
  });
}

// ---- metrics over IPC ----------------------------------------------------
let nextId = 1;
const waiting = new Map<number, (m: MetricsResponse["metrics"]) => void>();

/** each live process's latest counters (its own snapshots), by slot */
const lastSnapshot: (MetricsResponse["metrics"] | undefined)[] = new Array(cfg.processes).fill(undefined);
/** the counters of processes that died or were replaced, summed: counters never go back down */
let retired: MetricsResponse["metrics"] = [];

/** Keep a dead process's counters (not its gauges: its connections are gone). */
function retire(i: number): void {
  const last = lastSnapshot[i];
  lastSnapshot[i] = undefined;
  if (!last) return;
  const kept = last.filter((m) => ["counter", "histogram"].includes(String(m.type)));
  void AggregatorRegistry.aggregate([retired, kept])
    .getMetricsAsJSON()
    .then((json) => (retired = json));
}

function onChildMessage(this: ChildProcess, m: MetricsResponse | ListeningMessage | MetricsSnapshot): void {
  if (m.type === "radiant:metrics") {
    waiting.get(m.id)?.(m.metrics);
  } else if (m.type === "radiant:snapshot") {
    const i = children.indexOf(this);
    if (i >= 0) lastSnapshot[i] = m.metrics;
  } else if (m.type === "radiant:listening") {
    const i = children.indexOf(this);
    listening.add(i);
    failedRestarts[i] = 0;
    if (port === 0) {
      port = m.port;
    }
    announceReady();
  }
}

let announced = false;
/** one line once every process listens and /health answers: tools read the ports from it */
function announceReady(): void {
  if (announced || listening.size < cfg.processes || !healthServer.listening) return;
  announced = true;
  const healthPort = (healthServer.address() as AddressInfo).port;
  log.info({ port, healthPort, processes: cfg.processes }, "gateway ready");
}

async function collect(): Promise<{ answered: number; registry: ReturnType<typeof AggregatorRegistry.aggregate> }> {
  const replies = await Promise.all(
    children.map(
      (c, i) =>
        new Promise<MetricsResponse["metrics"] | undefined>((resolve) => {
          if (!c?.connected) return resolve(undefined);
          const id = nextId++;
          const t = setTimeout(() => {
            waiting.delete(id);
            resolve(undefined);
          }, 1000);
          waiting.set(id, (v) => {
            clearTimeout(t);
            waiting.delete(id);
            // the freshest counters of this process: what is kept of it if it dies next
            if (children[i] === c) lastSnapshot[i] = v;
            resolve(v);
          });
          const req: MetricsRequest = { type: "radiant:metrics", id };
          c.send(req);
        }),
    ),
  );
  const got = replies.filter((r): r is MetricsResponse["metrics"] => r !== undefined);
  return { answered: got.length, registry: AggregatorRegistry.aggregate(retired.length > 0 ? [retired, ...got] : got) };
}

async function health(): Promise<{ code: number; body: Record<string, unknown> }> {
  const { answered, registry } = await collect();
  const values = new Map<string, number>();
  for (const m of await registry.getMetricsAsJSON()) {
    if (m.values.length === 1) values.set(m.name, m.values[0]!.value);
  }
  const natsUp = answered === cfg.processes && values.get("radiant_nats_connected") === 1;
  const ok = natsUp && !stopping;
  return {
    code: ok ? 200 : 503,
    body: {
      status: ok ? "ok" : stopping ? "stopping" : "degraded",
      active_connections: values.get("radiant_active_connections") ?? 0,
      total_connections: values.get("radiant_connections_total") ?? 0,
      messages_in: values.get("radiant_messages_in_total") ?? 0,
      messages_out: values.get("radiant_messages_out_total") ?? 0,
      nats: natsUp ? "connected" : "disconnected",
    },
  };
}

function serveHealth(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? "/").split("?")[0];
  if (req.method !== "GET") {
    res.writeHead(405, { allow: "GET" }).end();
  } else if (path === "/health") {
    void health().then(({ code, body }) => res.writeHead(code, { "content-type": "application/json" }).end(JSON.stringify(body)));
  } else if (path === "/metrics") {
    void collect().then(async ({ registry }) => res.writeHead(200, { "content-type": registry.contentType }).end(await registry.metrics()));
  } else {
    res.writeHead(404, { "content-type": "text/plain" }).end("not found: try /health or /metrics\n");
  }
}

const healthServer = createServer(serveHealth);
healthServer.on("error", (e) => {
  log.fatal({ err: e.message, health: cfg.health }, "cannot serve /health");
  void stop(fatalExit.listen);
});
healthServer.listen(cfg.health.port, cfg.health.host === "0.0.0.0" ? undefined : cfg.health.host, announceReady);

/**
 * uSockets listens with SO_REUSEPORT, so a second gateway (a stale one, a test
 * neighbour) on our port would silently share our connections. If something
 * already accepts connections there, say so and stop.
 */
async function someoneListens(p: number): Promise<boolean> {
  const host = cfg.listen.host === "0.0.0.0" ? "127.0.0.1" : cfg.listen.host;
  return new Promise((resolve) => {
    const sock = connectTcp({ port: p, host, timeout: 1000 });
    sock.once("connect", () => (sock.destroy(), resolve(true)));
    sock.once("timeout", () => (sock.destroy(), resolve(false)));
    sock.once("error", () => resolve(false));
  });
}

if (port === 0 && cfg.processes > 1) {
  // uSockets shares a port (SO_REUSEPORT) only when it is given one: pick a free one for all
  port = await freePort(cfg.listen.host === "0.0.0.0" ? "127.0.0.1" : cfg.listen.host);
}
if (port !== 0 && (await someoneListens(port))) {
  log.fatal({ listen: cfg.listen }, "GATEWAY_LISTEN_ADDR: the port is already in use (another gateway?)");
  process.exit(fatalExit.listen);
}
// a single process on port 0 gets a port of its own from the kernel, shared with nobody
if (port === 0) start(0);
else for (let i = 0; i < cfg.processes; i++) start(i);
log.info({ listen: cfg.listen, processes: cfg.processes }, "gateway supervisor started");

let exitCode = 0;
function finish(): void {
  healthServer.close();
  log.info("gateway stopped");
  process.exit(exitCode);
}

async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  exitCode = code;
  for (const c of children) c?.kill("SIGTERM");
  if (children.every((c) => c === undefined)) finish();
  setTimeout(() => {
    for (const c of children) c?.kill("SIGKILL");
    finish();
  }, cfg.shutdownGraceMs + 5000).unref();
}
process.on("SIGTERM", () => void stop(0));
process.on("SIGINT", () => void stop(0));
stopWithParent(() => void stop(0));
