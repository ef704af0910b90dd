// NATS → socket. One core subscription per session on its live subject; each
// republished HISTORY message goes to the socket with its seq_num spliced in.
//
// Order and gaps: RePublish stamps every message with the previous sequence
// stored for the same session (Nats-Last-Sequence). A message whose previous
// is the last one we delivered goes out at once. Otherwise one went missing
// on the live path — republished out of order (seen on nats-server 2.9 with
// several workers publishing) or lost with a reconnect. The early one waits a
// moment for the missing one; if it does not come, the gap is read back from
// HISTORY. Either way the client sees every message once, in order.
import type { Msg, MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import { closeCodes, headers, parseMetaSlot, subjects } from "@radiant/infra/wire";
import { liveFrame } from "./frames.js";
import type { History } from "./history.js";
import { metrics } from "./metrics.js";
import type { Session } from "./session.js";

export interface EgressOptions {
  maxBackpressure: number;
  history: History;
  /** how long an early message waits for a missing one before HISTORY is read */
  gapWaitMs: number;
  /** early messages held per session before the gap is repaired at once */
  maxHeld: number;
}

export class Egress {
  constructor(
    private readonly nc: NatsConnection,
    private readonly o: EgressOptions,
  ) {}

  subscribe(s: Session): void {
    s.live = this.nc.subscribe(subjects.live(s.sid), {
      callback: (err, msg) => {
        if (!err) this.onLive(s, msg);
      },
    });
  }

  unsubscribe(s: Session): void {
    s.live?.unsubscribe();
    s.live = undefined;
    if (s.gapTimer) clearTimeout(s.gapTimer);
    s.held = undefined;
  }

  private onLive(s: Session, msg: Msg): void {
    if (s.closed) return;
    const h = msg.headers;
    const seq = Number(h?.get(headers.sequence));
    if (!(seq > s.lastSeq)) return; // delivered already (replay overlap, or a repeat)
    const prev = Number(h!.get(headers.lastSequence) || 0);
    if (prev <= s.lastSeq && !s.repairing) {
      this.emit(s, seq, msg.data, h);
      if (s.held) this.releaseHeld(s);
      return;
    }
    (s.held ??= new Map()).set(prev, { seq, data: msg.data, headers: h });
    if (s.held.size >= this.o.maxHeld) void this.repair(s);
    else s.gapTimer ??= setTimeout(() => void this.repair(s), this.o.gapWaitMs);
  }

  /** Deliver held messages that now follow on. */
  private releaseHeld(s: Session): void {
    const held = s.held!;
    for (let m = held.get(s.lastSeq); m; m = held.get(s.lastSeq)) {
      held.delete(s.lastSeq);
      if (m.seq > s.lastSeq) this.emit(s, m.seq, m.data, m.headers);
    }
    // anything at or below what we delivered is a duplicate
    for (const [prev, m] of held) if (m.seq <= s.lastSeq) held.delete(prev);
    if (held.size === 0) {
      s.held = undefined;
      if (s.gapTimer) clearTimeout(s.gapTimer);
      s.gapTimer = undefined;
    }
  }

  /** Read the gap from HISTORY: everything after lastSeq up to the first held message. */
  private async repair(s: Session): Promise<void> {
    if (s.gapTimer) clearTimeout(s.gapTimer);
    s.gapTimer = undefined;
    if (s.repairing || s.closed || !s.held) return;
    s.repairing = true;
    try {
      const upTo = Math.min(...[...s.held.values()].map((m) => m.seq));
      while (!s.closed && s.lastSeq < upTo) {
        const m = await this.o.history.next(s.sid, s.lastSeq);
        if (!m || m.seq >= upTo) break;
        metrics.gapRepairs.inc();
        this.emit(s, m.seq, m.data, m.headers);
      }
      if (s.closed) return;
      // the first held message now follows on, whatever its recorded previous
      const first = [...s.held.entries()].find(([, m]) => m.seq === upTo);
      if (first && s.lastSeq < upTo) {
        s.held.delete(first[0]);
        this.emit(s, first[1].seq, first[1].data, first[1].headers);
      }
    } catch {
      // HISTORY unreachable right now: try again shortly
    } finally {
      s.repairing = false;
    }
    if (!s.closed && s.held) {
      this.releaseHeld(s);
      if (s.held) s.gapTimer = setTimeout(() => void this.repair(s), this.o.gapWaitMs);
    }
  }

  /** Write one stored message to the client (hot path). */
  private emit(s: Session, seq: number, data: Uint8Array, h: MsgHdrs | undefined): void {
    if (s.closed) return;
    if (s.transport.bufferedAmount() > this.o.maxBackpressure) {
      // Never a silent drop: the message is in HISTORY, the client resumes from lastSeq.
      s.transport.close(closeCodes.resumeRequired, "slow consumer: reconnect and resume");
      return;
    }
    const slot = s.framing === "mcp" && h ? parseMetaSlot(h.get(headers.metaSlot)) : undefined;
    s.transport.send(liveFrame(s.framing, seq, s.tokenBytes, data, slot));
    s.lastSeq = seq;
    metrics.messagesOut.inc();
    const ts = h ? Number(h.get(headers.ingressTs)) : 0;
    if (ts > 0) metrics.ingressToEgress.observe((Date.now() - ts) / 1000);
  }
}
