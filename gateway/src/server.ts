// One gateway process: a uWS app on the shared port (SO_REUSEPORT), its NATS
// link, and its sessions. The supervisor (main.ts) runs one per core.
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { loadOrExit } from "@radiant/infra/env";
import { AckedPublisher } from "@radiant/infra/publish";
import { createLogger } from "@radiant/infra/log";
import { openNats } from "@radiant/infra/nats";
import { stopEarly } from "@radiant/infra/proc";
import { loadGatewayConfig } from "./config.js";
import { Egress } from "./egress.js";
import { History } from "./history.js";
import { Hub } from "./hub.js";
import { HistoryStateCache } from "./reconnect.js";
import { Ingress } from "./ingress.js";
import { fatalExit, type ListeningMessage, type MetricsRequest, type MetricsResponse, type MetricsSnapshot } from "./ipc.js";
import { metrics, registry } from "./metrics.js";
import { ResumeTokens } from "./resume.js";
import { mountWebSocket } from "./transport_ws.js";
import { EndedSessions } from "./ended.js";
import { mountHttp, OriginPolicy } from "./http.js";
import { ResponseRouter } from "./mcp_responses.js";
import { startHeartbeats } from "./sse.js";
import { mcpHttpRoutes } from "./transport_mcp_http.js";
import { sseRoutes } from "./transport_sse.js";
import { loadNativeUws, NativeUwsError } from "./uws.js";
import { internalError, setGuardLogger } from "./guard.js";

/** room left in a NATS message for the envelope around a frame and the headers (principal, ids) */
const ENVELOPE_ALLOWANCE = 4096;


const cfg = loadOrExit("gateway", () => loadGatewayConfig());
const log = createLogger("gateway", cfg.dev).child({ worker: process.env.GATEWAY_WORKER_INDEX ?? "0" });
setGuardLogger(log);
// a promise nobody awaited failed: a bug to count and log, not a reason to drop every client of this process
process.on("unhandledRejection", (e) => internalError("unhandled rejection", e));

let uws: ReturnType<typeof loadNativeUws>;
try {
  uws = loadNativeUws();
} catch (e) {
  if (!(e instanceof NativeUwsError)) throw e;
  log.fatal(e.message);
  process.exit(fatalExit.noNativeUws);
}

// Until the process is up (NATS may not answer for a long time), a signal or
// the supervisor's death ends it at once; from then on, shutdown() below.
const life = stopEarly();
// the supervisor is gone: nobody will restart or stop us
process.on("disconnect", () => life.stop("supervisor gone"));
if (process.send && !process.connected) process.exit(0);

const link = await openNats(cfg.natsUrl, `radiant-gateway-${process.pid}`, log, { retention: cfg.retention });
// A frame travels inside an envelope (and with headers) that must fit NATS's
// max_payload: a bigger frame could never be queued, so it is refused as too
// big at the door like any other, never answered "unavailable, retry".
const natsMaxPayload = link.nc.info?.max_payload ?? 1024 * 1024;
const maxPayload = Math.min(cfg.maxPayload, natsMaxPayload - ENVELOPE_ALLOWANCE);
if (maxPayload < cfg.maxPayload) {
  log.warn({ GATEWAY_MAX_PAYLOAD: cfg.maxPayload, natsMaxPayload, maxPayload }, "GATEWAY_MAX_PAYLOAD is more than NATS max_payload can carry with the envelope: frames are limited to maxPayload bytes (raise NATS max_payload to allow more)");
}
const js = jetstream(link.nc);
const ingress = new Ingress({
  publisher: new AckedPublisher(link.nc, cfg.publishTimeoutMs),
  connected: () => link.connected,
  maxInflight: cfg.maxInflight,
  maxInflightBytes: Math.max(8 * 1024 * 1024, 2 * maxPayload),
  defaultLlmProtocol: cfg.defaultLlmProtocol,
});
// no API check: NATS may still be down; direct gets work once it is up
const jsm = await jetstreamManager(link.nc, { checkAPI: false });
const history = new History(jsm.direct, js);
const egress = new Egress(link.nc, {
  maxBackpressure: cfg.maxBackpressure,
  history,
  gapWaitMs: 50,
  maxHeld: 1000,
  onTakenOver: (s) => hub.takenOver(s),
});
const historyState = new HistoryStateCache(jsm);
// keep the epoch fresh for the tokens of new sessions
const refreshEpoch = () => void historyState.get().catch(() => {});
refreshEpoch();
setInterval(refreshEpoch, 5000).unref();
const ended = new EndedSessions(link.nc, js, jsm, cfg.resumeTokenTtlS * 1000, log);
void ended.watch();
const hub = new Hub(link.nc, ingress, egress, new ResumeTokens(cfg.resumeTokenSecret, cfg.resumeTokenTtlS), historyState, history, ended);
const replies = new ResponseRouter(link.nc);

const app = uws.App();
const origins = new OriginPolicy(cfg.allowedOrigins);
mountWebSocket(app, hub, { path: "/ws", origins, maxPayload, maxBackpressure: cfg.maxBackpressure, idleTimeoutS: cfg.idleTimeoutS });
mountHttp(
  app,
  [
    ...sseRoutes(hub, ingress, { maxPayload }),
    ...mcpHttpRoutes(hub, ingress, replies, ended, history, {
      maxPayload,
      responseTimeoutMs: cfg.httpResponseTimeoutMs,
      newestSeq: () => Math.max(replies.newestSeq, historyState.lastSeq),
    }),
  ],
  origins,
);
startHeartbeats(cfg.sseHeartbeatS * 1000);
app.any("/*", (res) => {
  res.cork(() => res.writeStatus("404 Not Found").end("not found: clients connect to /ws (WebSocket), /sse (server-sent events) or /mcp (MCP Streamable HTTP)"));
});

const listenSocket = await new Promise<unknown>((resolve) => {
  const cb = (s: unknown) => resolve(s);
  if (cfg.listen.host === "0.0.0.0") app.listen(cfg.listen.port, cb);
  else app.listen(cfg.listen.host, cfg.listen.port, cb);
});
if (!listenSocket) {
  log.fatal({ listen: cfg.listen }, "cannot listen: address in use or not available");
  process.exit(fatalExit.listen);
}
const port = uws.us_socket_local_port(listenSocket as never);
log.info({ host: cfg.listen.host, port, nats: cfg.natsUrl }, "gateway process listening");
const hello: ListeningMessage = { type: "radiant:listening", port };
process.send?.(hello);

async function metricsJson(): Promise<MetricsResponse["metrics"]> {
  metrics.natsConnected.set(link.connected ? 1 : 0);
  metrics.homeSessions.set(egress.homeSessions);
  metrics.sessionSubscriptions.set(egress.away);
  return registry.getMetricsAsJSON();
}
process.on("message", (m: MetricsRequest) => {
  if (m?.type !== "radiant:metrics") return;
  void metricsJson().then((json) => {
    const r: MetricsResponse = { type: "radiant:metrics", id: m.id, metrics: json };
    process.send?.(r);
  });
});
/** the counters as they are now, to the supervisor: what it keeps of us if we die */
const sendSnapshot = async () => {
  const s: MetricsSnapshot = { type: "radiant:snapshot", metrics: await metricsJson() };
  if (process.connected) process.send?.(s);
};
setInterval(() => void sendSnapshot(), 1000).unref();

let stopping = false;
async function shutdown(why: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  // first of all: whatever hangs or throws below, the process ends
  const force = setTimeout(() => process.exit(1), cfg.shutdownGraceMs);
  log.info({ why, sessions: hub.sessions.size }, "gateway process stopping");
  uws.us_listen_socket_close(listenSocket as never);
  hub.closeAll();
  ended.stop();
  await ingress.idle();
  // let the close frames go out and the clients' close replies come back
  await new Promise((r) => setTimeout(r, 250));
  await link.nc.drain().catch(() => {});
  await sendSnapshot().catch(() => {});
  clearTimeout(force);
  log.info("gateway process stopped");
  process.exit(0);
}
life.ready((why) => void shutdown(why));
