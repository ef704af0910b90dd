// The egress proxy's configuration, read from the environment; every value
// checked, every failure a ConfigError naming its variable.
import { readFileSync } from "node:fs";
import { bool, ConfigError, int, url } from "@radiant/infra/env";

export interface EgressConfig {
  /** where the proxy listens (EGRESS_PROXY_URL) */
  host: string;
  port: number;
  /** log pretty (GATEWAY_DEV, as every process) */
  dev: boolean;
  /** connections (HTTP/2 sessions, or HTTP/1.1 sockets) per upstream origin */
  maxConnectionsPerOrigin: number;
  /** PEM certificates trusted besides the system roots (the contents of EGRESS_CA_FILE) */
  extraCa: string | undefined;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  breakerFailures: number;
  breakerOpenMs: number;
  connectTimeoutMs: number;
  firstByteTimeoutMs: number;
  totalTimeoutMs: number;
  maxBodyBytes: number;
  /** webhooks may reach private addresses (loopback, 10/8, …) */
  webhookPrivate: boolean;
}

type Env = Record<string, string | undefined>;

const DAY_MS = 86_400_000;

export function loadConfig(env: Env): EgressConfig {
  const listen = new URL(url(env, "EGRESS_PROXY_URL", "http://localhost:9000", ["http"]));
  const caFile = env.EGRESS_CA_FILE;
  let extraCa: string | undefined;
  if (caFile) {
    try {
      extraCa = readFileSync(caFile, "utf8");
    } catch (e) {
      throw new ConfigError("EGRESS_CA_FILE", `cannot read ${caFile}: ${(e as Error).message}`);
    }
    if (!extraCa.includes("-----BEGIN CERTIFICATE-----")) throw new ConfigError("EGRESS_CA_FILE", `${caFile} holds no PEM certificate`);
  }
  return {
    // a v6 listen address comes back bracketed from URL
    host: listen.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: Number(listen.port || 80),
    dev: bool(env, "GATEWAY_DEV", false),
    maxConnectionsPerOrigin: int(env, "EGRESS_MAX_CONNECTIONS_PER_ORIGIN", 4, 1, 1024),
    extraCa,
    maxAttempts: int(env, "EGRESS_MAX_ATTEMPTS", 3, 1, 20),
    retryBaseMs: int(env, "EGRESS_RETRY_BASE_MS", 250, 1, 60_000),
    retryMaxMs: int(env, "EGRESS_RETRY_MAX_MS", 8000, 1, 600_000),
    breakerFailures: int(env, "EGRESS_BREAKER_FAILURES", 5, 1, 10_000),
    breakerOpenMs: int(env, "EGRESS_BREAKER_OPEN_MS", 10_000, 1, DAY_MS),
    connectTimeoutMs: int(env, "EGRESS_CONNECT_TIMEOUT_MS", 10_000, 1, DAY_MS),
    firstByteTimeoutMs: int(env, "EGRESS_FIRST_BYTE_TIMEOUT_MS", 120_000, 1, DAY_MS),
    totalTimeoutMs: int(env, "EGRESS_TOTAL_TIMEOUT_MS", 600_000, 1, DAY_MS),
    maxBodyBytes: int(env, "EGRESS_MAX_BODY_BYTES", 32 * 1024 * 1024, 0, 1024 * 1024 * 1024),
    webhookPrivate: bool(env, "EGRESS_WEBHOOK_PRIVATE", false),
  };
}
