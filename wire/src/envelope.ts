// The INBOX envelope: what the gateway publishes for every client frame it
// takes in. msgpack maps (no shared records: every process decodes without
// prior state); the client's frame travels inside as bytes, untouched.
import { Packr } from "msgpackr";
import { isModelList, isPrincipal, KEY_ID_RE } from "./principal.js";
import { isOperation, isProtocol, type Operation, type Protocol } from "./protocol.js";
import { isRequestId } from "./request.js";
import { isSessionId, type SessionId } from "./session_id.js";

export interface InboxEnvelope {
  /** 2: with a request id and an operation (1, before them, is refused) */
  v: 2;
  sid: SessionId;
  proto: Protocol;
  /** what the worker dispatches on, with `proto` */
  op: Operation;
  /** the request's id: every reply names it (reply.ts) */
  rid: string;
  /** who the session belongs to: a verified credential's principal, or ANONYMOUS (principal.ts) */
  principal: string;
  /** the principal's tenant, when its credential names one */
  tenant?: string;
  /** the gateway API key the request came with (its id): usage is counted against it */
  key?: string;
  /** the models that key allows (a name, or a prefix ending in `*`); absent: any */
  models?: string[];
  /** ms since epoch at ingress */
  ts: number;
  body: Uint8Array;
  /** what the URL named beside the protocol: an A2A agent (`/a2a/<name>`) */
  target?: string;
}

/** a target: what may name an agent (a letter, then letters, digits, `-`) */
export const TARGET_RE = /^[A-Za-z][A-Za-z0-9-]{0,31}$/;

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
    o?.v !== 2 ||
    !isSessionId(o.sid) ||
    !isProtocol(o.proto) ||
    !isOperation(o.proto, o.op) ||
    !isRequestId(o.rid) ||
    !isPrincipal(o.principal) ||
    (o.tenant !== undefined && !isPrincipal(o.tenant)) ||
    (o.key !== undefined && !(typeof o.key === "string" && KEY_ID_RE.test(o.key))) ||
    (o.models !== undefined && !isModelList(o.models)) ||
    typeof o.ts !== "number" ||
    !(o.body instanceof Uint8Array) ||
    (o.target !== undefined && !(typeof o.target === "string" && TARGET_RE.test(o.target)))
  ) {
    throw new EnvelopeError("inbox envelope has missing or mistyped fields");
  }
  return o as InboxEnvelope;
}
