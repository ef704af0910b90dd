// Messages between the supervisor (main.ts) and its gateway processes (server.ts).
import type { Registry } from "prom-client";

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
