// Socket → NATS: peek at a client frame, tell its protocol, give it a request
// id and an operation, and publish it once to INBOX inside a msgpack envelope
// with the bytes untouched. Anything that cannot be published is answered at
// once, in the caller's protocol and naming its JSON-RPC id — never dropped.
import type { Identity } from "./auth/authenticator.js";
import type { Limits, Refusal } from "./limits.js";
import { PublishError, type AckedPublisher, type PubAck } from "@radiant/infra/publish";
import { protocolErrorJson, type ErrorKind, type InboxEnvelope } from "@radiant/wire";
import {
  controlHeaders,
  encodeInbox,
  requestMsgId,
  RequestIds,
  rpcRequestId,
  subjects,
  type CancelReason,
  type Operation,
  type Protocol,
  type SessionId,
} from "@radiant/wire";
import { directFrame } from "./frames.js";
import type { Exchange } from "./transport/http.js";
import { metrics } from "./metrics.js";
import { idFault, idJson, isJsonText, Key, MAX_ID_BYTES, Peek, peek } from "./peek.js";
import { detectProtocol, type Framing } from "./protocol.js";
import type { Session } from "./session.js";

export interface IngressOptions {
  publisher: AckedPublisher;
  /** publishes control notices (cancel) on core NATS */
  notify: (subject: string, h: ReturnType<typeof controlHeaders>) => void;
  /** this process's home: gateway-made request ids start with it */
  home: string;
  maxInflight: number;
  /** bytes in flight per session; at least one maximum payload */
  maxInflightBytes: number;
  defaultLlmProtocol: Protocol;
  /** per-principal and per-key limits (limits.ts) */
  limits: Limits;
}

/** the protocols whose requests spend LLM tokens */
const isLlm = (p: Protocol): boolean => p === "openai" || p === "anthropic" || p === "google";

const seen = new Peek();

/** What makes a frame unfit to go in at all. */
export type FrameFault = "parse" | "invalid" | "notObject" | "badId" | "escapedKey";
const faults: Record<FrameFault, { kind: ErrorKind; message: string }> = {
  parse: { kind: "parse", message: "Parse error: the frame is not valid JSON" },
  invalid: { kind: "invalid", message: "Invalid Request: the frame matches no protocol this gateway speaks (MCP, A2A, OpenAI, Anthropic, Google)" },
  notObject: { kind: "invalid", message: "Invalid Request: a frame must be a JSON object (or an array: a JSON-RPC batch)" },
  badId: { kind: "invalid", message: `Invalid Request: "id" must be a string, a finite number or null, of at most ${MAX_ID_BYTES} bytes` },
  escapedKey: { kind: "invalid", message: "Invalid Request: member names with escapes (\\u…) are not accepted at the top level" },
};
export const isFault = (v: Protocol | FrameFault): v is FrameFault => Object.hasOwn(faults, v);

/** Over a limit of the principal or its key: answered 429 with Retry-After. */
export class RateLimited extends Error {
  constructor(readonly refusal: Refusal) {
    super(refusal.reason);
  }
}

/** JetStream cannot take a frame right now (HTTP answers 503), or ever (`tooLarge`: 413). */
export class BrokerUnavailable extends Error {
  constructor(
    message: string,
    readonly tooLarge = false,
  ) {
    super(message);
  }
}

/**
 * The HTTP answer for a frame JetStream did not take: 413 when it never can,
 * else 503 with Retry-After; anything else is our bug, answered 500 (never a
 * throw out of a request's promise, which would end the process).
 */
export function notQueued(x: Exchange, e: unknown, proto: Protocol, id: string): void {
  if (e instanceof RateLimited) {
    x.reply("429 Too Many Requests", protocolErrorJson(proto, "rateLimited", `Too Many Requests: ${e.message}`, id), {
      headers: [["Retry-After", String(e.refusal.retryAfterS)]],
    });
  } else if (!(e instanceof BrokerUnavailable)) {
    x.reply("500 Internal Server Error", protocolErrorJson(proto, "internal", `Internal error: ${(e as Error)?.message ?? "unknown"}`, id));
  } else if (e.tooLarge) {
    x.reply("413 Payload Too Large", protocolErrorJson(proto, "tooLarge", `Request too large: ${e.message}`, id));
  } else {
    x.reply("503 Service Unavailable", protocolErrorJson(proto, "unavailable", `Service unavailable: ${e.message}; retry`, id), {
      headers: [["Retry-After", "1"]],
    });
  }
}

/** What to tell a client whose frame could not be published: retry only where a retry can succeed. */
function failure(e: Error, dedupe: boolean): { kind: ErrorKind; message: string } {
  if (e instanceof PublishError && e.tooLarge) return { kind: "tooLarge", message: `Request too large: ${e.message}` };
  if (e instanceof PublishError && e.unconfirmed) return { kind: "unavailable", message: `Service unavailable: ${unconfirmed(e, dedupe)}` };
  return { kind: "unavailable", message: `Service unavailable: the request could not be queued (${e.message}); retry` };
}

/** A publish that went out and was never confirmed: it may still run; what a retry does depends on whether it is de-duplicated. */
function unconfirmed(e: Error, dedupe: boolean): string {
  return `the request was sent to the message broker but not confirmed (${e.message}); it may still run: ${
    dedupe ? "retry with the same id, which runs once" : "sending it again may run it twice"
  }`;
}

/** What a frame asks for: its request id (replies name it), its operation, and whether JetStream de-duplicates it. */
export interface RequestOf {
  rid: string;
  op: Operation;
  /** a JSON-RPC request with an id of the client's: re-sent (after a reconnect), it is stored — and run — once */
  dedupe: boolean;
  /** what the URL named (an A2A agent), checked (TARGET_RE) */
  target?: string;
}

/** The operation of a frame that came over a session stream (no URL to tell it): the protocol's main one. */
const STREAM_OPS: Record<Protocol, Operation> = { mcp: "rpc", a2a: "rpc", openai: "chat", anthropic: "messages", google: "generate" };

export class Ingress {
  /** frames published and not yet acked, all sessions */
  inflight = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly ids: RequestIds;

  constructor(private readonly o: IngressOptions) {
    this.ids = new RequestIds(o.home);
  }

  get limits(): Limits {
    return this.o.limits;
  }

  /**
   * The request a frame makes; call right after protocolOf. A JSON-RPC
   * request with an id gets a request id made from that id (the same id, the
   * same request: found again when re-sent); anything else — an LLM body, a
   * notification, a response, a batch — one made here.
   */
  requestOf(frame: Buffer, proto: Protocol, op?: Operation): RequestOf {
    const p = seen;
    // over a session there is no URL to name the operation: a Responses API body has `input`, not `messages`
    op ??= proto === "openai" && !p.has(Key.messages) ? "responses" : STREAM_OPS[proto];
    // an LLM body on a session may carry an `id` of the client's (docs/protocols.md): the same rule
    const rpc = proto === "mcp" || proto === "a2a";
    if (!p.array && p.idStart >= 0 && (!rpc || p.methodStart >= 0)) {
      const id = idJson(frame, p);
      if (id !== "null") return { rid: rpcRequestId(id), op, dedupe: true };
    }
    return { rid: this.ids.make(), op, dedupe: false };
  }

  /** A fresh request id, for a request the transport makes up (a batch, a notification over HTTP). */
  newRequestId(): string {
    return this.ids.make();
  }

  /** Stop a request wherever a worker runs it (an HTTP client gone with no session to resume on). */
  cancel(sid: SessionId, rid: string, reason: CancelReason): void {
    try {
      this.o.notify(subjects.cancel(sid), controlHeaders({ kind: "cancel", rid, reason }));
    } catch {
      // not connected: the request runs to its end, its reply waits in HISTORY
    }
  }

  /**
   * The frame's protocol, or its fault: not JSON, or of no protocol we speak.
   * Its peek stays in `seen` until the next call (every transport's frames come through here).
   */
  protocolOf(frame: Buffer, framing: Framing): Protocol | FrameFault {
    const p = peek(frame, seen);
    if (!p.ok) return p.scalar ? "notObject" : "parse";
    if (p.escapedKey) return "escapedKey";
    const bad = idFault(frame, p);
    if (bad) return bad;
    return detectProtocol(frame, p, framing, this.o.defaultLlmProtocol) ?? "invalid";
  }

  /** The error for a frame's fault, naming its id when it has a usable one; call right after protocolOf. */
  faultJson(frame: Buffer, fault: FrameFault): string {
    // the quick look does not check every nested value: on this (error) path, make sure "no protocol" is not "not JSON"
    if (fault !== "parse" && fault !== "notObject" && !isJsonText(frame)) fault = "parse";
    const { kind, message } = faults[fault];
    metrics.ingressErrors.inc({ reason: kind });
    return protocolErrorJson(undefined, kind, message, fault === "invalid" ? this.idOf(frame) : "null");
  }

  /**
   * How many requests a frame makes, for the limits; call right after
   * protocolOf. An LLM body is one; a JSON-RPC message with a method and an
   * `id` member (null included: a worker answers it) is one; a batch, each of
   * its calls (batches are rare: parsed); notifications and answers, none.
   */
  costOf(frame: Buffer, proto: Protocol): number {
    const p = seen;
    if (isLlm(proto)) return 1;
    if (!p.array) return p.methodStart >= 0 && p.idStart >= 0 ? 1 : 0;
    try {
      const items = JSON.parse(frame.toString()) as unknown[];
      return items.filter((m) => typeof m === "object" && m !== null && typeof (m as { method?: unknown }).method === "string" && "id" in m).length;
    } catch {
      return 1;
    }
  }

  /** The frame's JSON-RPC id as raw JSON ("null" if none); call right after protocolOf. */
  idOf(frame: Buffer): string {
    return idJson(frame, seen);
  }

  /** One client text frame. `frame` is only valid during this call. */
  frame(s: Session, frame: Buffer): void {
    const proto = this.protocolOf(frame, s.framing);
    if (isFault(proto)) {
      if (!s.closed) s.transport.send(directFrame(s.framing, this.faultJson(frame, proto), s.token), 0);
      return;
    }
    const p = seen;
    if (s.inflight >= this.o.maxInflight || s.inflightBytes + frame.byteLength > this.o.maxInflightBytes) {
      return this.refuse(
        s,
        proto,
        "overloaded",
        `Too many requests in flight on this session (limit ${this.o.maxInflight}): retry after replies arrive`,
        idJson(frame, p),
      );
    }
    // read now: `frame` is gone after this call (most LLM bodies have no id)
    const id = p.idStart >= 0 ? idJson(frame, p) : "null";
    const cost = this.costOf(frame, proto);
    const r = this.requestOf(frame, proto);
    if (cost > 0) {
      const no = this.o.limits.admit(s.who, isLlm(proto), cost);
      if (no) return this.refuse(s, proto, "rateLimited", `Too Many Requests: ${no.reason}; retry after ${no.retryAfterS} s`, id);
    }
    const size = frame.byteLength;
    s.inflight++;
    s.inflightBytes += size;
    this.publish(s.inboxSubject(proto), s.sid, s.who, proto, r, frame).then(
      () => {
        this.settle(s, size);
        metrics.messagesIn.inc();
      },
      (e: Error) => {
        this.settle(s, size);
        const f = failure(e, r.dedupe);
        this.refuse(s, proto, f.kind, f.message, id);
      },
    );
  }

  /**
   * A frame that came in over HTTP, checked by its transport: resolves once
   * JetStream holds it; rejects with a BrokerUnavailable saying why not.
   */
  async submit(sid: SessionId, who: Identity, proto: Protocol, r: RequestOf, frame: Uint8Array, cost = isLlm(proto) || r.dedupe ? 1 : 0): Promise<PubAck> {
    if (cost > 0) {
      const no = this.o.limits.admit(who, isLlm(proto), cost);
      if (no) throw new RateLimited(no);
    }
    let ack: PubAck;
    try {
      ack = await this.publish(subjects.inbox(proto, sid), sid, who, proto, r, frame);
    } catch (e) {
      const tooLarge = e instanceof PublishError && e.tooLarge;
      throw new BrokerUnavailable(
        tooLarge
          ? (e as Error).message
          : e instanceof PublishError && e.unconfirmed
            ? unconfirmed(e, r.dedupe)
            : `the request could not be queued (${(e as Error).message})`,
        tooLarge,
      );
    } finally {
      this.done();
    }
    metrics.messagesIn.inc();
    return ack;
  }

  /** Into INBOX inside an envelope (msgpackr copies the bytes before returning); count it in flight. */
  private publish(subject: string, sid: SessionId, who: Identity, proto: Protocol, r: RequestOf, frame: Uint8Array): Promise<PubAck> {
    const env: InboxEnvelope = { v: 2, sid, proto, op: r.op, rid: r.rid, principal: who.principal, ts: Date.now(), body: frame };
    // what the workers need of a credential beyond its principal, only when it has it (most frames: none)
    if (who.tenant !== undefined) env.tenant = who.tenant;
    if (who.key !== undefined) {
      env.key = who.key.id;
      // only the LLM workers read it: an MCP or A2A frame does not carry the list
      if (who.key.models !== undefined && isLlm(proto)) env.models = who.key.models;
    }
    // only an A2A request over HTTP names one: no spread of an empty object on every frame of a socket
    if (r.target !== undefined) env.target = r.target;
    this.inflight++;
    return this.o.publisher.publish(subject, encodeInbox(env), r.dedupe ? requestMsgId(sid, r.rid) : undefined);
  }

  /** Refuse a frame for lack of room, naming its id if it has one. */
  refuseOverloaded(s: Session, frame: Buffer): void {
    const p = peek(frame, seen);
    this.refuse(s, undefined, "overloaded", "Too many requests while the session starts: retry", p.ok ? idJson(frame, p) : "null");
  }

  private settle(s: Session, size: number): void {
    s.inflight--;
    s.inflightBytes -= size;
    this.done();
  }

  private done(): void {
    if (--this.inflight === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  private refuse(s: Session, proto: Protocol | undefined, kind: ErrorKind, message: string, id: string): void {
    metrics.ingressErrors.inc({ reason: kind });
    if (!s.closed) s.transport.send(directFrame(s.framing, protocolErrorJson(proto, kind, message, id), s.token), 0);
  }

  /** Resolves when no publish is in flight (for a graceful stop). */
  async idle(): Promise<void> {
    if (this.inflight > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
  }
}
