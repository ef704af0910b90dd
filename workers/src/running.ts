// The requests this worker runs right now, by session: where cancellation
// notices find them. Sources: a cancel notice on cancel.{sid} (MCP
// notifications/cancelled, or the gateway's "client gone"), ended.{sid} (the
// session was ended), the worker stopping, the handler timeout (run.ts).
//
// A notice can overtake its request (the request waits for a free slot here, or
// another worker took the cancel first), so notices are remembered for a while
// and a request that starts after its notice is stopped at once.
import type { MsgHdrs } from "@nats-io/nats-core";
import { readControl, subjects, type CancelReason, type SessionId } from "@radiant/wire";

export interface Abortable {
  readonly sid: SessionId;
  readonly rid: string;
  abort(reason: CancelReason): void;
  /** the INBOX message's stream sequence (the same in each of its deliveries) */
  readonly inboxSeq: number;
  /** its handler runs (a redelivery watching an earlier one does not) */
  readonly producing: boolean;
  /** where Running keeps it (-1: not kept); written by Running alone */
  runningSlot: number;
}

/** Keys remembered for `ttlMs`, at most `max` of them (the oldest go first). */
export class Recent<V> {
  private readonly m = new Map<string, { v: V; until: number }>();
  constructor(
    private readonly ttlMs: number,
    private readonly max: number,
    private readonly now: () => number = Date.now,
  ) {}

  set(k: string, v: V): void {
    this.m.delete(k);
    this.m.set(k, { v, until: this.now() + this.ttlMs });
    if (this.m.size > this.max) this.m.delete(this.m.keys().next().value!);
  }

  get(k: string): V | undefined {
    const e = this.m.get(k);
    if (!e) return undefined;
    if (e.until < this.now()) {
      this.m.delete(k);
      return undefined;
    }
    return e.v;
  }

  get size(): number {
    return this.m.size;
  }
}

export const CANCEL_MEMORY_MS = 60_000;
export const ENDED_MEMORY_MS = 10 * 60_000;

export class Running<R extends Abortable = Abortable> {
  /**
   * At most the worker's concurrency: a notice looks through all of them. Slots
   * in an array, not a Set: a Set that takes and drops an entry per request
   * leaves a trail of old tables that V8 keeps alive, and every request's
   * objects with them (young-generation survivors 2 MB per collection).
   */
  private readonly runs: (R | undefined)[] = [];
  private readonly free: number[] = [];
  private count = 0;
  private readonly cancels: Recent<CancelReason>;
  private readonly ended: Recent<true>;

  constructor(now: () => number = Date.now) {
    this.cancels = new Recent(CANCEL_MEMORY_MS, 10_000, now);
    this.ended = new Recent(ENDED_MEMORY_MS, 10_000, now);
  }

  get size(): number {
    return this.count;
  }

  /** Track a request; one whose cancel notice (or session end) came first is stopped at once. */
  add(r: R): void {
    if (r.runningSlot >= 0) return;
    const slot = this.free.pop() ?? this.runs.length;
    this.runs[slot] = r;
    r.runningSlot = slot;
    this.count++;
    // (most of the time nothing is remembered: no key is made then)
    if (this.ended.size > 0 && this.ended.get(r.sid)) r.abort("session ended");
    else if (this.cancels.size > 0) {
      const reason = this.cancels.get(`${r.sid} ${r.rid}`);
      if (reason) r.abort(reason);
    }
  }

  delete(r: R): void {
    const slot = r.runningSlot;
    if (slot < 0 || this.runs[slot] !== r) return;
    this.runs[slot] = undefined;
    this.free.push(slot);
    r.runningSlot = -1;
    this.count--;
  }

  /** Stop the session's request `rid`, here and (remembered) if it starts later. Returns how many were running here. */
  cancel(sid: SessionId, rid: string, reason: CancelReason): number {
    this.cancels.set(`${sid} ${rid}`, reason);
    let n = 0;
    for (const r of this.all()) {
      if (r.sid !== sid || r.rid !== rid) continue;
      r.abort(reason);
      n++;
    }
    return n;
  }

  /** Stop every request of an ended session. */
  endSession(sid: SessionId): number {
    this.ended.set(sid, true);
    let n = 0;
    for (const r of this.all()) {
      if (r.sid !== sid) continue;
      r.abort("session ended");
      n++;
    }
    return n;
  }

  /** Whether a delivery of INBOX message `seq` (session `sid`) runs its handler here. */
  producing(sid: SessionId, seq: number): boolean {
    for (const r of this.all()) if (r.inboxSeq === seq && r.producing && r.sid === sid) return true;
    return false;
  }

  /** every running request */
  *all(): IterableIterator<R> {
    for (const r of this.runs) if (r !== undefined) yield r;
  }

  abortAll(reason: CancelReason): void {
    for (const r of this.all()) r.abort(reason);
  }

  /** A message on cancel.{sid}: a cancel notice (control.ts). Anything else is ignored. */
  onCancelNotice(subject: string, h: MsgHdrs | undefined): { sid: SessionId; rid: string; reason: CancelReason; running: number } | undefined {
    const sid = subjects.sidOfCancel(subject);
    const c = readControl(h);
    if (!sid || c?.kind !== "cancel") return undefined;
    return { sid, rid: c.rid, reason: c.reason, running: this.cancel(sid, c.rid, c.reason) };
  }

  /** A message on ended.{sid} (stored by the gateway in ENDED, seen here as a core message). */
  onEnded(subject: string): { sid: SessionId; running: number } | undefined {
    const sid = subjects.sidOfEnded(subject);
    if (!sid) return undefined;
    return { sid, running: this.endSession(sid) };
  }
}
