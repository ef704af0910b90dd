// MCP Streamable HTTP (spec 2025-03-26, PROTOCOLS.md §1) at /mcp, on the same
// session core as the WebSocket:
// - POST carries one message or a batch into INBOX. Requests are answered on
//   that POST's own response — an SSE stream of the replies (and of what the
//   handler sent while working on them), or one JSON body when the client
//   accepts only JSON; notifications and responses alone get 202.
// - The Mcp-Session-Id is the session's resume token: issued with the
//   initialize result, checked by any gateway without shared state. Missing →
//   400, unknown or expired → 404.
// - GET is the session's stream for everything not sent on a POST. Event ids
//   are HISTORY seq numbers, so Last-Event-ID resumes it from HISTORY, and a
//   POST stream cut before its reply resumes there too.
// - DELETE ends the session everywhere (ended.ts).
import type { SessionId } from "@radiant/infra/wire";
import type { HttpRequest } from "uWebSockets.js";
import { protocolErrorJson } from "@radiant/infra/errors";
import { accepts, isJson, type Exchange, type HttpRoute } from "./http.js";
import type { Hub } from "./hub.js";
import { notQueued, type Ingress } from "./ingress.js";
import type { EndedSessions } from "./ended.js";
import type { History } from "./history.js";
import type { ResponseRouter, ReplySink } from "./mcp_responses.js";
import { idFault, idJson, Key, MAX_ID_BYTES, parsesAsJson, Peek, peek } from "./peek.js";
import { ResumeTokenError, type ResumeClaims } from "./resume.js";
import { settle } from "./guard.js";
import { SseStream } from "./sse.js";
import { openSessionStream } from "./transport_sse.js";

export interface McpHttpOptions {
  maxPayload: number;
  /** a POST waits this long for its replies; then an SSE response ends (the client resumes with GET), a JSON one gets 504 */
  responseTimeoutMs: number;
  /** the newest HISTORY sequence known: a POST stream's first event id (a safe place to resume from) */
  newestSeq: () => number;
}

const SESSION_HEADER = "Mcp-Session-Id";
/** clients of this revision and later understand an event with an id and no data (a resume point) */
const PRIMING_SINCE = "2025-11-25";
const seen = new Peek();

const errorBody = (message: string) => protocolErrorJson("mcp", "refused", message);
const NOT_JSON = protocolErrorJson("mcp", "parse", "Parse error: the body is not valid JSON");

/** What a POST body holds, read without parsing a single message (a batch is parsed: batches are rare). */
interface Body {
  /** request ids as JSON, as the workers write them */
  requests: string[];
  initialize: boolean;
  batch: boolean;
  /** the single message's id as sent, "null" for a batch (no de-duplication key) */
  idJson: string;
  /** what goes into INBOX: the body as sent, or a batch without the items refused here */
  forward: Buffer | undefined;
  /** errors for batch items no answer could ever reach (an unusable id): answered at once, with the rest */
  rejected: string[];
}

const canonicalId = (raw: string): string => JSON.stringify(JSON.parse(raw));

const BAD_ID = `"id" must be a string, a finite number or null, of at most ${MAX_ID_BYTES} bytes`;

/** A batch item's id that a reply can name: what a single message's id gets from idFault. */
const usableId = (id: unknown): boolean =>
  id === undefined || id === null || (typeof id === "number" && Number.isFinite(id)) || (typeof id === "string" && Buffer.byteLength(JSON.stringify(id)) <= MAX_ID_BYTES);

export function readBody(b: Buffer): Body | { status: string; error: string } {
  const p = peek(b, seen);
  if (!p.ok) return { status: "400 Bad Request", error: p.scalar ? protocolErrorJson("mcp", "invalid", "Invalid Request: not a JSON-RPC message or batch") : NOT_JSON };
  // the quick look does not check every nested value: on these (error) paths, "invalid" must not hide "not JSON"
  const invalid = (why: string) => ({ status: "400 Bad Request", error: parsesAsJson(b) ? protocolErrorJson("mcp", "invalid", `Invalid Request: ${why}`) : NOT_JSON });
  if (!p.array) {
    if (!p.has(Key.jsonrpc)) return invalid('not a JSON-RPC 2.0 message (no "jsonrpc")');
    const bad = idFault(b, p);
    if (bad === "parse") return { status: "400 Bad Request", error: NOT_JSON };
    if (bad) return invalid(BAD_ID);
    const id = idJson(b, p);
    const isRequest = p.methodStart >= 0 && p.idStart >= 0;
    const initialize = p.methodStart >= 0 && b.toString("latin1", p.methodStart, p.methodEnd) === "initialize";
    return { requests: isRequest ? [canonicalId(id)] : [], initialize: initialize && isRequest, batch: false, idJson: id, forward: b, rejected: [] };
  }
  const items = JSON.parse(b.toString("utf8")) as unknown[];
  if (items.length === 0) return invalid("empty batch");
  const requests: string[] = [];
  const rejected: string[] = [];
  const kept: unknown[] = [];
  for (const m of items) {
    if (typeof m !== "object" || m === null || Array.isArray(m) || (m as { jsonrpc?: unknown }).jsonrpc !== "2.0") return invalid("a batch item is not a JSON-RPC 2.0 message");
    const { method, id } = m as { method?: unknown; id?: unknown };
    if (method === "initialize") return invalid("initialize cannot be part of a batch");
    if (!usableId(id)) {
      rejected.push(protocolErrorJson("mcp", "invalid", `Invalid Request: ${BAD_ID}`));
      continue;
    }
    kept.push(m);
    if (typeof method === "string" && id !== undefined) requests.push(JSON.stringify(id));
  }
  // batches are parsed here anyway (rare): re-serialised only when an item had to go
  const forward = rejected.length === 0 ? b : kept.length > 0 ? Buffer.from(JSON.stringify(kept)) : undefined;
  return { requests, initialize: false, batch: true, idJson: "null", forward, rejected };
}

interface Ctx {
  hub: Hub;
  ingress: Ingress;
  router: ResponseRouter;
  ended: EndedSessions;
  history: History;
  o: McpHttpOptions;
}

/** The session a request names, or undefined after answering 400/404. */
function session(c: Ctx, x: Exchange, token: string, principal: string): ResumeClaims | undefined {
  if (token === "") {
    x.fail("400 Bad Request", `Bad Request: the ${SESSION_HEADER} header is required (initialize first)`);
    return undefined;
  }
  try {
    return c.hub.claimsOf(token, principal);
  } catch (e) {
    if (!(e instanceof ResumeTokenError)) throw e;
    x.fail("404 Not Found", `Session not found: ${e.message}; initialize a new session`);
    return undefined;
  }
}

function post(c: Ctx, x: Exchange, req: HttpRequest): void {
  const accept = req.getHeader("accept");
  const token = req.getHeader("mcp-session-id");
  const version = req.getHeader("mcp-protocol-version");
  const contentType = req.getHeader("content-type");
  const declared = req.getHeader("content-length");
  const principal = c.hub.principalOf((h) => req.getHeader(h));
  // an explicit text/event-stream picks the stream; a client that accepts only JSON gets JSON
  const streaming = accept.toLowerCase().includes("text/event-stream");
  if (!streaming && !accepts(accept, "application/json")) {
    x.fail("406 Not Acceptable", "Not Acceptable: the client must accept application/json and/or text/event-stream");
    return;
  }
  if (!isJson(contentType)) {
    x.fail("415 Unsupported Media Type", "Unsupported Media Type: the body must be application/json");
    return;
  }
  const claims = token === "" ? undefined : session(c, x, token, principal);
  if (token !== "" && !claims) return;
  const answered = x.body(c.o.maxPayload, declared).then(async (b) => {
    if (!b) return;
    let body: ReturnType<typeof readBody>;
    try {
      body = readBody(b);
    } catch {
      body = { status: "400 Bad Request", error: NOT_JSON };
    }
    if ("error" in body) return x.reply(body.status, body.error);
    let sid: SessionId;
    const extra: [string, string][] = [];
    if (claims) sid = claims.sid;
    else if (body.initialize) {
      const fresh = c.hub.newSession(principal);
      sid = fresh.sid;
      extra.push([SESSION_HEADER, fresh.token]);
    } else {
      session(c, x, "", principal);
      return;
    }
    const forward = body.forward;
    if (body.requests.length === 0) {
      try {
        if (forward) await c.ingress.submit(sid, principal, "mcp", forward, body.idJson);
        if (body.rejected.length > 0) x.reply("200 OK", `[${body.rejected.join(",")}]`, { headers: extra });
        else x.reply("202 Accepted", "", { headers: extra });
      } catch (e) {
        unavailable(x, e, body.idJson);
      }
      return;
    }
    const answer = streaming ? new StreamAnswer(x, extra, version >= PRIMING_SINCE ? c.o.newestSeq() : -1) : new JsonAnswer(x, extra, body.batch);
    const pending = c.router.open(sid, new Set(body.requests), answer, streaming);
    const over = () => {
      clearTimeout(timer);
      c.router.close(pending);
    };
    const timer = setTimeout(() => {
      over();
      answer.timeout(c.o.responseTimeoutMs);
    }, c.o.responseTimeoutMs);
    answer.onOver = over;
    x.onAbort = over;
    for (const r of body.rejected) answer.deliver(0, Buffer.from(r), false);
    let duplicate: boolean;
    try {
      duplicate = (await c.ingress.submit(sid, principal, "mcp", forward ?? b, body.idJson)).duplicate;
    } catch (e) {
      over();
      return unavailable(x, e, body.batch ? "null" : body.idJson);
    }
    answer.start();
    if (duplicate) void c.router.replay(pending, c.history.stream(sid, 0)).catch(() => {}); // unreadable now: the timeout answers
  });
  settle("POST /mcp", answered, () => x.fail("500 Internal Server Error", "Internal error"));
}

function unavailable(x: Exchange, e: unknown, id: string): void {
  notQueued(x, e, "mcp", id);
}

/** Replies as an SSE stream: each as it is stored, then the end. */
class StreamAnswer implements ReplySink {
  onOver: () => void = () => {};
  private readonly stream: SseStream;
  /** replies that came before the request's publish was acked (the head is not written yet) */
  private early: [number, Uint8Array][] | undefined = [];
  private finished = false;
  /** the event ids this stream sent: a GET resuming from one of them means this stream is lost */
  private readonly ids = new Set<number>();

  constructor(
    x: Exchange,
    private readonly headers: [string, string][],
    /** the first event's id, or -1: no priming event for this client */
    private readonly primeAt: number,
  ) {
    this.stream = new SseStream(x, "plain");
  }

  start(): void {
    this.stream.begin(this.headers);
    this.stream.onGone = () => this.onOver();
    if (this.primeAt >= 0) {
      this.ids.add(this.primeAt);
      this.stream.mark(this.primeAt);
    }
    const early = this.early!;
    this.early = undefined;
    for (const [seq, data] of early) this.deliver(seq, data);
    if (this.finished) this.finish();
  }

  deliver(seq: number, data: Uint8Array): void {
    if (this.early) return void this.early.push([seq, data]);
    this.ids.add(seq);
    this.stream.send(data, seq);
  }

  sent(eventId: number): boolean {
    return this.ids.has(eventId);
  }

  abandon(): void {
    this.stream.end();
  }

  finish(): void {
    this.finished = true;
    if (this.early) return;
    this.onOver();
    this.stream.end();
  }

  /** the client resumes with GET and Last-Event-ID, if it can */
  timeout(_ms: number): void {
    if (!this.early) this.stream.end();
  }
}

/** Replies as one JSON body (an array for a batch) once all are in. */
class JsonAnswer implements ReplySink {
  onOver: () => void = () => {};
  private readonly parts: Uint8Array[] = [];
  private started = false;
  private finished = false;

  constructor(
    private readonly x: Exchange,
    private readonly headers: [string, string][],
    private readonly batch: boolean,
  ) {}

  start(): void {
    this.started = true;
    if (this.finished) this.finish();
  }

  deliver(seq: number, data: Uint8Array, isResponse: boolean): void {
    // a JSON answer has no room for what came while working; seq 0: an error made here (a refused batch item)
    if (isResponse || seq === 0) this.parts.push(data);
  }

  sent(): boolean {
    return false; // no event ids: nothing to resume from
  }

  abandon(): void {}

  finish(): void {
    this.finished = true;
    if (!this.started) return;
    this.onOver();
    const body = this.batch ? `[${this.parts.map((p) => Buffer.from(p).toString()).join(",")}]` : Buffer.from(this.parts[0]!).toString();
    this.x.reply("200 OK", body, { headers: this.headers });
  }

  timeout(ms: number): void {
    this.x.fail("504 Gateway Timeout", `Gateway Timeout: no response within ${ms} ms; it will be in the session's history (GET with Last-Event-ID)`);
  }
}

function stream(c: Ctx, x: Exchange, req: HttpRequest): void {
  const principal = c.hub.principalOf((h) => req.getHeader(h));
  const version = req.getHeader("mcp-protocol-version");
  const lastEventId = req.getHeader("last-event-id");
  if (!accepts(req.getHeader("accept"), "text/event-stream")) {
    x.fail("406 Not Acceptable", "Not Acceptable: GET /mcp answers text/event-stream");
    return;
  }
  const claims = session(c, x, req.getHeader("mcp-session-id"), principal);
  if (!claims) return;
  const lastSeq = lastEventId === "" ? "end" : Number(lastEventId);
  if (lastSeq !== "end" && !(Number.isSafeInteger(lastSeq) && lastSeq >= 0)) {
    x.fail("400 Bad Request", "Bad Request: Last-Event-ID must be an event id this server sent (a whole number)");
    return;
  }
  if (lastSeq !== "end") c.router.resumedFrom(claims.sid, lastSeq);
  const sse = new SseStream(x, "plain");
  // the standalone stream, or one resuming a cut stream (see mcp_responses.ts)
  sse.wants = lastSeq === "end" ? (h) => c.router.forStandalone(claims.sid, h) : (h) => c.router.forResumed(claims.sid, h);
  sse.prime = version >= PRIMING_SINCE ? (seq) => sse.mark(seq) : () => {};
  // parked: heartbeats only, until its client lets go
  sse.takenOver = () => {};
  openSessionStream(c.hub, { kind: "resume", sid: claims.sid, lastSeq, epoch: claims.epoch }, principal, sse);
}

function end(c: Ctx, x: Exchange, req: HttpRequest): void {
  const principal = c.hub.principalOf((h) => req.getHeader(h));
  const claims = session(c, x, req.getHeader("mcp-session-id"), principal);
  if (!claims) return;
  c.ended.end(claims.sid).then(
    () => x.reply("200 OK", ""),
    (e: Error) => x.fail("503 Service Unavailable", `Service unavailable: the session could not be ended (${e.message}); retry`, { headers: [["Retry-After", "1"]] }),
  );
}

export function mcpHttpRoutes(hub: Hub, ingress: Ingress, router: ResponseRouter, ended: EndedSessions, history: History, o: McpHttpOptions): HttpRoute[] {
  const c: Ctx = { hub, ingress, router, ended, history, o };
  return [
    {
      path: "/mcp",
      protocol: "mcp",
      methods: { post: (x, req) => post(c, x, req), get: (x, req) => stream(c, x, req), delete: (x, req) => end(c, x, req) },
      errorBody,
    },
  ];
}
