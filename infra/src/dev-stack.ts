// `make run`: the whole stack on this machine, on the seed's ports (or the
// ones the environment names), until Ctrl-C. The JetStream store lives in
// .data/ at the repository root (RADIANT_DATA_DIR to put it elsewhere), and
// so does the resume-token secret unless RESUME_TOKEN_SECRET gives one.
// A process that dies is restarted; one that cannot start (bad configuration)
// stops everything.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadOrCreateResumeTokenSecret, RESUME_TOKEN_SECRET_FILE, Stack } from "./stack.js";
import { createLogger } from "./log.js";
import { listenAddr, loadOrExit, url } from "./env.js";

const log = createLogger("radiant", process.env.GATEWAY_DEV === "true");
const cfg = loadOrExit("radiant", () => ({
  nats: new URL(url(process.env, "NATS_URL", "nats://localhost:4222", ["nats"])),
  egress: new URL(url(process.env, "EGRESS_PROXY_URL", "http://localhost:9000", ["http"])),
  listen: listenAddr(process.env, "GATEWAY_LISTEN_ADDR", ":8443"),
  health: listenAddr(process.env, "GATEWAY_HEALTH_ADDR", ":8080"),
}));

const dir = process.env.RADIANT_DATA_DIR || fileURLToPath(new URL("../../.data/", import.meta.url));

// tokens handed out before a restart of `make run` must still resume after it
let resumeTokenSecret = process.env.RESUME_TOKEN_SECRET;
if (resumeTokenSecret) log.info("resume token secret: RESUME_TOKEN_SECRET from the environment");
else {
  const file = join(dir, RESUME_TOKEN_SECRET_FILE);
  try {
    const { secret, created } = loadOrCreateResumeTokenSecret(file);
    resumeTokenSecret = secret;
    log.info({ file }, created ? "resume token secret: a new random one, kept in this file" : "resume token secret: read from this file");
  } catch (e) {
    log.fatal({ file }, `resume token secret: ${(e as Error).message}`);
    process.exit(1);
  }
}

const stack = await Stack.start({
  dir,
  natsPort: Number(cfg.nats.port || 4222),
  // `make run CLUSTER=3`: three nats-servers on this machine routed into one cluster (the first on the port above)
  natsCluster: Number(process.env.RADIANT_NATS_CLUSTER || 1),
  natsMonitorPort: Number(process.env.NATS_MONITOR_PORT || 8222),
  egressPort: Number(cfg.egress.port || 9000),
  gatewayPort: cfg.listen.port,
  healthPort: cfg.health.port,
  inheritLogs: true,
  supervise: true,
  log,
  env: {
    GATEWAY_LISTEN_ADDR: process.env.GATEWAY_LISTEN_ADDR || ":8443",
    GATEWAY_HEALTH_ADDR: process.env.GATEWAY_HEALTH_ADDR || ":8080",
    RESUME_TOKEN_SECRET: resumeTokenSecret,
  },
}).catch((e: Error) => {
  log.fatal(e.message);
  process.exit(1);
});

log.info(
  { ws: `ws://localhost:${cfg.listen.port}/ws`, health: `http://localhost:${cfg.health.port}/health`, nats: stack.nats.url },
  "RADIANT is up — try: pnpm exec wscat -c ws://localhost:8443/ws   (Ctrl-C stops everything)",
);

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info("stopping the stack");
  await stack.stop();
  process.exit(code);
}
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));
// supervised: the only exits that come here are the ones a restart would not fix
void stack.firstExit().then(({ name, code, signal, reason }) => {
  if (stopping) return;
  log.error({ process: name, code, signal, reason }, `${name} cannot run (${reason ?? `exit code ${code}`}): not restarting it; stopping the stack`);
  void stop(1);
});
