// NATS → socket. Each republished HISTORY message goes to its session's socket
// with its seq_num spliced in. The live messages of every session this process
// made come through one wildcard subscription (out.{home}.*, wire.ts); a
// session resumed here from another process has a subscription of its own.
//
// Everything a client receives is in HISTORY, so one routine — catchUp, "read
// HISTORY after the last seq delivered until there is nothing more" — serves
// three cases:
// - a gap on the live path. RePublish stamps each message with the previous
//   sequence stored for the session (Nats-Last-Sequence). A message whose
//   previous is not the last one delivered arrived early (RePublish can reorder
//   when several workers publish) or one before it was lost (a reconnect). It
//   waits a moment for the missing one, then HISTORY is read.
// - a slow client. Past the backpressure bound nothing more is written and
//   live messages are not kept (they are stored); when the socket drains,
//   catchUp resumes from the last seq delivered. Never a silent drop.
// - a resume (reconnect.ts): replay after the client's last_seq, then live.
// While catchUp runs, live messages are held, so the seam has no gap and no
// duplicate.
import type { Msg, MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import { randomBytes } from "node:crypto";
import { closeCodes, headers, historyLostReason, HOME_LENGTH, homeOf, parseMetaSlot, subjects, type SessionId } from "@radiant/infra/wire";
import { liveFrame } from "./frames.js";
import type { History, StoredReply } from "./history.js";
import { metrics } from "./metrics.js";
import type { Session } from "./session.js";

/** messages read one direct get at a time before a catch-up switches to batched reads */
const BULK_AFTER = 32;

export interface EgressOptions {
  maxBackpressure: number;
  history: History;
  /** how long an early message waits for a missing one before HISTORY is read */
  gapWaitMs: number;
  /** live messages held per session while catching up; past it they are left to HISTORY */
  maxHeld: number;
  /** a newer connection elsewhere took the session over */
  onTakenOver: (s: Session) => void;
}

export class Egress {
  /** this process's id: the first characters of every session id it makes (wire.ts, homeOf) */
  readonly home = randomBytes(6).toString("base64url").slice(0, HOME_LENGTH);
  /** the sessions made here and held here: one wildcard subscription feeds them all */
  private readonly atHome = new Map<SessionId, Session>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly o: EgressOptions,
  ) {
    nc.subscribe(subjects.liveHome(this.home), {
      callback: (err, msg) => {
        const sid = err ? undefined : subjects.sidOfLive(msg.subject);
        const s = sid && this.atHome.get(sid);
        if (s) this.onLive(s, msg);
      },
    });
  }

  /** sessions fed by the home subscription */
  get homeSessions(): number {
    return this.atHome.size;
  }
  /** sessions away from home, each with a NATS subscription of its own */
  away = 0;

  /**
   * Take the session's live messages: through the home subscription, or (a
   * session made by another process) a subscription of its own. `confirmed`:
   * resolve only once the server has it (a resume reads HISTORY after that
   * point). A fresh session needs no round trip: its client's requests go out
   * on the same connection after the SUB, so their replies cannot miss it.
   */
  async subscribe(s: Session, confirmed = false): Promise<void> {
    if (homeOf(s.sid) === this.home) {
      this.atHome.set(s.sid, s);
      return;
    }
    this.away++;
    s.live = this.nc.subscribe(subjects.live(s.sid), {
      callback: (err, msg) => {
        if (!err) this.onLive(s, msg);
      },
    });
    if (confirmed) await this.nc.flush().catch(() => {});
  }

  unsubscribe(s: Session): void {
    if (this.atHome.get(s.sid) === s) this.atHome.delete(s.sid);
    if (s.live) this.away--;
    s.live?.unsubscribe();
    s.live = undefined;
    if (s.gapTimer) clearTimeout(s.gapTimer);
    s.gapTimer = undefined;
    s.held = undefined;
  }

  private onLive(s: Session, msg: Msg): void {
    if (s.closed) return;
    const h = msg.headers;
    const seq = Number(h?.get(headers.sequence));
    if (Number.isNaN(seq)) return this.onControl(s, h);
    if (s.lagging || !(seq > s.lastSeq)) return; // lagging: it is stored, catchUp reads it; or delivered already
    const prev = Number(h!.get(headers.lastSequence) || 0);
    if (prev <= s.lastSeq && !s.catchingUp) {
      this.emit(s, seq, msg.data, h);
      if (s.held) this.releaseHeld(s);
      return;
    }
    const held = (s.held ??= new Map());
    if (held.size >= this.o.maxHeld) {
      // too much to hold: let HISTORY have it
      s.held = undefined;
      s.lagging = true;
      if (!s.catchingUp) void this.catchUp(s);
      return;
    }
    held.set(prev, { seq, data: msg.data, headers: h });
    if (!s.catchingUp) s.gapTimer ??= setTimeout(() => void this.catchUp(s), this.o.gapWaitMs);
  }

  /** A message on the live subject that is not from HISTORY: a takeover or end notice. */
  private onControl(s: Session, h: MsgHdrs | undefined): void {
    if (h?.has(headers.ended)) return s.transport.close(closeCodes.sessionEnded, "the session was ended by its client");
    const by = h?.get(headers.takeover);
    if (by && by !== s.connId) this.o.onTakenOver(s);
  }

  /** Deliver held messages that follow on; a gap that remains is read from HISTORY shortly. */
  private releaseHeld(s: Session): void {
    const held = s.held;
    if (!held) return;
    for (let m = held.get(s.lastSeq); m && !s.lagging; m = held.get(s.lastSeq)) {
      held.delete(s.lastSeq);
      if (m.seq > s.lastSeq) this.emit(s, m.seq, m.data, m.headers);
    }
    for (const [prev, m] of held) if (m.seq <= s.lastSeq) held.delete(prev);
    if (held.size === 0 || s.lagging) {
      s.held = undefined;
      if (s.gapTimer) clearTimeout(s.gapTimer);
      s.gapTimer = undefined;
    } else {
      s.gapTimer ??= setTimeout(() => void this.catchUp(s), this.o.gapWaitMs);
    }
  }

  /** The socket drained below its bound: a lagging session catches up. */
  onDrain(s: Session): void {
    if (s.lagging && !s.catchingUp && s.transport.bufferedAmount() <= this.o.maxBackpressure / 2) void this.catchUp(s);
  }

  /**
   * Read HISTORY after lastSeq until nothing is left (or the socket is full
   * again), then release what was held meanwhile. Resolves when done.
   */
  async catchUp(s: Session): Promise<void> {
    if (s.gapTimer) clearTimeout(s.gapTimer);
    s.gapTimer = undefined;
    if (s.catchingUp || s.closed) return;
    s.catchingUp = true;
    // from here live messages are held, not ignored: none can slip between the last read and live
    s.lagging = false;
    let failed = false;
    let read = 0;
    try {
      while (!s.closed) {
        if (read === BULK_AFTER) {
          // a long way behind (a resume, a slow client): read in batches from here
          for await (const batch of this.o.history.batches(s.sid, s.lastSeq)) {
            if (!(await this.unbroken(s))) return;
            for (const m of batch) if (s.closed || !this.fromHistory(s, m)) return;
          }
          read++; // once per catch-up; direct gets see to the rest
        }
        const m = await this.o.history.next(s.sid, s.lastSeq);
        if (!m) {
          // live messages overflowed the hold meanwhile and were let go: they are stored, read on
          if (!s.lagging) break;
          s.lagging = false;
          continue;
        }
        if (!(await this.unbroken(s)) || s.closed || !this.fromHistory(s, m)) return;
        read++;
      }
    } catch {
      failed = true; // HISTORY unreachable right now
    } finally {
      s.catchingUp = false;
    }
    if (s.closed) return;
    if (failed) {
      s.gapTimer = setTimeout(() => void this.catchUp(s), 250);
      return;
    }
    this.releaseHeld(s);
  }

  /**
   * Whether what was just read from HISTORY follows on from the last message
   * delivered. HISTORY drops a session's oldest messages first, so if that
   * message is still stored now, nothing after it had been dropped when the
   * read ran. If it is gone, the client fell so far behind that retention
   * took messages it never got: it is told (closed with the last seq it has),
   * never handed the rest as if nothing were missing.
   */
  private async unbroken(s: Session): Promise<boolean> {
    if (s.lastSeq === 0 || (await this.o.history.holds(s.sid, s.lastSeq))) return true;
    if (!s.closed) {
      metrics.historyLost.inc();
      s.transport.close(closeCodes.historyLost, historyLostReason(s.lastSeq));
    }
    return false;
  }

  /**
   * Past the backpressure bound: stop writing, keep nothing (it is all in
   * HISTORY), and let the socket's drain bring catchUp back from lastSeq.
   */
  private overBound(s: Session): boolean {
    if (s.transport.bufferedAmount() <= this.o.maxBackpressure) return false;
    if (!s.lagging) metrics.slowConsumerPauses.inc();
    s.lagging = true;
    s.held = undefined;
    return true;
  }

  /** A message read back from HISTORY; false when the socket is full (stop reading: onDrain brings us back). */
  private fromHistory(s: Session, m: StoredReply): boolean {
    if (m.seq <= s.lastSeq) return true;
    if (!this.emit(s, m.seq, m.data, m.headers)) return false;
    metrics.historyReads.inc();
    return true;
  }

  /** Write one stored message to the client (hot path); false if it was not written. */
  private emit(s: Session, seq: number, data: Uint8Array, h: MsgHdrs | undefined): boolean {
    if (s.closed || this.overBound(s)) return false;
    s.lastSeq = seq;
    if (s.transport.wants && !s.transport.wants(h)) return true; // another stream's (MCP HTTP): passed over
    const slot = s.framing === "mcp" && h ? parseMetaSlot(h.get(headers.metaSlot)) : undefined;
    s.transport.send(liveFrame(s.framing, seq, s.tokenBytes, data, slot), seq);
    metrics.messagesOut.inc();
    const ts = h ? Number(h.get(headers.ingressTs)) : 0;
    if (ts > 0) metrics.ingressToEgress.observe((Date.now() - ts) / 1000);
    return true;
  }
}
