// The egress proxy's Prometheus metrics. One registry per proxy (tests run
// several in one process); gauges are read from the pools and breakers when scraped.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { BreakerState } from "./breaker.js";

/** What the gauges read at scrape time, per origin. */
export interface OriginGauges {
  origin: string;
  breaker: BreakerState;
  connected: number;
}

const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, "half-open": 1, open: 2 };

export type EgressMetrics = ReturnType<typeof createMetrics>;

export function createMetrics(gauges: () => Iterable<OriginGauges>) {
  const registry = new Registry();
  return {
    registry,
    requests: new Counter({
      name: "radiant_egress_requests_total",
      help: "Worker requests answered, by upstream origin and the status the worker got (aborted: the worker left before an answer)",
      labelNames: ["origin", "status"] as const,
      registers: [registry],
    }),
    retries: new Counter({
      name: "radiant_egress_retries_total",
      help: "Attempts repeated, by origin and why (an upstream status, connect or timeout)",
      labelNames: ["origin", "reason"] as const,
      registers: [registry],
    }),
    breakerState: new Gauge({
      name: "radiant_egress_breaker_state",
      help: "Circuit breaker per origin: 0 closed, 1 half-open, 2 open",
      labelNames: ["origin"] as const,
      registers: [registry],
      collect() {
        for (const g of gauges()) this.set({ origin: g.origin }, BREAKER_VALUE[g.breaker]);
      },
    }),
    breakerOpened: new Counter({
      name: "radiant_egress_breaker_opened_total",
      help: "Times an origin's circuit opened",
      labelNames: ["origin"] as const,
      registers: [registry],
    }),
    ttfb: new Histogram({
      name: "radiant_egress_ttfb_seconds",
      help: "Time from sending an attempt to the upstream's response headers",
      labelNames: ["origin"] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120],
      registers: [registry],
    }),
    poolConnections: new Gauge({
      name: "radiant_egress_pool_connections",
      help: "Open connections in an origin's pool",
      labelNames: ["origin"] as const,
      registers: [registry],
      collect() {
        for (const g of gauges()) this.set({ origin: g.origin }, g.connected);
      },
    }),
    timeouts: new Counter({
      name: "radiant_egress_timeouts_total",
      help: "Timeouts, by origin and phase (connect, first_byte, total)",
      labelNames: ["origin", "phase"] as const,
      registers: [registry],
    }),
  };
}
