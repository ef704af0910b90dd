// Sessions held away from home. A session's live messages go to the gateway
// process that made it (its home is in its sid: out.{home}.{sid}), which takes
// all of them with one wildcard subscription. When a client resumes on another
// process, that process (the holder) asks the home to forward the session's
// live messages to it (fwd.{holder}.{sid}, one wildcard subscription per
// holder too) instead of subscribing per session: after a reconnect storm over
// P processes, P−1 sessions in P are away, and a subscription each would cost
// NATS and the gateway ~1–2 KB per session.
//
// Forwarding depends on the home being alive, so every gateway process says it
// is, once a second, on a subject of its own; a holder that stops hearing a
// home subscribes its sessions from that home on their own subjects (and reads
// HISTORY for what it may have missed). Core NATS throughout: nothing here is
// stored, a lost notice costs a HISTORY read, never a message.
import { isHome, isSessionId, type SessionId } from "./session_id.js";

/**
 * A holder asks a home to forward (hold) or to stop (release). A hold is a
 * request: answered once registered (an empty reply), or refused as STALE when
 * the home forwards the session for a newer claim already — holds from
 * different processes may arrive in any order (a starved process flushes late),
 * and the newest connection must win, not the last hold to arrive.
 */
export interface HoldNotice {
  op: "hold" | "release";
  sid: SessionId;
  /** the home id of the process holding the session */
  holder: string;
  /** when the holder took the session's connection (ms since the epoch, its clock): the newest claim wins */
  at: number;
}

/** a home's answer to a hold whose claim is older than the one it forwards for */
export const HOLD_STALE = "stale";

export function encodeHold(n: HoldNotice): Uint8Array {
  if (!isHome(n.holder)) throw new Error("a holder is a home id");
  if (!Number.isSafeInteger(n.at) || n.at < 0) throw new Error("a claim time is a whole number of ms");
  return Buffer.from(`${n.op} ${n.sid} ${n.holder} ${n.at}`);
}

/** A hold notice, if `data` is one exactly (it comes from NATS: anything else is ignored). */
export function decodeHold(data: Uint8Array): HoldNotice | undefined {
  if (data.length > 72) return undefined;
  const [op, sid, holder, at, ...rest] = Buffer.from(data.buffer, data.byteOffset, data.length).toString("latin1").split(" ");
  if (rest.length > 0 || (op !== "hold" && op !== "release") || !isSessionId(sid) || holder === undefined || !isHome(holder)) return undefined;
  if (at === undefined || !/^[0-9]{1,15}$/.test(at)) return undefined;
  return { op, sid, holder, at: Number(at) };
}

/** What a process says about itself on its alive subject. */
export type AliveState =
  /** once a second while it runs */
  | "up"
  /** its NATS link came back: what it forwarded meanwhile was lost on the way (holders read HISTORY) */
  | "back"
  /** it is stopping: it forwards nothing more */
  | "gone";

const ALIVE_STATES: ReadonlySet<string> = new Set<AliveState>(["up", "back", "gone"]);

export function decodeAlive(data: Uint8Array): AliveState | undefined {
  if (data.length > 8) return undefined;
  const s = Buffer.from(data.buffer, data.byteOffset, data.length).toString("latin1");
  return ALIVE_STATES.has(s) ? (s as AliveState) : undefined;
}

/** how often a process says it is alive */
export const ALIVE_INTERVAL_MS = 1000;
/** a home not heard for this long is taken for gone */
export const ALIVE_TIMEOUT_MS = 3500;
