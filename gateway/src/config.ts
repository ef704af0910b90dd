// Gateway configuration: the seed's table plus the limits a production
// gateway needs. Every value is validated at start (README: Configuration).
import { type A2aConfig, loadA2aConfig } from "@radiant/infra/a2a-agents";
import { bool, ConfigError, int, listenAddr, str, url, type ListenAddr } from "@radiant/infra/env";
import { isProtocol, type Protocol } from "@radiant/wire";
import { type AuthConfig, loadAuthConfig } from "./auth/auth_config.js";

export interface GatewayConfig {
  listen: ListenAddr;
  health: ListenAddr;
  natsUrl: string;
  egressProxyUrl: string;
  resumeTokenSecret: string;
  dev: boolean;
  processes: number;
  maxPayload: number;
  maxBackpressure: number;
  idleTimeoutS: number;
  maxInflight: number;
  publishTimeoutMs: number;
  resumeTokenTtlS: number;
  defaultLlmProtocol: Protocol;
  shutdownGraceMs: number;
  /** the A2A agents behind the gateway (RADIANT_A2A_CONFIG) */
  a2a: A2aConfig;
  sseHeartbeatS: number;
  /** browser origins allowed on the HTTP transports ("*": any); requests without Origin always pass */
  allowedOrigins: string[];
  httpResponseTimeoutMs: number;
  /** a plain HTTP LLM client that left mid-answer has this long to resume before its request is cancelled */
  llmResumeGraceMs: number;
  /** resumes one gateway process decides at once; more wait their turn (a reconnect storm) */
  maxResuming: number;
  /** resumes that may wait for a turn; more are told to retry */
  maxResumesWaiting: number;
  /** who may connect: TLS, client certificates, OIDC, API keys, the admin API, per-principal limits */
  auth: AuthConfig;
}

export const DEV_SECRET = "dev-secret";
/** shortest resume-token secret a gateway outside development mode accepts */
export const MIN_SECRET_LENGTH = 32;

/** A comma-separated list of origins (scheme://host[:port]) or "*". */
function origins(env: Record<string, string | undefined>, name: string): string[] {
  const list = (env[name] ?? "")
    .split(",")
    .map((o) => o.trim())
    .filter((o) => o !== "");
  for (const o of list) {
    if (o !== "*" && !/^https?:\/\/[^/\s]+$/.test(o)) throw new ConfigError(name, `"${o}" must be an origin such as https://app.example.com, or *`);
  }
  return list;
}

export function loadGatewayConfig(env: Record<string, string | undefined> = process.env): GatewayConfig {
  const idleTimeoutS = int(env, "GATEWAY_IDLE_TIMEOUT", 120, 0, 960);
  if (idleTimeoutS !== 0 && idleTimeoutS < 8) throw new ConfigError("GATEWAY_IDLE_TIMEOUT", `"${idleTimeoutS}" must be 0 (off) or at least 8 seconds`);
  const llm = str(env, "GATEWAY_DEFAULT_LLM_PROTOCOL", "openai");
  if (!isProtocol(llm) || !["openai", "anthropic", "google"].includes(llm)) {
    throw new ConfigError("GATEWAY_DEFAULT_LLM_PROTOCOL", `"${llm}" must be openai, anthropic or google`);
  }
  const maxPayload = int(env, "GATEWAY_MAX_PAYLOAD", 1024 * 1024, 1024, 64 * 1024 * 1024);
  const dev = bool(env, "GATEWAY_DEV", false);
  const resumeTokenSecret = str(env, "RESUME_TOKEN_SECRET", DEV_SECRET);
  // whoever knows the secret can sign a token for any session: a well-known or short one is an open door
  if (!dev && (resumeTokenSecret === DEV_SECRET || resumeTokenSecret.length < MIN_SECRET_LENGTH)) {
    throw new ConfigError(
      "RESUME_TOKEN_SECRET",
      resumeTokenSecret === DEV_SECRET
        ? `is the public default 'dev-secret': set a random secret of at least ${MIN_SECRET_LENGTH} characters (GATEWAY_DEV=true allows the default for development)`
        : `is ${resumeTokenSecret.length} characters: use a random secret of at least ${MIN_SECRET_LENGTH} (GATEWAY_DEV=true allows a short one for development)`,
    );
  }
  return {
    listen: listenAddr(env, "GATEWAY_LISTEN_ADDR", ":8443"),
    health: listenAddr(env, "GATEWAY_HEALTH_ADDR", ":8080"),
    natsUrl: url(env, "NATS_URL", "nats://localhost:4222", ["nats", "tls"]),
    egressProxyUrl: url(env, "EGRESS_PROXY_URL", "http://localhost:9000", ["http", "https"]),
    resumeTokenSecret,
    dev,
    processes: int(env, "GATEWAY_PROCESSES", 1, 1, 256),
    maxPayload,
    maxBackpressure: int(env, "GATEWAY_MAX_BACKPRESSURE", 1024 * 1024, 16 * 1024, 1024 * 1024 * 1024),
    idleTimeoutS,
    maxInflight: int(env, "GATEWAY_MAX_INFLIGHT", 1024, 1, 1_000_000),
    publishTimeoutMs: int(env, "GATEWAY_PUBLISH_TIMEOUT_MS", 15_000, 100, 120_000),
    resumeTokenTtlS: int(env, "GATEWAY_RESUME_TOKEN_TTL", 86_400, 60, 30 * 86_400),
    defaultLlmProtocol: llm,
    shutdownGraceMs: int(env, "GATEWAY_SHUTDOWN_GRACE_MS", 10_000, 0, 600_000),
    a2a: loadA2aConfig(env),
    sseHeartbeatS: int(env, "GATEWAY_SSE_HEARTBEAT", 15, 1, 3600),
    allowedOrigins: origins(env, "GATEWAY_ALLOWED_ORIGINS"),
    httpResponseTimeoutMs: int(env, "GATEWAY_HTTP_RESPONSE_TIMEOUT_MS", 300_000, 1000, 3600_000),
    llmResumeGraceMs: int(env, "GATEWAY_LLM_RESUME_GRACE_MS", 30_000, 0, 3600_000),
    maxResuming: int(env, "GATEWAY_MAX_RESUMING", 256, 1, 1_000_000),
    maxResumesWaiting: int(env, "GATEWAY_MAX_RESUMES_WAITING", 20_000, 0, 1_000_000),
    auth: loadAuthConfig(env, dev),
  };
}
