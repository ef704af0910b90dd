// One request, start to finish: the policy of what is published and whether
// the INBOX message is acked, redelivered or dropped. No NATS here — a
// publisher, timers and a HISTORY probe come in — so every row of the policy is
// a unit test (run.test.ts).
//
// Policy (re-run only if nothing was published):
// - the handler completes → End on its last message → ack;
// - cancelled by the client / client gone / session ended → what is pending,
//   with End (or an End marker) → ack;
// - nothing of the answer acked, and:
//   - the handler threw → the protocol's error replies (End) → term;
//   - timed out → nak with backoff; on the last delivery error replies → term;
//   - the worker is stopping → nak at once (another worker runs it);
//   - a publish failed → nak with backoff (the redelivery looks in HISTORY; while it
//     cannot be read, it looks again, in progress, as long as a publish is tried);
//     one that can never succeed (too large) → error replies → term;
// - part of the answer acked, and any of those → the "interrupted" error
//   (msg id `…:interrupted`, End) → term: never a second generation.
// - a redelivery first looks in HISTORY for what an earlier delivery stored:
//   a complete answer → ack; otherwise, if the earlier delivery is still
//   running (JetStream delivered again after a broker restart or a long pause,
//   not because a worker died), it is watched — kept in progress, looked at
//   again — until its answer is complete (→ ack) or its runner is gone; then
//   part of an answer → interrupted → term; none → run.
import type { Log } from "@radiant/infra/log";
import { CLIENT_SIDE_REASONS, type CancelReason, type InboxEnvelope, type SessionId } from "@radiant/wire";
import type { Handler, HandlerContext, Reply, Request } from "./handler.js";
import { cancelledReplies, internalErrorReplies, interruptedReplies, isJsonRpc } from "./errors.js";
import { realTimers, ReplyWriter, type LinkGate, type ReplyPublisher, type Timers } from "./writer.js";

export type Outcome = { kind: "ack" } | { kind: "nak"; delayMs: number } | { kind: "term"; reason: string };

/** What an earlier delivery of the same INBOX message left in HISTORY. */
export type Stored = "none" | "partial" | "complete";

/** The INBOX message being handled. */
export interface Delivery {
  seq: number;
  /** 1 on the first delivery */
  deliveryCount: number;
  /** when JetStream stored the INBOX message (the server's clock, ms) */
  storedAtMs: number;
  /** tell JetStream the message is still being worked on */
  working(): void;
}

export interface RunDeps {
  publisher: ReplyPublisher;
  log: Log;
  timers?: Timers;
  coalesceMs: number;
  /** how long a publish that failed for a passing reason is tried again (the writer's retryMs) */
  publishRetryMs?: number;
  /** the NATS link's state: writers hold publishes while it is down */
  gate?: LinkGate;
  handlerTimeoutMs: number;
  /** deliveries JetStream makes (inboxPolicy.maxDeliver) */
  maxDeliver: number;
  /** the consumer's ack wait: no delivery follows another sooner */
  ackWaitMs: number;
  /** on a redelivery: what HISTORY holds of this INBOX message's answer (throws when it cannot tell) */
  stored(env: InboxEnvelope, seq: number): Promise<Stored>;
  /** on a redelivery: whether an earlier delivery of INBOX message `seq` is still running its handler, on this worker or another */
  runningElsewhere(env: InboxEnvelope, seq: number): Promise<boolean>;
  /** how often a redelivery looks again while an earlier delivery still runs (default: a third of the ack wait) */
  watchMs?: number;
  /** stop another request of the session wherever it runs */
  cancelRequest(sid: SessionId, rid: string): void;
  /** writer settings (tests) */
  maxBatchBytes?: number;
}

/** Reasons after which the request is over as far as its client is concerned: what was produced is delivered, with End. */
const CLIENT_SIDE = CLIENT_SIDE_REASONS;

/**
 * Whether an earlier delivery of this message may have run. The count says so
 * from the second delivery on, but nats-server (2.9) was seen to deliver again
 * with a count of 1 after the worker holding the message was SIGKILLed. A
 * delivery follows another only after an ack wait, so a message older than
 * half of one (the rest allows for the server's clock) is looked up too; a
 * first delivery out of a backlog pays one HISTORY lookup for it.
 */
export function mayFollowAnother(d: Delivery, ackWaitMs: number, nowMs: number): boolean {
  return d.deliveryCount > 1 || nowMs - d.storedAtMs >= ackWaitMs / 2;
}

export function backoffMs(delivery: number): number {
  return Math.min(5000, 100 * 2 ** (delivery - 1));
}

/** Why the handler stopped producing. */
type Ending = { kind: "done" } | { kind: "aborted"; reason: CancelReason } | { kind: "threw"; err: unknown } | { kind: "publishFailed" };

function isPermanent(e: unknown): boolean {
  const o = e as { transient?: unknown; tooLarge?: unknown } | null;
  return o?.tooLarge === true || o?.transient === false;
}

export class RequestRun {
  /** made only when a handler looks at its signal: most (a ping) never do */
  private controller: AbortController | undefined;
  /** why the request was stopped, if it was (the first reason wins) */
  private reason: CancelReason | undefined;
  /** the run's own wait for the handler, released at once by an abort */
  private stopWaiting: () => void = () => {};
  private readonly log: Log;
  /** replies dropped because they came after the answer ended */
  dropped = 0;
  /** Running's (running.ts) */
  runningSlot = -1;
  /** the handler runs (a redelivery that only watches an earlier one never does) */
  producing = false;
  /** the handler had an effect outside RADIANT (HandlerContext.committed): a timeout is not run again */
  committed = false;

  constructor(
    readonly env: InboxEnvelope,
    readonly delivery: Delivery,
    private readonly handler: Handler,
    private readonly deps: RunDeps,
    /** this request's logger (else deps.log): deps are the worker's, the same for every request */
    log?: Log,
  ) {
    this.log = log ?? deps.log;
  }

  get sid(): SessionId {
    return this.env.sid;
  }
  get rid(): string {
    return this.env.rid;
  }
  /** the INBOX message's stream sequence: the same in every delivery of it */
  get inboxSeq(): number {
    return this.delivery.seq;
  }
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.reason !== undefined) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  /** Stop another request of this one's session (a handler asks: MCP notifications/cancelled). */
  cancelOther(rid: string): void {
    this.deps.cancelRequest(this.env.sid, rid);
  }

  get aborted(): boolean {
    return this.reason !== undefined;
  }

  /** Stop the request (the first reason wins). The handler sees it on ctx.signal; the run stops waiting for it at once. */
  abort(reason: CancelReason): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.controller?.abort(reason);
    this.stopWaiting();
  }

  async run(): Promise<Outcome> {
    const { env, delivery, deps } = this;
    const stopWaiting = () => this.stopWaiting();
    const writer = new ReplyWriter(deps.publisher, {
      sid: env.sid,
      rid: env.rid,
      inboxSeq: delivery.seq,
      ingressTs: env.ts,
      coalesceMs: deps.coalesceMs,
      retryMs: deps.publishRetryMs,
      gate: deps.gate,
      timers: deps.timers,
      maxBatchBytes: deps.maxBatchBytes,
      onFailure: stopWaiting,
    });

    if (mayFollowAnother(delivery, deps.ackWaitMs, Date.now())) {
      const decided = await this.redelivered(writer);
      if (decided) return decided;
    }
    this.producing = true;

    const timers = deps.timers ?? realTimers;
    const timeout = timers.setTimeout(() => this.abort("timed out"), deps.handlerTimeoutMs);
    let ending: Ending;
    try {
      // the handler's end or a stop, whichever comes first: a hung handler never holds the run
      ending = await new Promise<Ending>((resolve) => {
        this.stopWaiting = () => resolve(this.stoppedEnding(writer));
        void this.produce(writer).then(resolve);
      });
    } finally {
      timers.clearTimeout(timeout);
    }
    if (writer.failed !== undefined) ending = { kind: "publishFailed" };
    else if (this.aborted && ending.kind !== "done") ending = { kind: "aborted", reason: this.reason! };
    if (this.dropped > 0) this.log.warn({ dropped: this.dropped }, "the handler sent replies after its last one; they were dropped");

    // cancelled from the client's side (even if the handler then returned by itself): someone may wait for an End
    const clientSide = this.aborted && CLIENT_SIDE.has(this.reason!);
    const over = ending.kind === "done" || (ending.kind === "aborted" && clientSide);
    // an LLM answer cut short says so (MCP's cancelled requests get no answer): a reader resuming it later must not take it for whole
    if (ending.kind === "aborted" && clientSide && !isJsonRpc(env.proto) && writer.open) {
      for (const r of cancelledReplies(env.proto, env.body, this.reason!)) writer.write(r);
    }
    if (over) writer.finish(clientSide);
    else writer.abandon();
    await writer.settled();

    if (this.aborted) this.log.info({ reason: this.reason!, published: writer.published }, "request aborted");
    // the answer is stored whole, End included (or there was nothing to store): nothing left to decide
    if (writer.failed === undefined && (writer.ended || over)) {
      if (ending.kind === "threw")
        this.log.warn({ err: String((ending.err as Error)?.stack ?? ending.err) }, "the handler failed after its answer was complete");
      return { kind: "ack" };
    }

    const why = reasonText(ending, writer.failed);
    if (writer.acked > 0) {
      this.log.warn(
        { why, published: writer.acked, ...(writer.failed !== undefined ? { err: (writer.failed as Error)?.message } : {}) },
        "answer interrupted after part of it was stored",
      );
      return this.interrupt(writer, why);
    }
    // nothing of the answer is stored
    if (writer.failed !== undefined && !isPermanent(writer.failed)) {
      this.log.warn({ err: (writer.failed as Error)?.message }, "reply publish failed, request will be redelivered");
      return { kind: "nak", delayMs: backoffMs(delivery.deliveryCount) };
    }
    if (ending.kind === "aborted" && ending.reason === "worker stopping") return { kind: "nak", delayMs: 0 };
    if (ending.kind === "aborted" && ending.reason === "timed out" && delivery.deliveryCount < deps.maxDeliver && !this.committed) {
      this.log.warn("handler timed out, request will be redelivered");
      return { kind: "nak", delayMs: backoffMs(delivery.deliveryCount) };
    }
    const reason = ending.kind === "aborted" && ending.reason === "timed out" ? `the request timed out ${delivery.deliveryCount} times` : why;
    this.log.error(
      { why, err: ending.kind === "threw" ? String((ending.err as Error)?.stack ?? ending.err) : undefined },
      "request failed; answering with an error",
    );
    return this.answerWith(writer, internalErrorReplies(env.proto, env.body, reason), "next", reason);
  }

  /** Why the run stopped waiting for the handler: an abort or a failed publish. */
  private stoppedEnding(writer: ReplyWriter): Ending {
    return writer.failed !== undefined ? { kind: "publishFailed" } : { kind: "aborted", reason: this.reason! };
  }

  /** Run the handler to its end; after an abort or a failed publish it is let go at its next step. */
  private async produce(writer: ReplyWriter): Promise<Ending> {
    if (this.aborted) return { kind: "aborted", reason: this.reason! };
    const ctx = new RunContext(this, this.log);
    let it: AsyncIterator<Reply>;
    try {
      const e = this.env;
      const req: Request = { body: e.body, sid: e.sid, rid: e.rid, op: e.op, principal: e.principal };
      if (e.target !== undefined) req.target = e.target;
      if (e.tenant !== undefined) req.tenant = e.tenant;
      if (e.key !== undefined) req.key = e.key;
      if (e.models !== undefined) req.models = e.models;
      it = this.handler(req, ctx)[Symbol.asyncIterator]();
    } catch (err) {
      return { kind: "threw", err };
    }
    try {
      for (;;) {
        if (this.aborted || writer.failed !== undefined) {
          stop(it);
          return this.stoppedEnding(writer);
        }
        const r = await it.next();
        if (r.done) return this.aborted || writer.failed !== undefined ? this.stoppedEnding(writer) : { kind: "done" };
        if (this.aborted || writer.failed !== undefined) continue;
        if (!writer.open) {
          this.dropped++;
          continue;
        }
        writer.write(r.value);
        const wait = writer.backpressure();
        if (wait) await wait;
      }
    } catch (err) {
      if (this.aborted || writer.failed !== undefined) return this.stoppedEnding(writer);
      return { kind: "threw", err };
    }
  }

  /**
   * A redelivery: what an earlier delivery left decides (see the top of this
   * file). Undefined: nothing is stored and nobody runs it — run it here.
   */
  private async redelivered(writer: ReplyWriter): Promise<Outcome | undefined> {
    const { env, delivery, deps } = this;
    let watched = false;
    // HISTORY unreadable (a NATS cluster electing its leader takes seconds): looked at again, the
    // delivery kept in progress, for as long as a publish is tried — a quick nak would spend deliveries
    let unreadable = Math.ceil((deps.publishRetryMs ?? 0) / (deps.watchMs ?? 1000));
    for (;;) {
      let stored: Stored;
      let alive: boolean;
      try {
        stored = await deps.stored(env, delivery.seq);
        // counted as a first delivery, only old enough to follow another: nothing stored, nothing to watch (and no probe's wait for a backlog)
        if (stored === "none" && delivery.deliveryCount === 1) return undefined;
        alive = stored !== "complete" && (await deps.runningElsewhere(env, delivery.seq));
      } catch (e) {
        if (!this.aborted && unreadable-- > 0) {
          delivery.working();
          await this.pause(deps.watchMs ?? 1000);
          continue;
        }
        this.log.warn({ err: (e as Error).message }, "could not read HISTORY for a redelivered request; it will be redelivered");
        return { kind: "nak", delayMs: backoffMs(delivery.deliveryCount) };
      }
      if (stored === "complete") {
        this.log.info(watched ? "the earlier delivery completed the answer" : "redelivered request was answered already");
        return { kind: "ack" };
      }
      if (!alive) {
        if (stored === "none") return undefined;
        this.log.warn("redelivered request: part of its answer is stored already; ending it as interrupted, not running it again");
        return this.interrupt(writer, "the worker handling it stopped");
      }
      if (this.aborted) {
        // whoever runs it hears the same cancel; a worker stopping leaves the watch to another
        return this.reason === "worker stopping" ? { kind: "nak", delayMs: 0 } : { kind: "ack" };
      }
      if (!watched)
        this.log.warn({ stored }, "redelivered request is still running elsewhere (the broker restarted, or a pause): watching it, not running it again");
      watched = true;
      delivery.working();
      await this.pause(deps.watchMs ?? 1000);
    }
  }

  /** Wait `ms`, or less if the run is stopped meanwhile. */
  private pause(ms: number): Promise<void> {
    const timers = this.deps.timers ?? realTimers;
    return new Promise<void>((resolve) => {
      const h = timers.setTimeout(resolve, ms);
      this.stopWaiting = () => {
        timers.clearTimeout(h);
        resolve();
      };
    });
  }

  private interrupt(writer: ReplyWriter, why: string): Promise<Outcome> {
    return this.answerWith(writer, interruptedReplies(this.env.proto, this.env.body, why), "interrupted", `interrupted: ${why}`);
  }

  /** Publish the message that ends the answer (errors, with End), then drop the request; if it cannot be stored, the redelivery decides. */
  private async answerWith(writer: ReplyWriter, replies: Reply[], id: "next" | "interrupted", reason: string): Promise<Outcome> {
    const ok = await writer.publishFinal(replies, id);
    if (!ok) {
      this.log.warn({ err: (writer.failed as Error)?.message }, "could not store the error reply; request will be redelivered");
      return { kind: "nak", delayMs: backoffMs(this.delivery.deliveryCount) };
    }
    return { kind: "term", reason };
  }
}

/**
 * What a handler gets. A class, not an object literal: a literal with a getter
 * is made the slow way, and V8 kept every request's objects alive through it
 * for a collection or two (young-generation survivors 1.2 MB → 0.2 MB in the
 * worker under load, its CPU per message down by a fifth).
 */
class RunContext implements HandlerContext {
  constructor(
    private readonly run: RequestRun,
    readonly log: Log,
  ) {}
  get signal(): AbortSignal {
    return this.run.signal;
  }
  working(): void {
    this.run.delivery.working();
  }
  cancelRequest(rid: string): void {
    this.run.cancelOther(rid);
  }
  committed(): void {
    this.run.committed = true;
  }
}

/** Let go of a handler: one waiting at a yield finishes (its finally blocks run); a hung one is left behind, never awaited. */
function stop(it: AsyncIterator<Reply>): void {
  void Promise.resolve()
    .then(() => it.return?.(undefined))
    .catch(() => {});
}

function reasonText(ending: Ending, failed: unknown): string {
  switch (ending.kind) {
    case "aborted":
      return ending.reason === "worker stopping" ? "the worker stopped" : ending.reason;
    case "threw":
      return "the handler failed";
    case "publishFailed":
      return (failed as { tooLarge?: boolean })?.tooLarge ? "a reply is too large for the message broker" : "a reply could not be stored";
    case "done":
      return "a reply could not be stored";
  }
}
