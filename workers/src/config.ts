// Worker configuration from the environment (validated; see README).
import { bool, historyRetention, int, url } from "@radiant/infra/env";
import { inboxPolicy, type HistoryRetention } from "@radiant/infra/wire";

export interface WorkerConfig {
  natsUrl: string;
  egressProxyUrl: string;
  dev: boolean;
  concurrency: number;
  handlerTimeoutMs: number;
  testMethods: boolean;
  ackWaitMs: number;
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
    retention: historyRetention(env),
  };
}
