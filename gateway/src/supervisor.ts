// The gateway supervisor (the gateway's entry): validates the configuration,
// runs GATEWAY_PROCESSES gateway processes on one port (uSockets sets
// SO_REUSEPORT), restarts one that crashes, and serves /health and /metrics
// from their combined counters (health.ts).
import { fork, type ChildProcess } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { loadOrExit } from "@radiant/infra/env";
import { createLogger } from "@radiant/infra/log";
import { DEV_SECRET, loadGatewayConfig } from "./config.js";
import { AdminApi } from "./admin.js";
import { GatewayCounters } from "./health.js";
import { fatalExit, type ListeningMessage, type MetricsResponse, type MetricsSnapshot } from "./ipc.js";
import { loadNativeUws, NativeUwsError } from "./uws.js";
import { accepts, freePort, stopWithParent } from "@radiant/infra/proc";

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
  log.warn(
    "RESUME_TOKEN_SECRET is the default 'dev-secret' (allowed because GATEWAY_DEV=true): anyone can forge resume tokens. Never run this way in production.",
  );
}

if (cfg.auth.tls?.clientCa !== undefined) {
  log.warn(
    "GATEWAY_TLS_CLIENT_CA: client certificates of another CA are refused, but this uWS build cannot require a certificate nor read one: a certificate is no credential here. Terminate mTLS at a front proxy (GATEWAY_TRUSTED_PROXIES + X-Forwarded-Client-Cert) or require bearer credentials (GATEWAY_AUTH_REQUIRED=true)",
  );
}
if (!cfg.dev && !cfg.auth.required) {
  log.warn(
    "GATEWAY_AUTH_REQUIRED is false: clients without a credential are let in as the principal 'anonymous' (set it to true in production; API keys, OIDC and forwarded client certificates all work)",
  );
}

const FATAL_EXITS = new Set<number>(Object.values(fatalExit));
const serverEntry = fileURLToPath(new URL("./gateway_process_main.js", import.meta.url));
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
    counters.retire(i);
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
    if (relisten)
      log.warn({ process: i, retryInMs: delay }, "gateway process cannot listen yet (the port still holds the dead process's connections); retrying");
    else log.error({ process: i, code, signal, retryInMs: delay }, "gateway process died; restarting it");
    setTimeout(() => !stopping && start(i), delay);
  });
}

const counters = new GatewayCounters(children);

function onChildMessage(this: ChildProcess, m: MetricsResponse | ListeningMessage | MetricsSnapshot): void {
  if (m.type === "radiant:metrics") {
    counters.answered(m.id, m.metrics);
  } else if (m.type === "radiant:snapshot") {
    counters.reported(children.indexOf(this), m.metrics);
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

const admin = cfg.auth.adminToken === undefined ? undefined : new AdminApi(cfg.auth.adminToken, cfg.natsUrl, log);
admin?.start();
const healthServer = createServer((req, res) => {
  const path = (req.url ?? "/").split("?")[0]!;
  if (admin?.handles(path)) admin.serve(req, res, path);
  else counters.serve(req, res, stopping);
});
healthServer.on("error", (e) => {
  log.fatal({ err: e.message, health: cfg.health }, "cannot serve /health");
  void stop(fatalExit.listen);
});
healthServer.listen(cfg.health.port, cfg.health.host === "0.0.0.0" ? undefined : cfg.health.host, announceReady);

if (port === 0 && cfg.processes > 1) {
  // uSockets shares a port (SO_REUSEPORT) only when it is given one: pick a free one for all
  port = await freePort(cfg.listen.host === "0.0.0.0" ? "127.0.0.1" : cfg.listen.host);
}
// uSockets listens with SO_REUSEPORT, so a second gateway (a stale one, a test neighbour) on our
// port would silently share our connections: if something already accepts connections there, stop
if (port !== 0 && (await accepts(cfg.listen.host === "0.0.0.0" ? "127.0.0.1" : cfg.listen.host, port))) {
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
  void admin?.stop();
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
