// Counters of one gateway process. The supervisor collects every process's
// registry over IPC (ipc.ts) and serves the sum at /health and /metrics.
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export const registry = new Registry();

/** One more open client connection (a WebSocket or an event stream); call `connectionClosed` once when it ends. */
export function connectionOpened(): void {
  metrics.activeConnections.inc();
  metrics.totalConnections.inc();
}
export function connectionClosed(): void {
  metrics.activeConnections.dec();
}

/** requests let in, by principal label: counted plainly on the request path (limits.ts), read into the metric when it is collected */
export const principalRequestCounts = new Map<string, number>();

export const metrics = {
  activeConnections: new Gauge({
    name: "radiant_active_connections",
    help: "Open client connections: WebSockets and event streams (GET /sse, GET /mcp parked or not, POST /mcp answered as a stream)",
    registers: [registry],
  }),
  totalConnections: new Counter({
    name: "radiant_connections_total",
    help: "Client connections opened (as counted in radiant_active_connections)",
    registers: [registry],
  }),
  messagesIn: new Counter({ name: "radiant_messages_in_total", help: "Client frames accepted into INBOX", registers: [registry] }),
  messagesOut: new Counter({ name: "radiant_messages_out_total", help: "Frames delivered to clients", registers: [registry] }),
  ingressErrors: new Counter({
    name: "radiant_ingress_errors_total",
    help: "Client frames answered by the gateway with an error",
    labelNames: ["reason"] as const,
    registers: [registry],
  }),
  internalErrors: new Counter({
    name: "radiant_internal_errors_total",
    help: "Exceptions caught at the edge of a socket or request callback (bugs: each answered, never a crash)",
    labelNames: ["where"] as const,
    registers: [registry],
  }),
  historyReads: new Counter({
    name: "radiant_history_reads_total",
    help: "Messages delivered from HISTORY instead of live: gap repairs, slow-client catch-up, resume replay",
    registers: [registry],
  }),
  historyLost: new Counter({
    name: "radiant_history_lost_total",
    help: "Sessions closed with 4003: retention dropped messages before their slow client read them",
    registers: [registry],
  }),
  slowConsumerPauses: new Counter({
    name: "radiant_slow_consumer_pauses_total",
    help: "Times a session stopped live delivery at its backpressure bound (it catches up from HISTORY)",
    registers: [registry],
  }),
  resumes: new Counter({
    name: "radiant_resumes_total",
    help: "Resume attempts that got past the token check, by outcome",
    labelNames: ["outcome"] as const,
    registers: [registry],
  }),
  authAccepted: new Counter({
    name: "radiant_auth_accepted_total",
    help: "Requests and upgrades let in, by how the client was identified (key, jwt, cert, anonymous)",
    labelNames: ["via"] as const,
    registers: [registry],
  }),
  authRefused: new Counter({
    name: "radiant_auth_refused_total",
    help: "Requests and upgrades refused for their credential, by reason (missing, bad_key, jwt_expired, jwt_bad_audience, …)",
    labelNames: ["code"] as const,
    registers: [registry],
  }),
  principalRequests: new Counter({
    name: "radiant_principal_requests_total",
    help: "Requests let in, by principal (the first 1000 principals by name, the rest as _other)",
    labelNames: ["principal"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [principal, n] of principalRequestCounts) this.inc({ principal }, n);
    },
  }),
  principalRejections: new Counter({
    name: "radiant_principal_rejections_total",
    help: "Requests and connections refused over a limit, by principal and limit (requests, tokens, connections)",
    labelNames: ["principal", "limit"] as const,
    registers: [registry],
  }),
  principalTokens: new Counter({
    name: "radiant_principal_tokens_total",
    help: "LLM tokens the providers reported, by principal (counted by every gateway process that hears the workers' reports: read one process's value, not the sum)",
    labelNames: ["principal"] as const,
    registers: [registry],
  }),
  homeSessions: new Gauge({
    name: "radiant_home_sessions",
    help: "Sessions whose live messages come through their process's one home subscription",
    registers: [registry],
  }),
  sessionSubscriptions: new Gauge({
    name: "radiant_session_subscriptions",
    help: "Sessions away from the process that made them holding a NATS subscription of their own (an HTTP request's, or their home is gone)",
    registers: [registry],
  }),
  sessionsForwardedIn: new Gauge({
    name: "radiant_sessions_forwarded_in",
    help: "Sessions held here away from the process that made them, whose live messages that process forwards here",
    registers: [registry],
  }),
  sessionsForwardedOut: new Gauge({
    name: "radiant_sessions_forwarded_out",
    help: "Sessions made here and held by another process: this process forwards their live messages there",
    registers: [registry],
  }),
  natsConnected: new Gauge({
    name: "radiant_nats_connected",
    help: "1 while this process is connected to NATS",
    registers: [registry],
    aggregator: "min",
  }),
  ingressToEgress: new Histogram({
    name: "radiant_ingress_to_egress_seconds",
    help: "From a client frame entering the gateway to its reply leaving it",
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  }),
};
