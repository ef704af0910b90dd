// The ReplyWriter: how one request's replies become HISTORY messages.
//
// - A reply is published at once when nothing is pending (the first frame of
//   an answer, or a lone response, waits for nobody); that opens a coalescing
//   window of `coalesceMs`. Replies that come while it is open are gathered and
//   published together as ONE message when it ends (and the window opens
//   again), or earlier when the batch reaches `maxBatchBytes` / `maxBatchFrames`,
//   or when a reply marked `last` arrives. A window that ends with nothing
//   gathered closes: the next reply goes at once again.
// - Publishes are pipelined: none waits for the one before (the publisher keeps
//   their order); `settled()` waits for all of them.
// - End: the message holding a reply marked `last`, or the pending batch when
//   the handler finishes (`finish`); if everything was already published without
//   End, one empty End marker (frames "none").
// - Message ids: `replyMsgId(sid, inboxSeq, i)`, i counting this request's
//   messages; the message that says the answer was interrupted uses "interrupted".
// - A publish that fails for a reason that passes (NATS restarting, a link
//   down, an ack that never came) does not end the answer: once everything in
//   flight has settled, the messages not acked are published again, one at a
//   time and in order, until they are stored or `retryMs` runs out; what the
//   handler produces meanwhile waits behind them, and nothing is handed to
//   NATS while the link is down (`gate`). Safe to repeat: what one connection
//   sent is stored as a prefix of it, and the message ids de-duplicate what
//   was stored already. If a later message was stored while an earlier one
//   was lost, no retry can mend the order: the answer fails (the caller ends
//   it as interrupted) — never out of order, never twice.
import type { MsgHdrs } from "@nats-io/nats-core";
import { MAX_FRAMES, replyHeaders, replyMsgId, subjects, type FrameInfo, type SessionId } from "@radiant/wire";
import type { Reply } from "./reply.js";

/** A JetStream publish that resolves on the stream's ack. Calls are sent in the order they are made (AckedPublisher does). */
export interface ReplyPublisher {
  publish(subject: string, data: Uint8Array, msgId: string, h: MsgHdrs): Promise<unknown>;
}

/** Timers, so tests can drive windows and timeouts themselves. */
export interface Timers {
  setTimeout(f: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (f, ms) => setTimeout(f, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** A batch is published early once it holds this many bytes. */
export const MAX_BATCH_BYTES = 256 * 1024;
/** …or this many frames: the most one stored message may hold (the contract's MAX_FRAMES: a frame's position is seq × MAX_FRAMES + index). */
export const MAX_BATCH_FRAMES = MAX_FRAMES;
/** Bytes published and not yet acked past which the producer is made to wait (`backpressure`). */
export const HIGH_WATER_BYTES = 8 * 1024 * 1024;
/** message indices of the leading parts of an over-long interrupted error: far past any answer's own */
const FINAL_PART_INDEX = 1_000_000_000;

export interface WriterOptions {
  sid: SessionId;
  rid: string;
  /** the INBOX message's stream sequence (reply message ids are made from it) */
  inboxSeq: number;
  /** the envelope's ts: every reply carries it for the ingress→egress histogram */
  ingressTs: number;
  /** 0: every reply is its own message */
  coalesceMs: number;
  maxBatchBytes?: number;
  maxBatchFrames?: number;
  highWaterBytes?: number;
  timers?: Timers;
  /** the first publish that failed for good (the caller stops producing) */
  onFailure?: (e: unknown) => void;
  /** how long publishes that failed for a passing reason are tried again; 0: not at all */
  retryMs?: number;
  /** whether the NATS link is up now, and a wait until it is: nothing is published while it is down */
  gate?: LinkGate;
}

/** The NATS link's state, as writers need it. */
export interface LinkGate {
  readonly open: boolean;
  /**
   * times the link has gone down so far: a publish made before the last time
   * may have been lost with that connection while one made after it is stored
   */
  readonly epoch: number;
  /** resolves once the link is up (at once if it is) */
  wait(): Promise<void>;
}

/** A message handed to the publisher, and what waits for its ack. */
interface Out {
  body: Uint8Array;
  msgId: string;
  h: MsgHdrs;
  /** who waits for this one's outcome (publishFinal) */
  done: ((ok: boolean) => void) | undefined;
}

/** Whether a publish failure may pass (worth trying again), as AckedPublisher marks it. */
const passing = (e: unknown): boolean => (e as { transient?: unknown })?.transient === true;

const EVENT_RE = /^[A-Za-z0-9_.-]{1,64}$/;

export class ReplyWriter {
  /** messages handed to the publisher */
  published = 0;
  /** messages the stream acked */
  acked = 0;
  /** the first publish failure, if any: nothing more is published for the answer after it */
  failed: unknown = undefined;
  /** a message with End was handed to the publisher: the answer is complete */
  ended = false;
  private closed = false;
  private nextIndex = 0;
  private pending: Reply[] = [];
  private pendingBytes = 0;
  private window: unknown = undefined;
  /** messages handed over and not done with (stored or given up) */
  private unsettled = 0;
  private readonly idle: (() => void)[] = [];
  private inflightBytes = 0;
  private drained: (() => void) | undefined;
  /** publishing again what failed for a passing reason: new messages wait in `backlog` meanwhile */
  private recovering = false;
  /** the link's epoch when the last publish went out */
  private sentEpoch = 0;
  private toRetry: Out[] = [];
  private backlog: Out[] = [];
  /** publishes made in pipelined mode and not answered yet */
  private live = 0;
  private readonly liveIdle: (() => void)[] = [];
  /** the highest message index the stream acked */
  private maxAcked = -1;
  private readonly subject: string;
  private readonly timers: Timers;
  private readonly maxBytes: number;
  private readonly maxFrames: number;
  private readonly highWater: number;

  constructor(
    private readonly pub: ReplyPublisher,
    private readonly o: WriterOptions,
  ) {
    this.subject = subjects.history(o.sid);
    this.timers = o.timers ?? realTimers;
    this.maxBytes = o.maxBatchBytes ?? MAX_BATCH_BYTES;
    this.maxFrames = o.maxBatchFrames ?? MAX_BATCH_FRAMES;
    this.highWater = o.highWaterBytes ?? HIGH_WATER_BYTES;
  }

  /** Whether write() still takes replies (not ended, finished, abandoned or failed). */
  get open(): boolean {
    return !this.closed && !this.ended && this.failed === undefined;
  }

  /** Take one reply. Throws on a reply the wire cannot describe (a handler's bug). */
  write(r: Reply): void {
    if (r.event !== undefined && !EVENT_RE.test(r.event)) throw new Error(`not an SSE event name: ${JSON.stringify(r.event)}`);
    if (r.slot && !(r.slot.offset > 0 && r.slot.offset < r.body.length))
      throw new Error(`a _meta slot outside its frame (${r.slot.offset} of ${r.body.length} bytes)`);
    if (!this.open) return;
    if (r.body.length === 0) {
      // an empty frame is no frame; its `last` still ends the answer
      if (r.last) this.finish();
      return;
    }
    if (this.o.coalesceMs <= 0) {
      this.send([r], r.last === true);
      return;
    }
    if (this.window === undefined && this.pending.length === 0) {
      // nothing pending: at once, and gather what follows for a window — except after a reply's head
      // (an LLM stream's opening event, rarely content): the first token then goes at once too
      this.send([r], r.last === true);
      if (!r.last && !r.head) this.openWindow();
      return;
    }
    if (this.pending.length > 0 && (this.pendingBytes + r.body.length > this.maxBytes || this.pending.length >= this.maxFrames)) this.flush(false);
    this.pending.push(r);
    this.pendingBytes += r.body.length;
    if (r.last) {
      this.closeWindow();
      this.flush(true);
    } else if (this.pendingBytes >= this.maxBytes) this.flush(false);
  }

  /**
   * The handler is done (or was cancelled): what is pending goes out with End;
   * if nothing is pending and no message carried End, an End marker — when
   * something was published, or `force` (a request someone may wait for).
   */
  finish(force = false): void {
    if (this.closed) return;
    this.closed = true;
    this.closeWindow();
    if (this.ended || this.failed !== undefined) return;
    if (this.pending.length > 0) this.flush(true);
    else if (this.published > 0 || force) this.send([], true);
  }

  /** Drop what is pending and take nothing more (the answer failed; the caller decides what follows). */
  abandon(): void {
    this.closed = true;
    this.closeWindow();
    this.pending = [];
    this.pendingBytes = 0;
  }

  /**
   * Publish `replies` as one message with End, after whatever was published:
   * the error that replaces an answer (`"next"`: the next message index), or
   * the one that ends an interrupted answer (`"interrupted"`).
   */
  publishFinal(replies: Reply[], id: "next" | "interrupted"): Promise<boolean> {
    this.abandon();
    // more frames than a message holds (a JSON-RPC batch of over MAX_FRAMES ids): the first parts
    // go ahead, under ids of their own that stay the same whoever sends them again
    const sent: Promise<boolean>[] = [];
    let k = 0;
    for (; replies.length - k * this.maxFrames > this.maxFrames; k++) {
      const part = replies.slice(k * this.maxFrames, (k + 1) * this.maxFrames);
      sent.push(this.send(part, false, id === "interrupted" ? FINAL_PART_INDEX + k : undefined, true)!);
    }
    sent.push(this.send(replies.slice(k * this.maxFrames), true, id === "interrupted" ? "interrupted" : undefined, true)!);
    return Promise.all(sent).then((ok) => ok.every(Boolean));
  }

  /** Resolves once every publish handed over so far was acked or failed. */
  settled(): Promise<void> {
    return this.unsettled === 0 ? Promise.resolve() : new Promise((r) => this.idle.push(r));
  }

  /** A promise while too many bytes wait for their ack (the producer should wait for it), else undefined. */
  backpressure(): Promise<void> | undefined {
    if (this.inflightBytes <= this.highWater) return undefined;
    return new Promise<void>((r) => (this.drained = r));
  }

  private openWindow(): void {
    this.window = this.timers.setTimeout(() => {
      this.window = undefined;
      if (this.pending.length === 0 || !this.open) return;
      this.flush(false);
      this.openWindow();
    }, this.o.coalesceMs);
  }

  private closeWindow(): void {
    if (this.window !== undefined) this.timers.clearTimeout(this.window);
    this.window = undefined;
  }

  private flush(end: boolean): void {
    const batch = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    this.send(batch, end);
  }

  /**
   * Hand one message to the publisher. `outcome`: a promise of whether the
   * stream acked it (made only when asked for: a reply on the hot path needs none).
   */
  private send(frames: Reply[], end: boolean, index?: number | "interrupted", outcome = false): Promise<boolean> | undefined {
    const body = frames.length === 1 ? frames[0]!.body : Buffer.concat(frames.map((f) => f.body));
    const info: FrameInfo[] = frames.map(frameInfo);
    const msgId = replyMsgId(this.o.sid, this.o.inboxSeq, index ?? this.nextIndex++);
    this.published++;
    if (end) this.ended = true;
    const out: Out = {
      body,
      msgId,
      h: replyHeaders({ rid: this.o.rid, frames: info, end, ingressTs: this.o.ingressTs, head: frames[0]?.head }),
      done: undefined,
    };
    const p = outcome ? new Promise<boolean>((r) => (out.done = r)) : undefined;
    this.unsettled++;
    this.inflightBytes += body.length;
    if (this.recovering) this.backlog.push(out);
    else if (this.o.gate && (this.o.retryMs ?? 0) > 0 && (!this.o.gate.open || (this.live > 0 && this.o.gate.epoch !== this.sentEpoch))) {
      // the link is down, or went down since publishes still unacked went out (they may be lost
      // with that connection): nothing more goes to NATS until they are known to be stored
      this.backlog.push(out);
      void this.recover();
    } else this.publishOut(out);
    return p;
  }

  /** One publish, pipelined; a passing failure queues it to be published again in order. */
  private publishOut(out: Out): void {
    if (this.o.gate) this.sentEpoch = this.o.gate.epoch;
    let p: Promise<unknown>;
    try {
      p = this.pub.publish(this.subject, out.body, out.msgId, out.h);
    } catch (e) {
      p = Promise.reject(e);
    }
    this.live++;
    p.then(
      () => {
        this.live--;
        this.settle(out, true);
      },
      (e: unknown) => {
        this.live--;
        if (passing(e) && (this.o.retryMs ?? 0) > 0 && this.failed === undefined) {
          this.toRetry.push(out);
          this.wakeLive();
          if (!this.recovering) void this.recover();
          return;
        }
        this.fail(e);
        this.settle(out, false);
      },
    );
  }

  /** A message is done with: stored (ok) or given up. */
  private settle(out: Out, ok: boolean): void {
    if (ok) {
      this.acked++;
      this.maxAcked = Math.max(this.maxAcked, msgIndex(out));
    }
    this.unsettled--;
    this.inflightBytes -= out.body.length;
    out.done?.(ok);
    if (this.drained && this.inflightBytes <= this.highWater / 2) {
      const d = this.drained;
      this.drained = undefined;
      d();
    }
    this.wakeLive();
    if (this.unsettled === 0) for (const w of this.idle.splice(0)) w();
  }

  private wakeLive(): void {
    if (this.live === 0) for (const w of this.liveIdle.splice(0)) w();
  }

  private fail(e: unknown): void {
    if (this.failed !== undefined) return;
    this.failed = e;
    this.abandon();
    this.o.onFailure?.(e);
    // nothing that waited behind the failure will be published now
    for (const out of [...this.toRetry.splice(0), ...this.backlog.splice(0)]) this.settle(out, false);
  }

  /**
   * Publish again, one at a time and in order, what was not acked (and then
   * what queued behind it), until stored or the time runs out.
   */
  private async recover(): Promise<void> {
    if (this.recovering) return;
    this.recovering = true;
    const until = Date.now() + (this.o.retryMs ?? 0);
    // every publish still in flight settles first (acked, or failed and queued here in its order):
    // anything published again must come after all of them
    if (this.live > 0) await new Promise<void>((r) => this.liveIdle.push(r));
    this.toRetry.sort((a, b) => msgIndex(a) - msgIndex(b));
    const lost = this.toRetry[0];
    if (lost && this.maxAcked > msgIndex(lost)) {
      // a later message is stored ahead of a lost one: publishing it again would put it out of order
      this.recovering = false;
      this.fail(Object.assign(new Error("a reply was lost while a later one was stored (the message broker restarted)"), { transient: false }));
      return;
    }
    let delay = 100;
    while (this.failed === undefined) {
      const next = this.toRetry.shift() ?? this.backlog.shift();
      if (!next) break;
      for (;;) {
        if (this.o.gate && !this.o.gate.open) {
          await Promise.race([this.o.gate.wait(), new Promise<void>((r) => setTimeout(r, Math.max(0, until - Date.now())))]);
          if (!this.o.gate.open) {
            this.recovering = false;
            this.settle(next, false);
            this.fail(Object.assign(new Error("the message broker stayed out of reach"), { transient: true }));
            return;
          }
        }
        try {
          await this.pub.publish(this.subject, next.body, next.msgId, next.h);
          this.settle(next, true);
          break;
        } catch (e) {
          if (!passing(e) || Date.now() + delay > until) {
            this.recovering = false;
            this.settle(next, false);
            this.fail(e);
            return;
          }
          await new Promise<void>((r) => setTimeout(r, delay));
          delay = Math.min(2000, delay * 2);
        }
      }
      // what failed meanwhile is older than the backlog: it goes first
      this.toRetry.sort((a, b) => msgIndex(a) - msgIndex(b));
    }
    this.recovering = false;
  }
}

/** What the wire says of one frame (no spread objects: this runs for every reply). */
function frameInfo(f: Reply): FrameInfo {
  const i: FrameInfo = { length: f.body.length };
  if (f.slot) i.slot = f.slot;
  if (f.response) i.response = true;
  if (f.event !== undefined) i.event = f.event;
  return i;
}

/** The message index a reply id ends with (the interrupted error's sorts last). */
function msgIndex(o: Out): number {
  const i = Number(o.msgId.slice(o.msgId.lastIndexOf(":") + 1));
  return Number.isNaN(i) ? Number.MAX_SAFE_INTEGER : i;
}
