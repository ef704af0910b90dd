// Control notices: core NATS messages (never stored) that tell every process
// holding a session or running one of its requests about it.
// - On a session's live subject (between gateway processes):
//   takeover (a newer connection resumed the session elsewhere: whoever else
//   delivers it lets go), ended (its client ended it: close), resumed-from (a
//   client resumes, on a GET with this Last-Event-ID, a stream it lost: an HTTP
//   response still open for that stream is dead).
// - On a session's cancel subject (gateway or worker → workers): stop one
//   request wherever it runs.
// A stored message and a notice are told apart by the notice's header.
import type { MsgHdrs } from "@nats-io/nats-core";
import { headerOf, headers, newHeaders, putHeader } from "./headers.js";
import { isRequestId } from "./request.js";

export type Control =
  | { kind: "takeover"; by: string }
  | { kind: "ended" }
  | { kind: "resumedFrom"; eventId: number }
  | { kind: "cancel"; rid: string; reason: CancelReason };

/** Why a request is stopped (workers log it; a handler sees it as its AbortSignal's reason). */
export const CANCEL_REASONS = ["cancelled by the client", "client gone", "session ended", "worker stopping", "timed out"] as const;
export type CancelReason = (typeof CANCEL_REASONS)[number];
/** Reasons after which the request is over as far as its client is concerned (the others — a worker stopping, a timeout — run it again elsewhere). */
export const CLIENT_SIDE_REASONS: ReadonlySet<CancelReason> = new Set<CancelReason>(["cancelled by the client", "client gone", "session ended"]);
/** a reason's word on the wire: stable, whatever is added to the list later */
const REASON_CODES: Record<CancelReason, string> = {
  "cancelled by the client": "client",
  "client gone": "gone",
  "session ended": "ended",
  "worker stopping": "stopping",
  "timed out": "timeout",
};
const REASON_OF = new Map(Object.entries(REASON_CODES).map(([r, c]) => [c, r as CancelReason]));

const CONN_RE = /^[A-Za-z0-9_-]{1,32}$/;

export function controlHeaders(c: Control): MsgHdrs {
  const h = newHeaders();
  let v: string;
  switch (c.kind) {
    case "takeover":
      if (!CONN_RE.test(c.by)) throw new Error("a connection id is base64url");
      v = `takeover ${c.by}`;
      break;
    case "ended":
      v = "ended";
      break;
    case "resumedFrom":
      v = `resumed-from ${Math.trunc(c.eventId)}`;
      break;
    case "cancel":
      if (!isRequestId(c.rid)) throw new Error("not a request id");
      v = `cancel ${c.rid} ${REASON_CODES[c.reason]}`;
      break;
  }
  putHeader(h, headers.control, v);
  return h;
}

/** The notice a message carries, if it is one (and well formed). */
export function readControl(h: MsgHdrs | undefined): Control | undefined {
  const v = headerOf(h, headers.control);
  if (!v) return undefined;
  const [kind, a, b] = v.split(" ");
  switch (kind) {
    case "takeover":
      return a !== undefined && CONN_RE.test(a) ? { kind, by: a } : undefined;
    case "ended":
      return { kind };
    case "resumed-from": {
      const eventId = Number(a);
      return Number.isSafeInteger(eventId) && eventId >= 0 ? { kind: "resumedFrom", eventId } : undefined;
    }
    case "cancel": {
      const reason = b === undefined ? undefined : REASON_OF.get(b);
      return isRequestId(a) && reason !== undefined ? { kind, rid: a, reason } : undefined;
    }
    default:
      return undefined;
  }
}
