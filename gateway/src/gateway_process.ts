// One gateway process: a uWS app on the shared port (SO_REUSEPORT), its NATS
// link, its sessions. The supervisor (supervisor.ts) runs one per core; the
// process's own entry is gateway_process_main.ts.
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "pino";
import { AckedPublisher } from "@radiant/infra/publish";
import { openNats, type NatsLink } from "@radiant/infra/nats";
import {
  ADMIN_SESSIONS_SUBJECT,
  type AdminSession,
  type AdminSessionsAnswer,
  decodeSessionsQuery,
  decodeUsage,
  encodeUsage,
  endOf,
  USAGE_SUBJECT,
} from "@radiant/wire";
import { ApiKeys } from "./auth/api_keys.js";
import { Authenticator } from "./auth/authenticator.js";
import { OidcVerifier } from "./auth/oidc.js";
import { TrustedProxies } from "./auth/trusted_proxies.js";
import type { GatewayConfig } from "./config.js";
import { Delivery, type LiveLink } from "./delivery.js";
import { EndedSessions } from "./ended.js";
import { internalError, setGuardLogger } from "./guard.js";
import { History } from "./history.js";
import { Hub } from "./hub.js";
import { Ingress } from "./ingress.js";
import { Limits } from "./limits.js";
import { metrics } from "./metrics.js";
import { HistoryStateCache } from "./resume.js";
import { ResumeTokens } from "./resume_token.js";
import { mountHttp, OriginPolicy } from "./transport/http.js";
import { BUILTIN_AGENT } from "@radiant/infra/a2a-agents";
import { AgentCards } from "./transport/a2a_http/agent_cards.js";
import { a2aHttpRoutes } from "./transport/a2a_http/routes.js";
import { plainHttp } from "./transport/llm_http/post.js";
import { llmHttpRoutes } from "./transport/llm_http/routes.js";
import { mcpHttpRoutes } from "./transport/mcp_http/routes.js";
import { sseRoutes } from "./transport/sse.js";
import { startHeartbeats } from "./transport/sse_stream.js";
import { mountWebSocket } from "./transport/ws.js";
import type { loadNativeUws } from "./uws.js";

/** room left in a NATS message for the envelope around a frame and the headers (principal, ids) */
const ENVELOPE_ALLOWANCE = 4096;

export interface GatewayProcess {
  port: number;
  link: NatsLink;
  hub: Hub;
  delivery: Delivery;
  /** the counters and gauges as they are now */
  refreshGauges(): void;
  /** close every session with 1012, let in-flight publishes settle, drain NATS */
  shutdown(why: string): Promise<void>;
}

/**
 * How long a session's home has to answer a hold before the session subscribes
 * on its own. A home that is gone answers at once (NATS: no responders); only a
 * busy one is waited for — in a reconnect storm every process is busy for
 * seconds, and a subscription made then stays for the session's life here.
 */
const ASK_TIMEOUT_MS = 5000;

/** What delivery needs of the NATS connection. */
export function natsLiveLink(nc: NatsConnection): LiveLink {
  return {
    subscribe(subject, cb) {
      const sub = nc.subscribe(subject, {
        callback: (err, msg) => {
          if (!err) cb(msg);
        },
      });
      return () => sub.unsubscribe();
    },
    flush: () => nc.flush().catch(() => {}),
    publish: (subject, data, headers) => nc.publish(subject, data, headers ? { headers } : undefined),
    ask: (subject, data) =>
      nc.request(subject, data, { timeout: ASK_TIMEOUT_MS }).then(
        (m) => m.data,
        () => undefined,
      ),
  };
}

/**
 * Start one gateway process: connect to NATS (waiting for it as long as it
 * takes), then listen. Rejects with ListenError if the port cannot be taken.
 */
export async function startGatewayProcess(cfg: GatewayConfig, log: Logger, uws: ReturnType<typeof loadNativeUws>): Promise<GatewayProcess> {
  setGuardLogger(log);
  const link = await openNats(cfg.natsUrl, `radiant-gateway-${process.pid}`, log);
  // A frame travels inside an envelope (and with headers) that must fit NATS's
  // max_payload: a bigger frame could never be queued, so it is refused as too
  // big at the door like any other, never answered "unavailable, retry".
  const natsMaxPayload = link.nc.info?.max_payload ?? 1024 * 1024;
  const maxPayload = Math.min(cfg.maxPayload, natsMaxPayload - ENVELOPE_ALLOWANCE);
  if (maxPayload < cfg.maxPayload) {
    log.warn(
      { GATEWAY_MAX_PAYLOAD: cfg.maxPayload, natsMaxPayload, maxPayload },
      "GATEWAY_MAX_PAYLOAD is more than NATS max_payload can carry with the envelope: frames are limited to maxPayload bytes (raise NATS max_payload to allow more)",
    );
  }
  const js = jetstream(link.nc);
  // no API check: NATS may still be down; direct gets work once it is up
  const jsm = await jetstreamManager(link.nc, { checkAPI: false });
  const history = new History(jsm.direct, js);
  const historyState = new HistoryStateCache(jsm);
  // keep the epoch fresh for the tokens of new sessions
  const refreshEpoch = () => void historyState.get().catch(() => {});
  refreshEpoch();
  setInterval(refreshEpoch, 5000).unref();
  const ended = new EndedSessions(link.nc, js, jsm, cfg.resumeTokenTtlS * 1000, log);
  void ended.watch();

  // the hub and delivery know each other through the control notices: the hub is made right after
  let hub: Hub | undefined;
  const delivery = new Delivery(natsLiveLink(link.nc), history, {
    maxBackpressure: cfg.maxBackpressure,
    gapWaitMs: 50,
    maxHeld: 1000,
    onControl: (sid, c) => hub?.notice(sid, c),
    linkUp: () => link.connected,
  });
  link.onReconnect(() => delivery.reconnected());
  const limits = new Limits(cfg.auth.limits, delivery.home);
  // the fleet's counts: every process reports what it admitted each second, workers the tokens each answer used
  link.nc.subscribe(USAGE_SUBJECT, {
    callback: (err, m) => {
      const r = err ? undefined : decodeUsage(m.data);
      if (r) limits.heard(r);
    },
  });
  setInterval(() => {
    const r = limits.report();
    if (r && link.connected) link.nc.publish(USAGE_SUBJECT, encodeUsage(r));
  }, 1000).unref();
  const ingress = new Ingress({
    // a lost NATS node costs clients delay, not errors: within the publish timeout a frame waits for
    // the connection to another node and is sent again while INBOX elects a leader (4–9 s)
    publisher: new AckedPublisher(link.nc, cfg.publishTimeoutMs, { failover: { attemptMs: Math.max(1000, cfg.publishTimeoutMs / 5) } }),
    notify: (subject, h) => link.nc.publish(subject, undefined, { headers: h }),
    home: delivery.home,
    maxInflight: cfg.maxInflight,
    maxInflightBytes: Math.max(8 * 1024 * 1024, 2 * maxPayload),
    defaultLlmProtocol: cfg.defaultLlmProtocol,
    limits,
  });
  hub = new Hub(link.nc, ingress, delivery, new ResumeTokens(cfg.resumeTokenSecret, cfg.resumeTokenTtlS), historyState, ended);
  const h = hub;
  h.maxResuming = cfg.maxResuming;
  h.maxWaiting = cfg.maxResumesWaiting;

  answerAdminQueries(link.nc, h, limits.id);
  const keys = new ApiKeys(link.nc, log, (id) => h.revokeKey(id));
  void keys.watch();
  const oidc = cfg.auth.oidc && new OidcVerifier({ ...cfg.auth.oidc, log });
  void oidc?.start();
  const auth = new Authenticator({
    required: cfg.auth.required,
    keys,
    ...(oidc ? { oidc } : {}),
    trustedProxies: new TrustedProxies(cfg.auth.trustedProxies),
  });

  const a2a = cfg.a2a;
  const agentCards = new AgentCards(a2a.agents, log);
  // plain HTTP requests on sessions of their own: the provider endpoints and the A2A agents
  const plain = plainHttp(link.nc, h, ingress, delivery, history, {
    maxPayload,
    responseTimeoutMs: cfg.httpResponseTimeoutMs,
    resumeGraceMs: cfg.llmResumeGraceMs,
  });
  const tls = cfg.auth.tls;
  // given a CA, uWS refuses a client certificate that does not verify (it cannot require one: auth_config.ts)
  const app = tls
    ? uws.SSLApp({ cert_file_name: tls.cert, key_file_name: tls.key, ...(tls.clientCa !== undefined ? { ca_file_name: tls.clientCa } : {}) })
    : uws.App();
  const origins = new OriginPolicy(cfg.allowedOrigins);
  mountWebSocket(app, h, { path: "/ws", origins, maxPayload, maxBackpressure: cfg.maxBackpressure, idleTimeoutS: cfg.idleTimeoutS, auth });
  mountHttp(
    app,
    [
      ...sseRoutes(h, ingress, { maxPayload }),
      ...mcpHttpRoutes(link.nc, h, ingress, delivery, history, ended, {
        maxPayload,
        responseTimeoutMs: cfg.httpResponseTimeoutMs,
        newestSeq: () => endOf(Math.max(delivery.newestSeq, historyState.lastSeq)),
      }),
      ...llmHttpRoutes(plain),
      ...a2aHttpRoutes(plain, { names: [BUILTIN_AGENT, ...a2a.agents.map((a) => a.name)], defaultAgent: a2a.defaultAgent, cards: agentCards }),
    ],
    origins,
    auth,
  );
  startHeartbeats(cfg.sseHeartbeatS * 1000);
  app.any("/*", (res) => {
    res.cork(() =>
      res
        .writeStatus("404 Not Found")
        .end(
          "not found: clients connect to /ws (WebSocket), /sse (server-sent events), /mcp (MCP Streamable HTTP), the provider endpoints /v1/chat/completions, /v1/responses, /v1/models, /v1/messages, /v1beta/models/{model}:generateContent, or the A2A agents /a2a/{agent} (cards at /.well-known/agent-card.json)",
        ),
    );
  });

  const listenSocket = await new Promise<unknown>((resolve) => {
    const cb = (s: unknown) => resolve(s);
    if (cfg.listen.host === "0.0.0.0") app.listen(cfg.listen.port, cb);
    else app.listen(cfg.listen.host, cfg.listen.port, cb);
  });
  if (!listenSocket) {
    await link.nc.close().catch(() => {});
    throw new ListenError();
  }
  const port = uws.us_socket_local_port(listenSocket as never);

  let stopping = false;
  return {
    port,
    link,
    hub: h,
    delivery,
    refreshGauges() {
      metrics.natsConnected.set(link.connected ? 1 : 0);
      metrics.homeSessions.set(delivery.homeSessions);
      metrics.sessionSubscriptions.set(delivery.away);
      metrics.sessionsForwardedIn.set(delivery.forwardedIn);
      metrics.sessionsForwardedOut.set(delivery.forwarding.forwarding);
    },
    async shutdown(why) {
      agentCards.stop();
      keys.stop();
      oidc?.stop();
      if (stopping) return;
      stopping = true;
      log.info({ why, sessions: h.sessions.size }, "gateway process stopping");
      uws.us_listen_socket_close(listenSocket as never);
      h.closeAll();
      delivery.stop();
      ended.stop();
      await ingress.idle();
      // let the close frames go out and the clients' close replies come back
      await new Promise((r) => setTimeout(r, 250));
      await link.nc.drain().catch(() => {});
    },
  };
}

/** at most this many sessions in one process's answer to the admin API */
const MAX_LISTED_SESSIONS = 10_000;

/** The admin API asks the fleet which sessions are open: this process's answer. */
function answerAdminQueries(nc: NatsConnection, hub: Hub, from: string): void {
  nc.subscribe(ADMIN_SESSIONS_SUBJECT, {
    callback: (err, m) => {
      const q = err ? undefined : decodeSessionsQuery(m.data);
      if (!q) return;
      const sessions: AdminSession[] = [];
      let truncated = false;
      for (const s of hub.sessions.values()) {
        if (q.principal !== undefined && s.principal !== q.principal) continue;
        if (sessions.length === MAX_LISTED_SESSIONS) {
          truncated = true;
          break;
        }
        const w = s.who;
        sessions.push({
          sid: s.sid,
          principal: w.principal,
          ...(w.tenant !== undefined ? { tenant: w.tenant } : {}),
          ...(w.key !== undefined ? { key: w.key.id } : {}),
          via: w.via,
          framing: s.framing,
        });
      }
      const answer: AdminSessionsAnswer = { from, sessions, truncated };
      m.respond(JSON.stringify(answer));
    },
  });
}

/** The port could not be taken (in use, or not an address of this host). */
export class ListenError extends Error {
  constructor() {
    super("cannot listen: address in use or not available");
  }
}

/** A promise nobody awaited failed: a bug to count and log, not a reason to drop every client of this process. */
export function countUnhandledRejections(): void {
  process.on("unhandledRejection", (e) => internalError("unhandled rejection", e));
}
