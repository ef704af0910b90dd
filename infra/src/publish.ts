// JetStream publishes with acks, for the hot path of gateway and workers.
//
// nats.js's js.publish() is a request: per message a random token, a timer, a
// Promise.race, and Error objects made up front (one even after success) —
// the largest single item in the gateway's and the workers' CPU profiles under
// load (bench/RESULTS.md). Here every ack comes back on one wildcard inbox
// subscription, is matched by a counter, and one sweep per interval times out
// whatever waited too long.
import { createInbox, headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection } from "@nats-io/nats-core";
import { headers } from "./wire.js";

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
  ) {
    super(message);
    this.name = "PublishError";
  }
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
  deadline: number;
}

const NO_RESPONDERS = 503;

export class AckedPublisher {
  private readonly prefix = `${createInbox()}.`;
  private next = 0;
  /** in publish order, so deadlines are in order too */
  private readonly pending = new Map<number, Pending>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {
    nc.subscribe(`${this.prefix}*`, { callback: (_err, msg) => this.onAck(msg) });
    this.sweeper = setInterval(() => this.sweep(), Math.min(250, timeoutMs));
    this.sweeper.unref();
  }

  /** Publish to a stream's subject; resolves with JetStream's ack. `msgID`: JetStream's de-duplication id. */
  publish(subject: string, data: Uint8Array, msgID?: string, h?: MsgHdrs): Promise<PubAck> {
    const token = this.next++;
    let hdrs = h;
    if (msgID !== undefined) {
      try {
        hdrs ??= natsHeaders();
        hdrs.set(headers.msgId, msgID);
      } catch (e) {
        // never a throw into the caller's socket callback: a rejected publish instead
        return Promise.reject(new PublishError(`unusable de-duplication id: ${(e as Error).message}`, false));
      }
    }
    if (data.byteLength > this.maxPayload()) {
      return Promise.reject(new PublishError(`too large for the message broker: ${data.byteLength} bytes, its max_payload is ${this.maxPayload()}`, false, true));
    }
    return new Promise<PubAck>((resolve, reject) => {
      this.pending.set(token, { resolve, reject, deadline: Date.now() + this.timeoutMs });
      if (this.queue.length === 0) setImmediate(this.flushQueue);
      this.queue.push([token, subject, data, hdrs]);
    });
  }

  /**
   * Publishes wait for the end of this turn of the event loop and then go
   * out together: nats.js writes to its socket once per microtask turn, and
   * every socket callback of uWS is a turn of its own, so one at a time they
   * would cost a system call each.
   */
  private readonly queue: [number, string, Uint8Array, MsgHdrs | undefined][] = [];
  private readonly flushQueue = (): void => {
    for (const [token, subject, data, hdrs] of this.queue.splice(0)) {
      try {
        this.nc.publish(subject, data, { reply: this.prefix + token, ...(hdrs ? { headers: hdrs } : {}) });
      } catch (e) {
        const p = this.pending.get(token);
        this.pending.delete(token);
        p?.reject(publishFailure(e));
      }
    }
  };

  /** The largest message the server takes (its INFO), headers and all. */
  maxPayload(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }

  /** Stop the sweep; whatever waits is rejected. */
  close(): void {
    clearInterval(this.sweeper);
    for (const p of this.pending.values()) p.reject(new PublishError("publisher closed", true));
    this.pending.clear();
  }

  private onAck(msg: Msg): void {
    const token = Number(msg.subject.slice(this.prefix.length));
    const p = this.pending.get(token);
    if (!p) return; // timed out already
    this.pending.delete(token);
    if (msg.headers?.code === NO_RESPONDERS) return p.reject(new PublishError("no responders: JetStream is not available", true));
    let a: { stream?: string; seq?: number; duplicate?: boolean; error?: { code?: number; description?: string } };
    try {
      a = JSON.parse(msg.string()) as typeof a;
    } catch {
      return p.reject(new PublishError("unreadable JetStream ack", false));
    }
    if (a.error || typeof a.seq !== "number") return p.reject(new PublishError(`JetStream refused it: ${a.error?.description ?? "no sequence in the ack"}`, false));
    p.resolve({ stream: a.stream ?? "", seq: a.seq, duplicate: a.duplicate === true });
  }

  private sweep(): void {
    const now = Date.now();
    for (const [token, p] of this.pending) {
      if (p.deadline > now) break;
      this.pending.delete(token);
      p.reject(new PublishError(`timeout: no ack from JetStream within ${this.timeoutMs} ms`, true));
    }
  }
}
