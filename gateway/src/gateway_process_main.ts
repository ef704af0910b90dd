// The entry of one gateway process, forked by the supervisor: configuration,
// the native uWS, the process itself (gateway_process.ts), its reports to the
// supervisor (ipc.ts), and its stop.
import { loadOrExit } from "@radiant/infra/env";
import { createLogger } from "@radiant/infra/log";
import { refuseWrongTopology } from "@radiant/infra/nats";
import { stopEarly } from "@radiant/infra/proc";
import { loadGatewayConfig } from "./config.js";
import { countUnhandledRejections, ListenError, startGatewayProcess, type GatewayProcess } from "./gateway_process.js";
import { fatalExit, type ListeningMessage, type MetricsRequest, type MetricsResponse, type MetricsSnapshot } from "./ipc.js";
import { registry } from "./metrics.js";
import { loadNativeUws, NativeUwsError } from "./uws.js";

const cfg = loadOrExit("gateway", () => loadGatewayConfig());
const log = createLogger("gateway", cfg.dev).child({ worker: process.env.GATEWAY_WORKER_INDEX ?? "0" });

let uws: ReturnType<typeof loadNativeUws>;
try {
  uws = loadNativeUws();
} catch (e) {
  if (!(e instanceof NativeUwsError)) throw e;
  log.fatal(e.message);
  process.exit(fatalExit.noNativeUws);
}
countUnhandledRejections();

// Until the process is up (NATS may not answer for a long time), a signal or
// the supervisor's death ends it at once; from then on, shutdown() below.
const life = stopEarly();
// the supervisor is gone: nobody will restart or stop us
process.on("disconnect", () => life.stop("supervisor gone"));
if (process.send && !process.connected) process.exit(0);

let gw: GatewayProcess;
try {
  gw = await startGatewayProcess(cfg, log, uws);
} catch (e) {
  if (!(e instanceof ListenError)) throw e;
  log.fatal({ listen: cfg.listen }, e.message);
  process.exit(fatalExit.listen);
}
log.info({ host: cfg.listen.host, port: gw.port, nats: cfg.natsUrl }, "gateway process listening");
// once NATS answers: the streams must be as this version needs them (it does not write them)
gw.link.topologyReady.catch(refuseWrongTopology(log, fatalExit.topology)).catch(() => {});
const hello: ListeningMessage = { type: "radiant:listening", port: gw.port };
process.send?.(hello);

async function metricsJson(): Promise<MetricsResponse["metrics"]> {
  gw.refreshGauges();
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

life.ready((why) => {
  // first of all: whatever hangs or throws below, the process ends
  setTimeout(() => process.exit(1), cfg.shutdownGraceMs).unref();
  void gw
    .shutdown(why)
    .then(() => sendSnapshot())
    .catch(() => {})
    .finally(() => {
      log.info("gateway process stopped");
      process.exit(0);
    });
});
