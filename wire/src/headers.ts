import { MsgHdrsImpl, type MsgHdrs } from "@nats-io/nats-core";
// Every NATS header the gateway, the workers and NATS itself put on our
// messages, spelled once.
export const headers = {
  /** JetStream's de-duplication id */
  msgId: "Nats-Msg-Id",
  /** set by RePublish: the message's HISTORY sequence = the client's seq_num */
  sequence: "Nats-Sequence",
  /** set by RePublish: the previous sequence stored on the same subject (session) */
  lastSequence: "Nats-Last-Sequence",
  /** ms since epoch when the gateway took the client frame in (for the ingress→egress histogram) */
  ingressTs: "Radiant-Ts",
  /** on a stored reply: the request (its gateway-made id) it belongs to (reply.ts) */
  request: "Radiant-Request",
  /** on a stored reply: the last message of its request's reply */
  end: "Radiant-End",
  /** on a stored reply: the frames its body holds (reply.ts); absent: one plain frame */
  frames: "Radiant-Frames",
  /** on the first stored message of a reply to a plain HTTP request: its status and body kind (reply.ts) */
  response: "Radiant-Response",
  /** on a core message to a live subject: a control notice, not a stored message (control.ts) */
  control: "Radiant-Control",
} as const;

/** One of our header names (already in canonical MIME form). */
export type HeaderName = (typeof headers)[keyof typeof headers];

const CR_LF = /[\r\n]/;

/**
 * Headers for a message we publish. nats.js's own set() and get() canonicalise
 * the name and search every key on each call (several hundred bytes of garbage
 * per header; a reply takes five on the way out and seven on the way in):
 * our names are canonical already, so these go straight to the map.
 */
export function newHeaders(): MsgHdrs {
  return new MsgHdrsImpl();
}

/** Set one of our headers. Throws on a value with CR or LF (it would end the header block). */
export function putHeader(h: MsgHdrs, name: HeaderName, value: string): void {
  if (CR_LF.test(value)) throw new Error(`${name}: a header value cannot hold CR or LF`);
  if (h instanceof MsgHdrsImpl) h.headers.set(name, [value]);
  else h.set(name, value);
}

/** The value of one of our headers on a message ("" when absent, as nats.js's get()). */
export function headerOf(h: MsgHdrs | undefined, name: HeaderName): string {
  if (h === undefined) return "";
  if (h instanceof MsgHdrsImpl) return h.headers.get(name)?.[0] ?? "";
  return h.get(name);
}
