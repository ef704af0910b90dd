// The wire contract between gateway, workers and bench. Every subject, stream
// name, header and envelope field is spelled here and nowhere else.
import { createHash } from "node:crypto";
import { Packr } from "msgpackr";

export const PROTOCOLS = ["mcp", "a2a", "openai", "anthropic", "google"] as const;
export type Protocol = (typeof PROTOCOLS)[number];

export function isProtocol(s: string): s is Protocol {
  return (PROTOCOLS as readonly string[]).includes(s);
}

// ---- session ids ------------------------------------------------------------
// A session id becomes one token of NATS subjects, so a string from outside (a
// token's claim, an envelope, a subject) is a SessionId only once checked: the
// subject builders below take nothing else, and a wildcard, a dot or white
// space can never reach a subject.
declare const sessionIdBrand: unique symbol;
export type SessionId = string & { readonly [sessionIdBrand]: true };

/**
 * A session id starts with the id of the gateway process that made it, its
 * home. The home is a token of the session's subjects, so that process takes
 * the live messages of all the sessions it holds at home with ONE wildcard
 * subscription (`out.{home}.*`) instead of one subscription per session; a
 * session resumed on another process subscribes there to its own subject.
 */
export const HOME_LENGTH = 6;
/** 128 random bits after the home, base64url */
const SESSION_ID_LENGTH = HOME_LENGTH + 22;
const SID_RE = /^[A-Za-z0-9_-]{28}$/;
const HOME_RE = /^[A-Za-z0-9_-]{6}$/;

/** The session id in `s`, if `s` is one exactly as gateways make them. */
export function asSessionId(s: unknown): SessionId | undefined {
  return typeof s === "string" && s.length === SESSION_ID_LENGTH && SID_RE.test(s) ? (s as SessionId) : undefined;
}

export function isSessionId(s: unknown): s is SessionId {
  return asSessionId(s) !== undefined;
}

/** A new session id for a process whose home is `home`; `random`: 16 random bytes. */
export function makeSessionId(home: string, random: Uint8Array): SessionId {
  const sid = asSessionId(home + Buffer.from(random.buffer, random.byteOffset, 16).toString("base64url"));
  if (!sid || !HOME_RE.test(home)) throw new Error(`not a session id for home ${JSON.stringify(home)}`);
  return sid;
}

export const homeOf = (sid: SessionId): string => sid.slice(0, HOME_LENGTH);

export const subjects = {
  /** client frame → INBOX; workers filter nothing, the protocol rides in the subject for observability. */
  inbox: (proto: Protocol, sid: SessionId): string => `in.${proto}.${sid}`,
  inboxAll: "in.>",
  /** worker reply → HISTORY (stored), republished by the server to `live`. */
  history: (sid: SessionId): string => `hist.${homeOf(sid)}.${sid}`,
  historyAll: "hist.>",
  /** core subject of the session's live messages (RePublish maps hist.> to out.> token for token). */
  live: (sid: SessionId): string => `out.${homeOf(sid)}.${sid}`,
  liveAll: "out.>",
  /** every live subject of the sessions made by one gateway process */
  liveHome: (home: string): string => `out.${home}.*`,
  /** the session id a live subject names, if it names one */
  sidOfLive: (subject: string): SessionId | undefined => asSessionId(subject.slice(subject.lastIndexOf(".") + 1)),
  /** a session ended by its client (MCP `DELETE /mcp`): stored so every gateway refuses it from then on */
  ended: (sid: SessionId): string => `ended.${sid}`,
  endedAll: "ended.*",
  /** the session id an `ended` subject names, if it names one */
  sidOfEnded: (subject: string): SessionId | undefined => asSessionId(subject.slice("ended.".length)),
  /** the server's advisory for an INBOX message that ran out of deliveries. */
  maxDeliveriesAdvisory: (stream: string, consumer: string): string =>
    `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.${consumer}`,
} as const;

// ---- streams --------------------------------------------------------------
export const INBOX_STREAM = "INBOX";
export const HISTORY_STREAM = "HISTORY";
export const ENDED_STREAM = "ENDED";
export const WORKER_CONSUMER = "workers";
/** queue group in which exactly one worker answers a max-deliveries advisory. */
export const WORKER_QUEUE = "radiant-workers";

export const inboxPolicy = {
  /** a frame re-sent within this window with the same Nats-Msg-Id is stored once */
  duplicateWindowMs: 2 * 60_000,
  /** deliveries before a request is answered with an error and dropped */
  maxDeliver: 5,
  /** a worker holding a request longer than this without acking loses it to another */
  ackWaitMs: 30_000,
} as const;

export interface HistoryRetention {
  /** messages kept per session (per subject) */
  maxMsgsPerSession: number;
  /** how long a message is kept */
  maxAgeMs: number;
  /** cap on the whole stream, bytes */
  maxBytes: number;
}

export const defaultHistoryRetention: HistoryRetention = {
  maxMsgsPerSession: 10_000,
  maxAgeMs: 24 * 3600_000,
  maxBytes: 8 * 1024 ** 3,
};

/** The retention every process applies to HISTORY: set the same values on all of them. */
export const retentionVariables = {
  maxMsgsPerSession: "HISTORY_MAX_MSGS_PER_SESSION",
  maxAgeS: "HISTORY_MAX_AGE",
  maxBytes: "HISTORY_MAX_BYTES",
} as const;

// ---- headers --------------------------------------------------------------
export const headers = {
  /** JetStream's de-duplication id */
  msgId: "Nats-Msg-Id",
  /** set by RePublish: the message's HISTORY sequence = the client's seq_num */
  sequence: "Nats-Sequence",
  /** set by RePublish: the previous sequence stored on the same subject (session) */
  lastSequence: "Nats-Last-Sequence",
  /** ms since epoch when the gateway took the client frame in (for the ingress→egress histogram) */
  ingressTs: "Radiant-Ts",
  /** where in the reply bytes the gateway may splice MCP `_meta` (see MetaSlot) */
  metaSlot: "Radiant-Meta-At",
  /**
   * on a core (not stored) message to a live subject: a newer connection took
   * the session over; any other connection holding it closes (value: its id)
   */
  takeover: "Radiant-Takeover",
  /** on a core message to a live subject: the session was ended; every connection holding it closes */
  ended: "Radiant-Ended",
  /**
   * on a core message to a live subject: a client resumes, with a GET and this
   * Last-Event-ID, a stream it lost (MCP); an HTTP response still open for it is dead
   */
  resumedFrom: "Radiant-Resumed-From",
  /** on a reply that answers a JSON-RPC request: the request's id, as JSON (`1`, `"a"`) */
  responseTo: "Radiant-Response-To",
  /** on a message a handler sent while working on a request (progress, a stream chunk): that request's id, as JSON */
  relatedTo: "Radiant-Related-To",
} as const;

// ---- envelope: gateway → worker -------------------------------------------
/** What the gateway publishes to INBOX. `body` is the client's frame, untouched. */
export interface InboxEnvelope {
  v: 1;
  sid: SessionId;
  proto: Protocol;
  /** who the session belongs to (auth) */
  principal: string;
  /** ms since epoch at ingress */
  ts: number;
  body: Uint8Array;
}

// Maps with no shared records: every process decodes without prior state.
const packr = new Packr({ useRecords: false, moreTypes: false });

export function encodeInbox(env: InboxEnvelope): Uint8Array {
  return packr.pack(env);
}

export class EnvelopeError extends Error {}

export function decodeInbox(bytes: Uint8Array): InboxEnvelope {
  let v: unknown;
  try {
    v = packr.unpack(bytes);
  } catch (e) {
    throw new EnvelopeError(`inbox envelope is not msgpack: ${(e as Error).message}`);
  }
  const o = v as Partial<InboxEnvelope> | null;
  if (
    !o ||
    o.v !== 1 ||
    typeof o.sid !== "string" ||
    !isSessionId(o.sid) ||
    typeof o.proto !== "string" ||
    !isProtocol(o.proto) ||
    typeof o.principal !== "string" ||
    typeof o.ts !== "number" ||
    !(o.body instanceof Uint8Array)
  ) {
    throw new EnvelopeError("inbox envelope has missing or mistyped fields");
  }
  return o as InboxEnvelope;
}

// ---- replies: worker → HISTORY → gateway -----------------------------------
// A reply's body is the JSON frame as the client will see it, minus the
// session fields the gateway splices in. The gateway never parses it; for the
// `mcp` framing it may add `"_meta":{"radiant/seq_num":N}` at the byte offset
// the worker announced in the `Radiant-Meta-At` header:
//   "<n>"  → offset n is just inside the `{` of result/params: insert a `_meta` member
//   "<n>m" → offset n is just inside the `{` of an existing `_meta`: insert a key
export const META_SEQ_KEY = "radiant/seq_num";

export interface MetaSlot {
  offset: number;
  /** true when the offset is inside an existing `_meta` object */
  inMeta: boolean;
}

export function formatMetaSlot(slot: MetaSlot): string {
  return slot.inMeta ? `${slot.offset}m` : String(slot.offset);
}

export function parseMetaSlot(v: string): MetaSlot | undefined {
  if (v.length === 0) return undefined;
  const inMeta = v.charCodeAt(v.length - 1) === 109; /* m */
  const n = Number.parseInt(inMeta ? v.slice(0, -1) : v, 10);
  return Number.isFinite(n) && n > 0 ? { offset: n, inMeta } : undefined;
}

/**
 * A request's key within its session, made from its JSON-RPC id as sent (raw
 * JSON): always base64url, so a client's id — control characters, wildcards,
 * any length — never reaches a header or a subject as it came. Short ids are
 * encoded (the same id gives the same key: a re-sent request is found), long
 * ones hashed.
 */
export function requestKey(idJson: string): string {
  const raw = Buffer.from(idJson, "utf8");
  return raw.length <= 48 ? `i${raw.toString("base64url")}` : `h${createHash("sha256").update(raw).digest("base64url")}`;
}

/** The INBOX de-duplication id of a client request: a frame re-sent (after a reconnect) runs once. */
export function requestMsgId(sid: SessionId, idJson: string): string {
  return `${sid}:${requestKey(idJson)}`;
}

/** The reply id a worker uses for the idempotent HISTORY publish of reply #i to INBOX message `inboxSeq`. */
export function replyMsgId(sid: SessionId, inboxSeq: number, i: number): string {
  return `${sid}:r${inboxSeq}:${i}`;
}

// ---- close codes the gateway uses ------------------------------------------
export const closeCodes = {
  /** server going away (restart / deploy): reconnect and resume */
  serviceRestart: 1012,
  /** frame over the maximum payload */
  tooBig: 1009,
  /** a binary frame: the protocols here are JSON text */
  unsupportedData: 1003,
  /** HISTORY cannot be read right now: resume again shortly with the same token */
  tryAgainLater: 1013,
  /** the gateway hit a bug on this connection: reconnect and resume */
  internalError: 1011,
  /** a newer connection resumed this session */
  takenOver: 4001,
  /** the session was ended (MCP `DELETE`): it cannot be resumed */
  sessionEnded: 4002,
  /**
   * HISTORY dropped messages (retention) before this slow client read them:
   * the reason names the last seq_num it got; what followed is gone
   */
  historyLost: 4003,
} as const;

/** The close reason of `historyLost`: under the 123 bytes a close reason may have. */
export const historyLostReason = (afterSeq: number): string => `history lost: messages after seq_num ${afterSeq} expired before delivery`;
