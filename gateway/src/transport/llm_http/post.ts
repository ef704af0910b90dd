// One LLM request over plain HTTP: the body into INBOX on a session of its own
// (its one request), the reply routed back to this response by request id.
// The response names the session's token (Radiant-Resume-Token): the same
// request sent again with that token and Last-Event-ID (or
// Radiant-Events-Received) continues the answer after what the client got,
// from HISTORY, on any gateway process.
import type { Identity } from "../../auth/authenticator.js";
import type { NatsConnection } from "@nats-io/nats-core";
import type { HttpRequest } from "uWebSockets.js";
import { controlHeaders, type ErrorKind, protocolErrorJson, rpcRequestId, subjects, type Operation, type Protocol, type SessionId } from "@radiant/wire";
import type { Delivery } from "../../delivery.js";
import { settle } from "../../guard.js";
import type { History } from "../../history.js";
import type { Hub } from "../../hub.js";
import { notQueued, type Ingress, type RequestOf } from "../../ingress.js";
import { isJsonText, skipWs } from "../../peek.js";
import { ResumeTokenError } from "../../resume_token.js";
import { isJson, type Exchange } from "../http.js";
import { LlmAnswer, type ResumePoint, type StreamStyle } from "./answer_llm.js";
import { Grace } from "./grace.js";

export interface LlmHttpOptions {
  maxPayload: number;
  /** a response waits this long for its reply to begin (then 504) */
  responseTimeoutMs: number;
}

export interface LlmHttp {
  nc: Pick<NatsConnection, "publish">;
  hub: Hub;
  ingress: Ingress;
  delivery: Delivery;
  history: History;
  grace: Grace;
  o: LlmHttpOptions;
}

/** The context of plain HTTP requests answered on sessions of their own: a client leaving mid-answer gets a grace period to resume. */
export function plainHttp(
  nc: NatsConnection,
  hub: Hub,
  ingress: Ingress,
  delivery: Delivery,
  history: History,
  o: LlmHttpOptions & { resumeGraceMs: number },
): LlmHttp {
  const c: LlmHttp = { nc, hub, ingress, delivery, history, grace: new Grace(o.resumeGraceMs), o };
  hub.onNotice((sid, n) => {
    if (n.kind === "resumedFrom") c.grace.notice(sid, n.eventId);
  });
  return c;
}

/** What an endpoint asks for. */
export interface Endpoint {
  proto: Protocol;
  op: Operation;
  style: StreamStyle;
  /** what the URL named beside the protocol (an A2A agent), checked */
  target?: string;
}

export const RESUME_TOKEN_HEADER = "Radiant-Resume-Token";
/** a session made for one plain HTTP request holds just that request: its id is always this */
export const HTTP_REQUEST_ID = rpcRequestId('"http"');

const EMPTY_BODY = Buffer.from("{}");

/**
 * The request: a body (POST) or none (GET, DELETE); `shape` makes what goes into INBOX of it (what
 * the URL says: Google's model, an A2A REST call's method and ids).
 */
export function llmRequest(c: LlmHttp, x: Exchange, req: HttpRequest, e: Endpoint, shape?: (body: Buffer) => Buffer, bodyless = false): void {
  const method = req.getMethod().toLowerCase();
  const who = x.who;
  const token = req.getHeader("radiant-resume-token");
  const from = resumePoint(req.getHeader("last-event-id"), req.getHeader("radiant-events-received"));
  if (from === "bad") {
    x.fail("400 Bad Request", "Last-Event-ID must be an event id of this answer and Radiant-Events-Received a count of events (whole numbers)");
    return;
  }
  if (token !== "") {
    resume(c, x, e, token, who.principal, from);
    return;
  }
  if (method !== "post" || bodyless) {
    void forward(c, x, e, who, shape ? shape(EMPTY_BODY) : EMPTY_BODY);
    return;
  }
  if (!isJson(req.getHeader("content-type"))) {
    x.fail("415 Unsupported Media Type", "The body must be application/json");
    return;
  }
  const read = x.body(c.o.maxPayload, req.getHeader("content-length")).then((b) => {
    if (!b) return;
    if (!isJsonText(b) || b[skipWs(b, 0)] !== 0x7b) {
      x.fail("400 Bad Request", "The request body must be a JSON object");
      return;
    }
    return forward(c, x, e, who, shape ? shape(b) : b);
  });
  settle(`${e.proto} ${e.op}`, read, () => x.fail("500 Internal Server Error", "Internal error"));
}

async function forward(c: LlmHttp, x: Exchange, e: Endpoint, who: Identity, body: Buffer): Promise<void> {
  const { sid, token } = c.hub.newSession(who.principal);
  const answer = new LlmAnswer(x, e.style, [[RESUME_TOKEN_HEADER, token]], undefined);
  const r: RequestOf = { rid: HTTP_REQUEST_ID, op: e.op, dedupe: true, ...(e.target !== undefined ? { target: e.target } : {}) };
  if (!(await open(c, x, answer, sid, true))) return;
  try {
    await c.ingress.submit(sid, who, e.proto, r, body);
  } catch (err) {
    // not queued: nothing will come for this response (onOver lets go of its line, and cancels nothing)
    answer.onOver();
    answer.onOver = () => {};
    notQueued(x, err, e.proto, "null");
    return;
  }
  answer.start();
}

/** The same request again, with its answer's token: what the client missed, then the rest as it comes. */
function resume(c: LlmHttp, x: Exchange, e: Endpoint, token: string, principal: string, from: ResumePoint | undefined): void {
  let sid: SessionId;
  try {
    sid = c.hub.claimsOf(token, principal).sid;
  } catch (err) {
    if (!(err instanceof ResumeTokenError)) throw err;
    x.fail("401 Unauthorized", `Radiant-Resume-Token: ${err.message}`);
    return;
  }
  // whichever process served an earlier attempt lets go of it, and cancels nothing
  try {
    c.nc.publish(subjects.live(sid), undefined, { headers: controlHeaders({ kind: "resumedFrom", eventId: c.grace.noticeId() }) });
  } catch {
    // not connected: the answer still resumes from HISTORY; another process may cancel it after its grace
  }
  const answer = new LlmAnswer(x, e.style, [[RESUME_TOKEN_HEADER, token]], from);
  const resumed = open(c, x, answer, sid, false).then((ok) => {
    if (!ok) return;
    // the replay first: what arrives live meanwhile waits until what came before it is handed on
    const replayed = answer.replay(c.history.batches(sid, 0), HTTP_REQUEST_ID);
    answer.start();
    return replayed;
  });
  settle(`${e.proto} ${e.op} resume`, resumed, () => {});
}

/** Route the session's reply to this response; a client that leaves gets a grace period to resume before its request is cancelled. */
async function open(c: LlmHttp, x: Exchange, answer: LlmAnswer, sid: SessionId, newSession: boolean): Promise<boolean> {
  const rid = HTTP_REQUEST_ID;
  const close = () => c.delivery.closeRequest(sid, rid, answer);
  // the answer must begin within the response timeout; once it has, a stream runs as long as the worker's (WORKER_HANDLER_TIMEOUT_MS)
  const timer = setTimeout(() => answer.timeout(c.o.responseTimeoutMs), c.o.responseTimeoutMs);
  answer.onBegin = () => clearTimeout(timer);
  answer.onOver = () => {
    clearTimeout(timer);
    // a client that left mid-answer: the line stays open meanwhile, a resume elsewhere reaches this process as a notice on it
    c.grace.over(sid, answer, x.aborted && !answer.completed, () => c.ingress.cancel(sid, rid, "client gone"), close);
  };
  c.grace.opened(sid, answer);
  x.onAbort = () => answer.abandon();
  try {
    await c.delivery.openRequest(sid, rid, answer, { newSession });
    return true;
  } catch {
    answer.onOver();
    answer.onOver = () => {};
    x.fail("503 Service Unavailable", "Service unavailable: the answer's history cannot be read; retry", { headers: [["Retry-After", "1"]] });
    return false;
  }
}

export function resumePoint(lastEventId: string, received: string): ResumePoint | undefined | "bad" {
  const whole = (s: string) => (/^\d{1,15}$/.test(s) ? Number(s) : Number.NaN);
  if (lastEventId !== "") {
    const n = whole(lastEventId);
    return Number.isNaN(n) ? "bad" : { afterId: n };
  }
  if (received !== "") {
    const n = whole(received);
    return Number.isNaN(n) ? "bad" : { afterCount: n };
  }
  return undefined;
}

/** `{…}` → `{…,"key":"value"}`: the last member wins in every JSON reader we feed. The value is checked by the caller (a name, no quotes). */
export function withMember(b: Buffer, key: string, value: string): Buffer {
  let end = b.length - 1;
  while (end > 0 && b[end] !== 0x7d) end--;
  // an empty object takes the member without a comma
  const empty = skipWs(b, b.indexOf(0x7b) + 1) >= end;
  const member = `${empty ? "" : ","}${JSON.stringify(key)}:${JSON.stringify(value)}}`;
  return Buffer.concat([b.subarray(0, end), Buffer.from(member)]);
}

/** Google's model from the URL, into the body. */
export const withModel = (b: Buffer, model: string): Buffer => withMember(b, "model", model);

/** The route's error body: the protocol's own shape. */
export const errorBodyOf =
  (proto: Protocol) =>
  (message: string, kind: ErrorKind = "refused"): string =>
    protocolErrorJson(proto, kind, message);
