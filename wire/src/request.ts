// Requests: the id the gateway gives every frame it takes in, and the ids
// derived from it. Replies name their request by this id (reply.ts), so an
// HTTP response gets its own replies whatever protocol it speaks — an LLM body
// has no id of its own.
import { createHash } from "node:crypto";
import type { SessionId } from "./session_id.js";

/**
 * A request id made from the client's JSON-RPC id (its JSON text, canonical:
 * see the gateway's peek.ts): the same id gives the same request id, so a
 * request re-sent after a reconnect is found (de-duplicated, its replies read
 * back). Always base64url: a client's id — control characters, wildcards, any
 * length — never reaches a header or a subject as it came. Short ids are
 * encoded, long ones hashed.
 */
export function requestKey(idJson: string): string {
  const raw = Buffer.from(idJson, "utf8");
  return raw.length <= 48 ? `i${raw.toString("base64url")}` : `h${createHash("sha256").update(raw).digest("base64url")}`;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: a string id with a raw control character is not simple
const SIMPLE_ID = /^(?:0|-?[1-9]\d{0,14}|"[^"\\\u0000-\u001f]*")$/;

/**
 * A JSON-RPC id's JSON text in one spelling, so that the gateway (which has
 * the id as the client sent it) and a worker (which has it parsed) make the
 * same request id: `1.0` and `1`, `"\u0041"` and `"A"` are the same id.
 * Most ids (small integers, strings without escapes) are already canonical.
 */
export function canonicalIdJson(idJson: string): string {
  if (SIMPLE_ID.test(idJson)) return idJson;
  try {
    return JSON.stringify(JSON.parse(idJson)) ?? idJson;
  } catch {
    return idJson;
  }
}

/** The request id of a JSON-RPC request whose id is `idJson` (as sent, or as JSON.stringify writes it). */
export const rpcRequestId = (idJson: string): string => requestKey(canonicalIdJson(idJson));

/**
 * Request ids for frames without a client id (an LLM body, a notification, a
 * batch): the process's home and a counter, unique across the fleet.
 */
export class RequestIds {
  private next = 0;
  constructor(private readonly home: string) {}
  make(): string {
    return `g${this.home}${(this.next++).toString(36)}`;
  }
}

const RID_RE = /^[ghi][A-Za-z0-9_-]{1,64}$/;
/** Whether a string from a header or a message is a request id as made here. */
export const isRequestId = (s: unknown): s is string => typeof s === "string" && RID_RE.test(s);

/** The INBOX de-duplication id of a client request: a frame re-sent (after a reconnect) runs once. */
export function requestMsgId(sid: SessionId, rid: string): string {
  return `${sid}:${rid}`;
}

/** The id of the idempotent HISTORY publish of reply message #i to INBOX message `inboxSeq`. */
export function replyMsgId(sid: SessionId, inboxSeq: number, i: number | "interrupted"): string {
  return `${replyMsgIdPrefix(sid, inboxSeq)}${i}`;
}

/** What the id of every reply message to INBOX message `inboxSeq` starts with. */
export function replyMsgIdPrefix(sid: SessionId, inboxSeq: number): string {
  return `${sid}:r${inboxSeq}:`;
}
