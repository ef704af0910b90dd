// The worker loop: pull from INBOX, dispatch on (protocol, operation), run the
// request (run.ts: publishing, End, the retry policy), and ack, nak or term the
// INBOX message as the run decides. Also: the cancel and ended notices that
// stop running requests, and the max-deliveries advisory.
import { jetstream, jetstreamManager, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import type { Logger } from "pino";
import {
  type EnvelopeError,
  INBOX_STREAM,
  WORKER_CONSUMER,
  WORKER_QUEUE,
  controlHeaders,
  decodeInbox,
  subjects,
  type InboxEnvelope,
  type SessionId,
} from "@radiant/wire";
import { LazyLog, type Log } from "@radiant/infra/log";
import { AckedPublisher } from "@radiant/infra/publish";
import { AckBatch } from "./acks.js";
import type { Handler, HandlerTable } from "./handler.js";
import { internalErrorReplies } from "./errors.js";
import { storedAnswer } from "./history.js";
import { RequestRun, type Outcome, type RunDeps } from "./run.js";
import { Running } from "./running.js";
import { unsupportedHandler } from "./handler_unsupported.js";
import { ReplyWriter, type LinkGate, type ReplyPublisher } from "./writer.js";
import type { NatsLink } from "@radiant/infra/nats";

export interface WorkerOptions {
  nc: NatsConnection;
  handlers: HandlerTable;
  log: Logger;
  /** requests handled at once */
  concurrency: number;
  /** a handler that runs longer is aborted ("timed out") */
  handlerTimeoutMs: number;
  maxDeliver: number;
  ackWaitMs: number;
  /** coalescing window for a request's replies (0: off) */
  coalesceMs: number;
  /** how long a reply publish that failed for a passing reason (NATS restarting) is tried again */
  publishRetryMs: number;
  /** how long a reply publish may wait for its ack */
  publishTimeoutMs?: number;
  /** the NATS link's state (writers hold publishes while it is down) */
  gate?: LinkGate;
}

/** How long a redelivery waits for the worker running the earlier delivery to say so. */
const RUNNING_PROBE_MS = 1000;

/** A LinkGate fed by the NATS link's status. */
export class NatsGate implements LinkGate {
  open = true;
  epoch = 0;
  private waiters: (() => void)[] = [];
  constructor(link: Pick<NatsLink, "onDisconnect" | "onReconnect">) {
    link.onDisconnect(() => {
      this.open = false;
      this.epoch++;
    });
    link.onReconnect(() => {
      this.open = true;
      for (const w of this.waiters.splice(0)) w();
    });
  }
  wait(): Promise<void> {
    return this.open ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }
}

/** The handler for (proto, op), or the protocol's "unsupported" answer. */
export function dispatch(table: HandlerTable, env: Pick<InboxEnvelope, "proto" | "op">): Handler {
  const ops = table[env.proto] as Partial<Record<string, Handler>>;
  const h = Object.hasOwn(ops, env.op) ? ops[env.op] : undefined;
  return h ?? unsupportedHandler(env.proto, env.op);
}

export class Worker {
  private readonly js: JetStreamClient;
  private readonly publisher: AckedPublisher & ReplyPublisher;
  private readonly running = new Running<RequestRun>();
  private readonly acks = new AckBatch();
  private keepAlive: NodeJS.Timeout | undefined;
  /** what every request's run is given (one object for all: a request costs what it must, no more) */
  private readonly runDeps: RunDeps;
  private messages: ConsumerMessages | undefined;
  private readonly subs: Subscription[] = [];
  private inflight = 0;
  private slotFreed: (() => void) | undefined;
  private readonly idle = new Set<() => void>();
  private loopDone: Promise<void> = Promise.resolve();
  private jsmP: Promise<JetStreamManager> | undefined;
  private stopping = false;
  handled = 0;

  constructor(private readonly o: WorkerOptions) {
    this.js = jetstream(o.nc);
    this.publisher = new AckedPublisher(o.nc, o.publishTimeoutMs ?? 10_000);
    this.runDeps = {
      publisher: this.publisher,
      log: o.log,
      coalesceMs: o.coalesceMs,
      publishRetryMs: o.publishRetryMs,
      gate: o.gate,
      handlerTimeoutMs: o.handlerTimeoutMs,
      maxDeliver: o.maxDeliver,
      ackWaitMs: o.ackWaitMs,
      stored: async (e, seq) => storedAnswer(this.js, await this.jsm(), e, seq),
      runningElsewhere: (e, seq) => this.runningElsewhere(e.sid, seq),
      watchMs: Math.max(500, Math.floor(o.ackWaitMs / 3)),
      cancelRequest: (sid, rid) => this.cancelRequest(sid, rid),
    };
  }

  async start(): Promise<void> {
    const { nc, log } = this.o;
    // one timer for all: every request held tells JetStream it is still being worked on (else it is redelivered after ackWait)
    this.keepAlive = setInterval(
      () => {
        for (const r of this.running.all()) r.delivery.working();
      },
      Math.max(500, this.o.ackWaitMs / 3),
    );
    this.keepAlive.unref();
    this.subs.push(
      nc.subscribe(subjects.maxDeliveriesAdvisory(INBOX_STREAM, WORKER_CONSUMER), {
        queue: WORKER_QUEUE,
        callback: (err, m) => {
          if (err) return;
          let seq: unknown;
          try {
            seq = m.json<{ stream_seq?: unknown }>().stream_seq;
          } catch {
            return;
          }
          if (typeof seq === "number") void this.onMaxDeliveries(seq);
        },
      }),
      // every worker hears every notice: whichever runs the request stops it
      nc.subscribe(subjects.cancelAll, {
        callback: (err, m) => {
          if (err) return;
          const c = this.running.onCancelNotice(m.subject, m.headers);
          if (c) log.debug({ sid: c.sid, rid: c.rid, reason: c.reason, running: c.running }, "cancel notice");
        },
      }),
      // every worker hears it; the one running that delivery answers (run.ts: a redelivery watches a live run)
      nc.subscribe(subjects.runningAll, {
        callback: (err, m) => {
          if (err) return;
          const sid = subjects.sidOfRunning(m.subject);
          const seq = Number(m.string());
          if (sid && Number.isSafeInteger(seq) && this.running.producing(sid, seq)) m.respond();
        },
      }),
      nc.subscribe(subjects.endedAll, {
        callback: (err, m) => {
          if (err) return;
          const e = this.running.onEnded(m.subject);
          if (e?.running) log.info({ sid: e.sid, running: e.running }, "session ended: stopping its requests");
        },
      }),
    );
    // the notices must be heard before the first request runs
    await nc.flush();
    const consumer = await this.js.consumers.get(INBOX_STREAM, WORKER_CONSUMER);
    // pulls that expire in 5 s, heartbeats every 2.5 s: when a NATS node is lost with the consumer's
    // leader, the pull it held is noticed gone and made again in seconds (nats.js: 30 s, then 60)
    this.messages = await consumer.consume({ max_messages: this.o.concurrency, expires: 5000 });
    this.loopDone = this.loop(this.messages);
  }

  /** Requests running right now. */
  get active(): number {
    return this.running.size;
  }

  private async loop(messages: ConsumerMessages): Promise<void> {
    for await (const m of messages) {
      if (this.inflight >= this.o.concurrency && !this.stopping) await new Promise<void>((r) => (this.slotFreed = r));
      if (this.stopping) {
        // pulled but not started: straight back for another worker
        m.nak();
        continue;
      }
      this.inflight++;
      void this.process(m).finally(() => {
        this.inflight--;
        const r = this.slotFreed;
        this.slotFreed = undefined;
        r?.();
        if (this.inflight === 0) for (const f of this.idle) f();
      });
    }
  }

  private async process(m: JsMsg): Promise<void> {
    let env: InboxEnvelope;
    try {
      env = decodeInbox(m.data);
    } catch (e) {
      // no session to answer: nothing but a log line can be done
      this.o.log.error({ seq: m.seq, err: (e as EnvelopeError).message }, "dropping undecodable INBOX message");
      m.term("undecodable envelope");
      await this.removeFromInbox(m.seq, this.o.log);
      return;
    }
    const { deliveryCount, timestampNanos } = m.info;
    const log = new LazyLog(this.o.log, () => ({ sid: env.sid, proto: env.proto, op: env.op, rid: env.rid, seq: m.seq, delivery: deliveryCount }));
    const run = new RequestRun(
      env,
      { seq: m.seq, deliveryCount, storedAtMs: timestampNanos / 1e6, working: () => m.working() },
      dispatch(this.o.handlers, env),
      this.runDeps,
      log,
    );
    this.running.add(run);
    if (this.stopping) run.abort("worker stopping");

    let outcome: Outcome;
    try {
      outcome = await run.run();
    } catch (e) {
      // a bug in the run itself: let a redelivery try
      log.error({ err: (e as Error).stack }, "request run failed");
      outcome = { kind: "nak", delayMs: 1000 };
    } finally {
      this.running.delete(run);
    }
    if (this.o.log.isLevelEnabled("debug"))
      log.debug({ outcome: outcome.kind, ...(outcome.kind === "nak" ? { delayMs: outcome.delayMs } : {}) }, "request handled");
    switch (outcome.kind) {
      case "ack":
        this.acks.ack(m);
        this.handled++;
        break;
      case "nak":
        m.nak(outcome.delayMs);
        break;
      case "term":
        m.term(outcome.reason);
        this.handled++;
        await this.removeFromInbox(m.seq, log);
        break;
    }
  }

  /** A WorkQueue stream keeps a termed message (nats-server 2.9) and INBOX has no max age: remove it. */
  private async removeFromInbox(seq: number, log: Log): Promise<void> {
    try {
      await (await this.jsm()).streams.deleteMessage(INBOX_STREAM, seq, false);
    } catch (e) {
      log.debug({ seq, err: (e as Error).message }, "could not remove a termed request from INBOX");
    }
  }

  private jsm(): Promise<JetStreamManager> {
    this.jsmP ??= jetstreamManager(this.o.nc, { checkAPI: false }).catch((e: unknown) => {
      this.jsmP = undefined;
      throw e;
    });
    return this.jsmP;
  }

  /** Whether a delivery of INBOX message `seq` runs its handler, here or on another worker (who runs it answers; silence is no). */
  private async runningElsewhere(sid: SessionId, seq: number): Promise<boolean> {
    if (this.running.producing(sid, seq)) return true;
    try {
      await this.o.nc.request(subjects.running(sid), String(seq), { timeout: RUNNING_PROBE_MS });
      return true;
    } catch {
      return false;
    }
  }

  /** A handler asks to stop another request of its session (MCP notifications/cancelled): every worker hears it, this one first. */
  private cancelRequest(sid: SessionId, rid: string): void {
    this.running.cancel(sid, rid, "cancelled by the client");
    try {
      this.o.nc.publish(subjects.cancel(sid), undefined, { headers: controlHeaders({ kind: "cancel", rid, reason: "cancelled by the client" }) });
    } catch (e) {
      this.o.log.warn({ sid, rid, err: (e as Error).message }, "could not publish a cancel notice");
    }
  }

  /** A request that used up its deliveries without an answer (a worker died on it each time): answer it with an error, End included. */
  private async onMaxDeliveries(seq: number): Promise<void> {
    try {
      const jsm = await this.jsm();
      const sm = await jsm.streams.getMessage(INBOX_STREAM, { seq });
      if (!sm) return;
      const env = decodeInbox(sm.data);
      const writer = new ReplyWriter(this.publisher, { sid: env.sid, rid: env.rid, inboxSeq: seq, ingressTs: env.ts, coalesceMs: 0 });
      // the id of the one message that ends an answer which could not be completed: stored once, whoever sends it
      const ok = await writer.publishFinal(internalErrorReplies(env.proto, env.body, `the request failed ${this.o.maxDeliver} times`), "interrupted");
      if (!ok) throw writer.failed;
      await jsm.streams.deleteMessage(INBOX_STREAM, seq, false);
      this.o.log.warn({ sid: env.sid, rid: env.rid, seq }, "request ran out of deliveries; answered with an error");
    } catch (e) {
      this.o.log.debug({ seq, err: (e as Error)?.message }, "max-deliveries advisory not handled (already gone?)");
    }
  }

  /** Stop: pull nothing more, abort every running request ("worker stopping"), wait until each was acked, naked or termed. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const s of this.subs) s.unsubscribe();
    const r = this.slotFreed;
    this.slotFreed = undefined;
    r?.();
    const closed = this.messages?.close();
    this.running.abortAll("worker stopping");
    if (this.inflight > 0) await new Promise<void>((res) => this.idle.add(res));
    this.acks.flush();
    clearInterval(this.keepAlive);
    await closed;
    await this.loopDone;
  }
}
