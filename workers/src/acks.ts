// INBOX acks of one event-loop turn, written together. nats.js writes what was
// queued once per microtask turn, and every request's run ends in a turn of its
// own: an ack each was a system call each (the throughput profile). An ack
// waits at most until the end of the turn; JetStream only needs it before the
// ack wait runs out.
import type { JsMsg } from "@nats-io/jetstream";

export class AckBatch {
  private pending: JsMsg[] = [];
  private scheduled = false;

  ack(m: JsMsg): void {
    this.pending.push(m);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flush);
  }

  /** Every ack asked for so far goes out now (also when the worker stops). */
  readonly flush = (): void => {
    this.scheduled = false;
    const p = this.pending;
    if (p.length === 0) return;
    this.pending = [];
    for (const m of p) m.ack();
  };
}
