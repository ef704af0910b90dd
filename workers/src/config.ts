// Worker configuration from the environment (validated; see README).
import { bool, int, url } from "@radiant/infra/env";

export interface WorkerConfig {
  natsUrl: string;
  egressProxyUrl: string;
  dev: boolean;
  concurrency: number;
  handlerTimeoutMs: number;
  testMethods: boolean;
  /** coalescing window for a request's replies; 0 = every reply its own message */
  coalesceMs: number;
  publishRetryMs: number;
}

export function loadWorkerConfig(env: Record<string, string | undefined> = process.env): WorkerConfig {
  return {
    natsUrl: url(env, "NATS_URL", "nats://localhost:4222", ["nats", "tls"]),
    egressProxyUrl: url(env, "EGRESS_PROXY_URL", "http://localhost:9000", ["http", "https"]),
    dev: bool(env, "GATEWAY_DEV", false),
    concurrency: int(env, "WORKER_CONCURRENCY", 64, 1, 10_000),
    handlerTimeoutMs: int(env, "WORKER_HANDLER_TIMEOUT_MS", 300_000, 100, 3_600_000),
    testMethods: bool(env, "WORKER_TEST_METHODS", false),
    coalesceMs: int(env, "WORKER_COALESCE_MS", 5, 0, 1000),
    publishRetryMs: int(env, "WORKER_PUBLISH_RETRY_MS", 60_000, 0, 3_600_000),
  };
}
