// Messages between the supervisor (main.ts) and its gateway processes (server.ts).
import type { Registry } from "prom-client";

/** How a gateway process exits when restarting it would not help: the supervisor stops too. */
export const fatalExit = { config: 2, listen: 3, noNativeUws: 4, topology: 5 } as const;

export interface ListeningMessage {
  type: "radiant:listening";
  port: number;
}
export interface MetricsRequest {
  type: "radiant:metrics";
  id: number;
}
export interface MetricsResponse {
  type: "radiant:metrics";
  id: number;
  metrics: Awaited<ReturnType<Registry["getMetricsAsJSON"]>>;
}
/**
 * A gateway process's counters, sent on its own every second and once more
 * as it stops: what the supervisor keeps of a process that dies, so totals do
 * not fall back to zero when it is restarted.
 */
export interface MetricsSnapshot {
  type: "radiant:snapshot";
  metrics: MetricsResponse["metrics"];
}
