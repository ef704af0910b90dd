// Resume decisions: a client that dropped comes back to any gateway with its
// token and the last seq_num it saw, and gets everything it missed, then live
// (delivery.ts does the replay).
//
// At the upgrade (synchronously, see resume_token.ts) the token is checked: its
// signature, its expiry, and that it was issued to the principal connecting.
// After the socket opens, HISTORY says whether replay is possible: the same
// epoch, last_seq not beyond the end, nothing after last_seq expired. If not,
// the client is told why and gets a fresh session — never a partial replay.
import type { JetStreamManager } from "@nats-io/jetstream";
import { HISTORY_STREAM, type SessionId } from "@radiant/wire";
import type { HistoryReader } from "./delivery.js";
import { ResumeTokenError, type ResumeClaims } from "./resume_token.js";

/** What a socket becomes, decided at the upgrade. */
export type Prepared =
  | { kind: "fresh"; sid: SessionId; reason?: string }
  /** lastSeq "end": from whatever the session has stored when the stream opens (MCP's GET without Last-Event-ID) */
  | { kind: "resume"; sid: SessionId; lastSeq: number | "end"; epoch: string };

export function prepare(
  /** the claims of a token this client may resume with; throws ResumeTokenError saying why not */
  claimsOf: (token: string) => ResumeClaims,
  query: { resume?: string; lastSeq?: string },
  newSid: () => SessionId,
): Prepared {
  if (!query.resume) return { kind: "fresh", sid: newSid() };
  let claims: ResumeClaims;
  try {
    claims = claimsOf(query.resume);
  } catch (e) {
    if (!(e instanceof ResumeTokenError)) throw e;
    return { kind: "fresh", sid: newSid(), reason: e.message };
  }
  const lastSeq = query.lastSeq === undefined || query.lastSeq === "" ? 0 : Number(query.lastSeq);
  if (!Number.isSafeInteger(lastSeq) || lastSeq < 0) {
    return { kind: "fresh", sid: newSid(), reason: "last_seq must be a whole number >= 0" };
  }
  return { kind: "resume", sid: claims.sid, lastSeq, epoch: claims.epoch };
}

export interface HistoryState {
  /** changes when the HISTORY stream is recreated */
  epoch: string;
  lastSeq: number;
}

/** HISTORY's epoch and end, shared by the resumes of one moment (a reconnect storm asks once). */
export class HistoryStateCache {
  private cached: { at: number; state: Promise<HistoryState> } | undefined;
  /** the last epoch seen, for tokens issued synchronously */
  epoch = "";
  /** the newest HISTORY sequence seen */
  lastSeq = 0;

  constructor(
    private readonly jsm: JetStreamManager,
    private readonly maxAgeMs = 250,
  ) {}

  /** `fresh`: not from the cache (a client saw a seq newer than the cached end). */
  get(fresh = false): Promise<HistoryState> {
    const now = Date.now();
    if (fresh || !this.cached || now - this.cached.at > this.maxAgeMs) {
      const state = this.jsm.streams.info(HISTORY_STREAM).then((si) => {
        const s = { epoch: Date.parse(si.created).toString(36), lastSeq: si.state.last_seq };
        this.epoch = s.epoch;
        this.lastSeq = Math.max(this.lastSeq, s.lastSeq);
        return s;
      });
      state.catch(() => (this.cached = undefined));
      this.cached = { at: now, state };
    }
    return this.cached.state;
  }
}

/**
 * Why a resume cannot replay, or undefined when it can. Replay is complete
 * only if nothing after last_seq was dropped: HISTORY drops a session's
 * oldest messages first (age, per-session count), so while the message at
 * last_seq is still stored, everything after it is too.
 */
export async function refusal(
  p: { sid: SessionId; lastSeq: number; epoch: string },
  h: HistoryState,
  history: Pick<HistoryReader, "holds">,
): Promise<string | undefined> {
  if (p.epoch !== h.epoch) return "history was reset (epoch changed): old seq_nums mean nothing now";
  if (p.lastSeq > h.lastSeq) return "last_seq is beyond the end of history";
  if (p.lastSeq > 0 && !(await history.holds(p.sid, p.lastSeq))) return "history after last_seq has expired";
  return undefined;
}
