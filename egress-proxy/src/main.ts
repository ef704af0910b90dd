// The egress proxy process: workers reach AI providers through it, so keys,
// HTTP/2 connection pools, retries and circuit breakers live in one place.
import { loadOrExit } from "@radiant/infra/env";
import { createLogger } from "@radiant/infra/log";
import { loadModelTable } from "@radiant/infra/models";
import { stopWithParent } from "@radiant/infra/proc";
import { loadConfig } from "./config.js";
import { startEgressProxy } from "./proxy.js";

const cfg = loadOrExit("egress-proxy", () => loadConfig(process.env));
const models = loadOrExit("egress-proxy", () => loadModelTable(process.env));
const log = createLogger("egress-proxy", cfg.dev);

/** How long a stop waits for exchanges in flight (a streaming answer may take minutes: it is cut after this). */
const STOP_GRACE_MS = 5000;

let proxy: Awaited<ReturnType<typeof startEgressProxy>>;
try {
  proxy = await startEgressProxy({ ...cfg, models, log });
} catch (e) {
  log.error({ err: (e as Error).message, host: cfg.host, port: cfg.port }, "egress proxy cannot listen");
  process.exit(1);
}
log.info({ url: proxy.url, maxConnectionsPerOrigin: cfg.maxConnectionsPerOrigin, extraCa: cfg.extraCa !== undefined }, "egress proxy listening");

// a promise some path forgot to catch must not take every worker's way out down with it
process.on("unhandledRejection", (err) => log.error({ err }, "egress proxy: unhandled rejection"));

let stopping = false;
function stop(why: string): void {
  if (stopping) return;
  stopping = true;
  log.info({ why }, "egress proxy stopping");
  setTimeout(() => process.exit(0), STOP_GRACE_MS + 5000).unref();
  proxy.close(STOP_GRACE_MS).then(
    () => process.exit(0),
    () => process.exit(0),
  );
}
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));
stopWithParent(() => stop("parent gone"));
