// Worker configuration from the environment (validated; see README).
import { bool, historyRetention, int, url } from "@radiant/infra/env";
import { inboxPolicy, type HistoryRetention } from "@radiant/wire";

export interface WorkerConfig {
  natsUrl: string;
  egressProxyUrl: string;
  dev: boolean;
  concurrency: number;
  handlerTimeoutMs: number;
  testMethods: boolean;
  ackWaitMs: number;
  /** coalescing window for a request's replies; 0 = every reply its own message */
  coalesceMs: number;
  publishRetryMs: number;
  retention: HistoryRetention;
}

export function loadWorkerConfig(env: Record<string, string | undefined> = process.env): WorkerConfig {
  return {
    natsUrl: url(env, "NATS_URL", "nats://localhost:4222", ["nats", "tls"]),
    egressProxyUrl: url(env, "EGRESS_PROXY_URL", "http://localhost:9000", ["http", "https"]),
    dev: bool(env, "GATEWAY_DEV", false),
    concurrency: int(env, "WORKER_CONCURRENCY", 64, 1, 10_000),
    handlerTimeoutMs: int(env, "WORKER_HANDLER_TIMEOUT_MS", 300_000, 100, 3_600_000),
    testMethods: bool(env, "WORKER_TEST_METHODS", false),
    ackWaitMs: int(env, "WORKER_ACK_WAIT_MS", inboxPolicy.ackWaitMs, 1000, 3_600_000),
    coalesceMs: int(env, "WORKER_COALESCE_MS", 5, 0, 1000),
    publishRetryMs: int(env, "WORKER_PUBLISH_RETRY_MS", 60_000, 0, 3_600_000),
    retention: historyRetention(env),
  };
}
