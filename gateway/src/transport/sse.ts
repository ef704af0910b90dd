// The generic SSE transport, for clients that cannot or will not use a
// WebSocket: GET /sse is the session's stream (the same frames as on /ws, an
// event each, `id:` = seq_num), POST /sse/messages carries one client frame
// into INBOX. Both sit on the same session core as the WebSocket.
//
// A native EventSource reconnects on its own to the URL it last reached,
// sending the last event id it saw. So a stream URL must name its session:
// GET /sse without a token answers 307 with the new session's own URL
// (/sse?resume=<token>); on every reconnect to it the Last-Event-ID header
// says where to resume.
import type { Identity } from "../auth/authenticator.js";
import type { HttpRequest } from "uWebSockets.js";
import { closeCodes, type SessionId } from "@radiant/wire";
import { settle } from "../guard.js";
import type { Hub } from "../hub.js";
import { isFault, notQueued, type Ingress } from "../ingress.js";
import type { Prepared } from "../resume.js";
import { ResumeTokenError, SessionEnded } from "../resume_token.js";
import type { Session } from "../session.js";
import { accepts, isJson, type Exchange, type HttpRoute } from "./http.js";
import { SseStream, type SseOwner } from "./sse_stream.js";

export interface SseOptions {
  maxPayload: number;
}

const STREAM_PATH = "/sse";

const errorBody = (message: string) => JSON.stringify({ error: { message } });

function openStream(hub: Hub, x: Exchange, req: HttpRequest): void {
  if (!accepts(req.getHeader("accept") || "text/event-stream", "text/event-stream")) {
    x.fail("406 Not Acceptable", "Not Acceptable: /sse answers text/event-stream");
    return;
  }
  const who = x.who;
  const resume = req.getQuery("resume") ?? "";
  if (hub.stopping) {
    // a stream that ends with `close` makes an EventSource reconnect (to another gateway); an error status would stop it for good
    const stream = new SseStream(x, "json");
    stream.begin();
    stream.close(closeCodes.serviceRestart, "server restart: reconnect and resume");
    return;
  }
  if (resume === "") {
    const { token } = hub.newSession(who.principal);
    // a browser's credential rides in the URL (EventSource sets no headers): the session's URL keeps it, reconnects included
    const cred = (["token", "key"] as const).find((q) => (req.getQuery(q) ?? "") !== "");
    const keep = cred === undefined ? "" : `&${cred}=${encodeURIComponent(req.getQuery(cred) ?? "")}`;
    x.reply("307 Temporary Redirect", "", { headers: [["Location", `${STREAM_PATH}?resume=${encodeURIComponent(token)}${keep}`]] });
    return;
  }
  // EventSource's own reconnects say where they were in Last-Event-ID; other clients may use ?last_seq=
  const lastSeq = req.getHeader("last-event-id") || req.getQuery("last_seq") || undefined;
  if (overConnections(hub, x)) return;
  const prepared = hub.prepare(who.principal, { resume, lastSeq });
  const stream = new SseStream(x, "json");
  if (prepared.kind === "resume" && !hub.mayResume()) {
    // an EventSource stops for good on an error status; a stream that ends with `close` makes it come back
    stream.begin();
    stream.close(closeCodes.tryAgainLater, "too many resumes at once: resume again shortly");
    return;
  }
  openSessionStream(hub, prepared, who, stream);
}

/** Whether the requester holds as many connections as its limit allows (answered 429 here). */
export function overConnections(hub: Hub, x: Exchange): boolean {
  const over = hub.ingress.limits.mayConnect(x.who);
  if (over) x.fail("429 Too Many Requests", `Too Many Requests: ${over.reason}`, { kind: "rateLimited", headers: [["Retry-After", String(over.retryAfterS)]] });
  return over !== undefined;
}

/** A session on an SSE stream (here and MCP's GET): the head goes out, the session opens, and ends with the stream. */
export function openSessionStream(hub: Hub, prepared: Prepared, who: Identity, stream: SseStream): Session {
  stream.begin();
  const s = hub.open(prepared, who, stream);
  stream.session = s;
  stream.owner = ownerFor(hub);
  return s;
}

/** A session's stream tells its hub; one owner per hub, shared by its streams (two closures per stream were ~150 B). */
const owners = new WeakMap<Hub, SseOwner>();
function ownerFor(hub: Hub): SseOwner {
  let o = owners.get(hub);
  if (!o) {
    o = {
      streamGone: (stream) => stream.session && hub.close(stream.session),
      streamDrained: (stream) => stream.session && hub.drain(stream.session),
    };
    owners.set(hub, o);
  }
  return o;
}

/**
 * The session a POST names: its resume token in `Radiant-Resume-Token` or
 * `?resume=`; before client credentials existed, in `Authorization: Bearer`
 * or `?token=` (still read so when neither of the others is sent).
 */
function sessionTokenOf(req: HttpRequest): string {
  const named = namedSession(req);
  if (named !== "") return named;
  const auth = req.getHeader("authorization");
  return auth.toLowerCase().startsWith("bearer ") ? auth.slice(7).trim() : (req.getQuery("token") ?? "");
}

/** the session token in `Radiant-Resume-Token` or `?resume=`, "" if neither */
const namedSession = (req: HttpRequest): string => req.getHeader("radiant-resume-token") || req.getQuery("resume") || "";
const bearerIsSession = (req: HttpRequest): boolean => namedSession(req) === "";

function postMessage(hub: Hub, ingress: Ingress, o: SseOptions, x: Exchange, req: HttpRequest): void {
  const who = x.who;
  const token = sessionTokenOf(req);
  const contentType = req.getHeader("content-type");
  const declared = req.getHeader("content-length");
  if (token === "") {
    x.fail("401 Unauthorized", "Unauthorized: name the session: its resume_token in Radiant-Resume-Token (or ?resume=)", {
      headers: [["WWW-Authenticate", 'Bearer realm="radiant"']],
    });
    return;
  }
  let sid: SessionId;
  try {
    sid = hub.claimsOf(token, who.principal).sid;
  } catch (e) {
    if (e instanceof SessionEnded) return x.fail("404 Not Found", `Not Found: ${e.message}`);
    if (!(e instanceof ResumeTokenError)) throw e;
    x.fail("401 Unauthorized", `Unauthorized: ${e.message}`, { headers: [["WWW-Authenticate", 'Bearer realm="radiant", error="invalid_token"']] });
    return;
  }
  if (!isJson(contentType)) {
    x.fail("415 Unsupported Media Type", "Unsupported Media Type: send one JSON frame as application/json");
    return;
  }
  const answered = x.body(o.maxPayload, declared).then(async (body) => {
    if (!body) return;
    const proto = ingress.protocolOf(body, "json");
    if (isFault(proto)) return x.reply("400 Bad Request", ingress.faultJson(body, proto));
    const id = ingress.idOf(body);
    try {
      const cost = ingress.costOf(body, proto);
      await ingress.submit(sid, who, proto, ingress.requestOf(body, proto), body, cost);
    } catch (e) {
      return notQueued(x, e, proto, id);
    }
    // stored in INBOX: the reply comes on the session's stream
    x.reply("202 Accepted", "");
  });
  settle("POST /sse/messages", answered, () => x.fail("500 Internal Server Error", "Internal error"));
}

export function sseRoutes(hub: Hub, ingress: Ingress, o: SseOptions): HttpRoute[] {
  return [
    { path: STREAM_PATH, methods: { get: (x, req) => openStream(hub, x, req) }, errorBody },
    { path: `${STREAM_PATH}/messages`, methods: { post: (x, req) => postMessage(hub, ingress, o, x, req) }, errorBody, bearerIsSession },
  ];
}
