// JetStream publishes with acks, for the hot path of gateway and workers.
//
// nats.js's js.publish() is a request: per message a random token, a timer, a
// Promise.race, and Error objects made up front (one even after success) —
// the largest single item in the gateway's and the workers' CPU profiles under
// load (bench/RESULTS.md). Here every ack comes back on one wildcard inbox
// subscription, is matched by a counter, and one sweep per interval times out
// whatever waited too long. At most `window` publishes are out at once; the
// rest wait here, in order, and their ack timeout starts when they go out: a
// burst (every client of a reconnect storm re-sending its request at once)
// drains at the rate JetStream stores, instead of timing out wholesale.
import { createInbox, type Msg, type MsgHdrs, type NatsConnection } from "@nats-io/nats-core";
import { NatsConnectionImpl } from "@nats-io/nats-core/internal";
import { headers, newHeaders, putHeader } from "@radiant/wire";

export interface PubAck {
  stream: string;
  seq: number;
  /** JetStream had this Nats-Msg-Id already: stored once, earlier */
  duplicate: boolean;
}

/** JetStream did not store the message, or said nothing in time. */
export class PublishError extends Error {
  constructor(
    message: string,
    /** worth trying again: a timeout or no responders (JetStream not there right now) */
    readonly transient: boolean,
    /** the message can never be published: over the server's max_payload */
    readonly tooLarge = false,
    /**
     * it went out and no answer came: it may still be stored (a stream leader that lost its quorum
     * commits what it took once the quorum is back) — re-sent with the same de-duplication id, it is
     * stored once
     */
    readonly unconfirmed = false,
  ) {
    super(message);
    this.name = "PublishError";
  }
}

/**
 * Whether the connection is up right now. While it is down nats.js keeps
 * publishes and sends them once it is back: a message written just before the
 * server went away is lost, and one made after it would then be stored ahead
 * of it. A publish made while the link is down is refused instead (a passing
 * failure: the caller tries again, in its order). nats.js says so only through
 * its status events, which come a turn late: its own flag is read here.
 */
function linkUp(nc: NatsConnection): boolean {
  return nc instanceof NatsConnectionImpl ? nc.protocol.connected : !nc.isClosed();
}

/** What nats.js threw at a publish: too large for the server, or a connection that is not there. */
function publishFailure(e: unknown): PublishError {
  const message = (e as Error)?.message ?? String(e);
  if (/payload/i.test(message)) return new PublishError(`too large for the message broker (${message})`, false, true);
  return new PublishError(message, /closed|draining|disconnect|connection/i.test(message));
}

interface Pending {
  resolve: (a: PubAck) => void;
  reject: (e: PublishError) => void;
  /** when the attempt out now stops being waited for */
  deadline: number;
  /** when it fails: the ack timeout from when it first went out (with `failover`, from when it was published) */
  until: number;
  /** what was sent, to send it again */
  sent: Queued | undefined;
  /** it has a de-duplication id: sent again when an attempt goes unacked (`failover.attemptMs`) */
  dedupe: boolean;
  /** an attempt went out and nothing answered it: it may be stored */
  maybeStored: boolean;
}

/** the pause before a publish answered "no responders" is sent again (a stream's leader being elected) */
const NO_RESPONDERS_RETRY_MS = 200;

const NO_RESPONDERS = 503;

export interface PublisherOptions {
  /** publishes out and not yet acked, at most (default 1024) */
  window?: number;
  /** how long a publish may wait to go out before it fails as "behind" (default 6 × the ack timeout) */
  maxWaitMs?: number;
  /**
   * Ride out a NATS failover (a cluster that lost a node elects new stream leaders in seconds; a
   * client reconnects to another node), within each publish's ack timeout: one answered "no
   * responders" is sent again; one with a de-duplication id not acked within `attemptMs` is sent
   * again (JetStream stores it once: a leader lost between taking a message and acking it never
   * acks, its successor does); while the connection is down, publishes wait here instead of failing.
   * Only for publishes whose order among themselves does not matter: one sent again goes after what
   * was published meanwhile.
   */
  failover?: { attemptMs: number };
  /** with `failover`: bytes that may wait to go out (default 64 MiB); past it a publish fails at once */
  maxQueuedBytes?: number;
}

type Queued = [token: number, subject: string, data: Uint8Array, hdrs: MsgHdrs | undefined, p: Pending, queuedAt: number];

export class AckedPublisher {
  private readonly prefix = `${createInbox()}.`;
  private next = 0;
  /** the publishes waiting for their ack, by token (in publish order, so deadlines are in order too) */
  private readonly pending = new PendingAcks();
  private readonly sweeper: NodeJS.Timeout;
  private readonly window: number;
  private readonly maxWaitMs: number;
  /** riding out a failover (the option): publishes wait while down, copies go out again */
  private readonly failover: boolean;
  private readonly attemptMs: number;
  private readonly maxQueuedBytes: number;
  /** bytes waiting in `queue` (kept with `failover` only) */
  private queuedBytes = 0;
  /** with `failover`: the earliest deadline of a publish out, as far as is known (when to look at them again) */
  private nextLook = Number.POSITIVE_INFINITY;
  /** publishes out and not yet acked */
  inFlight = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
    o: PublisherOptions = {},
  ) {
    this.window = o.window ?? 1024;
    this.maxWaitMs = o.maxWaitMs ?? 6 * timeoutMs;
    this.failover = o.failover !== undefined;
    this.attemptMs = o.failover ? Math.min(o.failover.attemptMs, timeoutMs) : timeoutMs;
    this.maxQueuedBytes = o.maxQueuedBytes ?? 64 * 1024 * 1024;
    nc.subscribe(`${this.prefix}*`, { callback: (_err, msg) => this.onAck(msg) });
    this.sweeper = setInterval(() => this.sweep(), Math.min(250, timeoutMs));
    this.sweeper.unref();
  }

  /** publishes waiting to go out */
  get waiting(): number {
    return this.queue.length - this.queueHead;
  }

  /** Publish to a stream's subject; resolves with JetStream's ack. `msgID`: JetStream's de-duplication id. */
  publish(subject: string, data: Uint8Array, msgID?: string, h?: MsgHdrs): Promise<PubAck> {
    const token = this.next++;
    let hdrs = h;
    if (msgID !== undefined) {
      try {
        hdrs ??= newHeaders();
        putHeader(hdrs, headers.msgId, msgID);
      } catch (e) {
        // never a throw into the caller's socket callback: a rejected publish instead
        return Promise.reject(new PublishError(`unusable de-duplication id: ${(e as Error).message}`, false));
      }
    }
    if (data.byteLength > this.maxPayload()) {
      return Promise.reject(
        new PublishError(`too large for the message broker: ${data.byteLength} bytes, its max_payload is ${this.maxPayload()}`, false, true),
      );
    }
    if (this.failover) {
      // riding out a failover, publishes wait here: in bounds
      if (this.queuedBytes + data.byteLength > this.maxQueuedBytes)
        return Promise.reject(new PublishError(`the message broker is away and ${this.queuedBytes} bytes already wait for it`, true));
      this.queuedBytes += data.byteLength;
    }
    const now = Date.now();
    return new Promise<PubAck>((resolve, reject) => {
      this.schedule();
      const until = this.failover ? now + this.timeoutMs : 0;
      this.queue.push([
        token,
        subject,
        data,
        hdrs,
        { resolve, reject, deadline: 0, until, sent: undefined, dedupe: msgID !== undefined, maybeStored: false },
        now,
      ]);
    });
  }

  private scheduled = false;
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flushQueue);
  }

  /**
   * Publishes wait for the end of this turn of the event loop and then go
   * out together: nats.js writes to its socket once per microtask turn, and
   * every socket callback of uWS is a turn of its own, so one at a time they
   * would cost a system call each.
   */
  private queue: Queued[] = [];
  /** the first entry of `queue` not sent yet */
  private queueHead = 0;
  private readonly flushQueue = (): void => {
    this.scheduled = false;
    const up = linkUp(this.nc);
    const now = Date.now();
    while (this.queueHead < this.queue.length && (this.inFlight < this.window || !up)) {
      // riding out a failover: wait for the connection (the sweep looks again)
      if (!up && this.failover) break;
      const q = this.queue[this.queueHead]!;
      const [token, subject, data, hdrs, p] = q;
      this.queue[this.queueHead++] = undefined as never;
      if (this.failover) this.queuedBytes -= data.byteLength;
      if (!up) {
        p.reject(new PublishError("not connected to the message broker", true));
        continue;
      }
      if (p.until !== 0 && now >= p.until) {
        // its time ran out while it waited to go out (sent before, "no responders" said it was not stored)
        p.reject(new PublishError(`not sent within ${this.timeoutMs} ms: the message broker is behind`, true, false, p.maybeStored));
        continue;
      }
      // without failover the ack timeout starts when it goes out (with it, when it was published)
      if (p.until === 0) p.until = now + this.timeoutMs;
      p.deadline = p.dedupe ? Math.min(p.until, now + this.attemptMs) : p.until;
      // kept only where it may be sent again: otherwise the frame need not outlive its going out
      if (this.failover) {
        p.sent = q;
        if (p.deadline < this.nextLook) this.nextLook = p.deadline;
      }
      this.pending.add(token, p);
      this.inFlight++;
      try {
        this.nc.publish(subject, data, { reply: this.prefix + token, ...(hdrs ? { headers: hdrs } : {}) });
      } catch (e) {
        this.settled(this.pending.take(token))?.reject(publishFailure(e));
      }
    }
    if (this.queueHead === this.queue.length) {
      this.queue = [];
      this.queueHead = 0;
    } else if (this.queueHead > 4096 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
  };

  /** A publish out is acked, refused or timed out: room for one that waits. */
  private settled(p: Pending | undefined): Pending | undefined {
    if (p) {
      this.inFlight--;
      if (this.queueHead < this.queue.length) this.schedule();
    }
    return p;
  }

  /** The largest message the server takes (its INFO), headers and all. */
  maxPayload(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }

  /** Stop the sweep; whatever waits is rejected. */
  close(): void {
    clearInterval(this.sweeper);
    for (let p = this.pending.takeOldest(); p; p = this.pending.takeOldest()) p.reject(new PublishError("publisher closed", true));
    for (let i = this.queueHead; i < this.queue.length; i++) this.queue[i]![4].reject(new PublishError("publisher closed", true));
    this.queue = [];
    this.queueHead = 0;
    this.queuedBytes = 0;
    this.inFlight = 0;
  }

  /**
   * With `failover`: the publishes out whose attempt went unanswered. One with a
   * de-duplication id is sent again under the same token (JetStream stores it
   * once; an ack of either copy settles it), one without waits on; either fails
   * at its ack timeout. Looked at only once the earliest deadline has come.
   */
  private lookAtAttempts(now: number): void {
    if (now < this.nextLook) return;
    let next = Number.POSITIVE_INFINITY;
    const over: number[] = [];
    const up = linkUp(this.nc);
    this.pending.forEach((token, p) => {
      if (p.deadline > now) {
        if (p.deadline < next) next = p.deadline;
        return;
      }
      if (now >= p.until) {
        over.push(token);
        return;
      }
      p.maybeStored = true;
      p.deadline = p.dedupe ? Math.min(p.until, now + this.attemptMs) : p.until;
      if (p.deadline < next) next = p.deadline;
      const q = p.sent;
      if (p.dedupe && up && q) {
        try {
          this.nc.publish(q[1], q[2], { reply: this.prefix + token, ...(q[3] ? { headers: q[3] } : {}) });
        } catch {
          // not sent: the next attempt, or the timeout, comes anyway
        }
      }
    });
    this.nextLook = next;
    for (const token of over) {
      const p = this.settled(this.pending.take(token));
      if (p) this.timedOut(p);
    }
  }

  private onAck(msg: Msg): void {
    const token = Number(msg.subject.slice(this.prefix.length));
    const p = this.settled(this.pending.take(token));
    if (!p) return; // timed out already
    if (msg.headers?.code === NO_RESPONDERS) {
      // nothing stored it: no stream there right now. Sent again (failover), under a
      // new token, until its ack timeout from when it first went out
      if (this.sendAgain(p, NO_RESPONDERS_RETRY_MS)) return;
      return p.reject(new PublishError("no responders: JetStream is not available", true, false, p.maybeStored));
    }
    let a: { stream?: string; seq?: number; duplicate?: boolean; error?: { code?: number; description?: string } };
    try {
      a = JSON.parse(msg.string()) as typeof a;
    } catch {
      return p.reject(new PublishError("unreadable JetStream ack", false));
    }
    if (a.error || typeof a.seq !== "number")
      return p.reject(new PublishError(`JetStream refused it: ${a.error?.description ?? "no sequence in the ack"}`, false));
    p.resolve({ stream: a.stream ?? "", seq: a.seq, duplicate: a.duplicate === true });
  }

  /** Send `p` again (after "no responders": nothing stored it), under a new token, after `delayMs` — if that is within its ack timeout. */
  private sendAgain(p: Pending, delayMs: number): boolean {
    const q = p.sent;
    if (!q || Date.now() + delayMs >= p.until) return false;
    setTimeout(() => {
      q[0] = this.next++;
      this.queuedBytes += q[2].byteLength;
      this.queue.push(q);
      this.schedule();
    }, delayMs);
    return true;
  }

  private timedOut(p: Pending): void {
    p.reject(new PublishError(`timeout: no ack from JetStream within ${this.timeoutMs} ms`, true, false, true));
  }

  private sweep(): void {
    const now = Date.now();
    if (this.failover) this.lookAtAttempts(now);
    else {
      // every deadline is its first attempt's, in token order: the oldest first
      for (let p = this.pending.oldest(); p && p.deadline <= now; p = this.pending.oldest()) {
        this.settled(this.pending.takeOldest());
        this.timedOut(p);
      }
    }
    if (this.failover && this.queueHead < this.queue.length) {
      if (linkUp(this.nc)) this.schedule();
      else {
        // held while the connection is down, each within its ack timeout
        this.queue = this.queue.slice(this.queueHead).filter((q) => {
          const p = q[4];
          if (now < p.until) return true;
          this.queuedBytes -= q[2].byteLength;
          p.reject(new PublishError(`not connected to the message broker for ${this.timeoutMs} ms`, true, false, p.maybeStored));
          return false;
        });
        this.queueHead = 0;
      }
    }
    // what waited to go out too long: JetStream is that far behind (in order, so the oldest first)
    while (this.queueHead < this.queue.length && now - this.queue[this.queueHead]![5] > this.maxWaitMs) {
      const [, , data, , p] = this.queue[this.queueHead]!;
      this.queue[this.queueHead++] = undefined as never;
      if (this.failover) this.queuedBytes -= data.byteLength;
      p.reject(new PublishError(`the message broker is behind: not sent within ${this.maxWaitMs} ms`, true, false, p.maybeStored));
    }
  }
}

/**
 * Publishes waiting for their ack, by token: tokens are handed out in order
 * and acks come back mostly in order, so a queue of slots, not a Map. A Map
 * that takes and drops an entry per message leaves a trail of old tables V8
 * keeps alive, and each publish's objects with them (the young-generation
 * survivors of a busy process, several times over).
 */
class PendingAcks {
  private slots: (Pending | undefined)[] = [];
  /** index in `slots` of the oldest still waiting */
  private head = 0;
  /** the token of slots[0] */
  private base = 0;

  /** `token`: higher than any added before (a token refused before it was added leaves an empty slot) */
  add(token: number, p: Pending): void {
    if (this.slots.length === 0) this.base = token;
    while (this.base + this.slots.length < token) this.slots.push(undefined);
    this.slots.push(p);
  }

  /** The publish `token` waits for, if it still does; it waits no more. */
  take(token: number): Pending | undefined {
    const i = token - this.base;
    if (!Number.isSafeInteger(i) || i < this.head || i >= this.slots.length) return undefined;
    const p = this.slots[i];
    this.slots[i] = undefined;
    this.trim();
    return p;
  }

  oldest(): Pending | undefined {
    return this.slots[this.head];
  }

  /** Each publish waiting, with its token, oldest first (`f` must not add or take). */
  forEach(f: (token: number, p: Pending) => void): void {
    for (let i = this.head; i < this.slots.length; i++) {
      const p = this.slots[i];
      if (p !== undefined) f(this.base + i, p);
    }
  }

  takeOldest(): Pending | undefined {
    const p = this.slots[this.head];
    if (p === undefined) return undefined;
    this.slots[this.head] = undefined;
    this.trim();
    return p;
  }

  private trim(): void {
    while (this.head < this.slots.length && this.slots[this.head] === undefined) this.head++;
    if (this.head === this.slots.length) {
      this.base += this.head;
      this.slots.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.slots.length) {
      this.slots = this.slots.slice(this.head);
      this.base += this.head;
      this.head = 0;
    }
  }
}
