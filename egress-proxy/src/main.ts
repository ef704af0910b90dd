// The egress proxy: workers reach AI providers through it, so HTTP/2
// connections are pooled in one long-lived place. Forwarding lands with the
// provider adapters; today it starts with the stack and answers /health.
import { createServer } from "node:http";
import { bool, loadOrExit, url } from "@radiant/infra/env";
import { createLogger } from "@radiant/infra/log";
import { stopWithParent } from "@radiant/infra/proc";

const cfg = loadOrExit("egress-proxy", () => {
  const u = new URL(url(process.env, "EGRESS_PROXY_URL", "http://localhost:9000", ["http"]));
  return { host: u.hostname, port: Number(u.port || 80), dev: bool(process.env, "GATEWAY_DEV", false) };
});
const log = createLogger("egress-proxy", cfg.dev);

const server = createServer((req, res) => {
  const path = (req.url ?? "/").split("?")[0];
  if (req.method === "GET" && path === "/health") {
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ status: "ok", upstream_pools: 0 }));
    return;
  }
  res.writeHead(501, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "forwarding is not implemented yet", path } }));
});
server.listen(cfg.port, cfg.host, () => log.info({ host: cfg.host, port: cfg.port }, "egress proxy listening"));

function stop(signal: string): void {
  setTimeout(() => process.exit(0), 5000);
  log.info({ signal }, "egress proxy stopping");
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));
stopWithParent(() => stop("parent gone"));
