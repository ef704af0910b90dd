// The worker loop: pull from INBOX, run the protocol's handler, publish every
// reply ONCE to HISTORY (which stores it and republishes it live), and ack the
// request only after every reply's publish was acked.
import { jetstream, jetstreamManager, type JetStreamClient, type JsMsg, type ConsumerMessages } from "@nats-io/jetstream";
import { headers as natsHeaders, type NatsConnection, type Subscription } from "@nats-io/nats-core";
import type { Logger } from "pino";
import {
  EnvelopeError,
  INBOX_STREAM,
  WORKER_CONSUMER,
  WORKER_QUEUE,
  decodeInbox,
  formatMetaSlot,
  headers,
  replyMsgId,
  subjects,
  type InboxEnvelope,
  type SessionId,
} from "@radiant/infra/wire";
import { AckedPublisher, PublishError } from "@radiant/infra/publish";
import type { HandlerTable } from "./handler.js";
import { errorReplies } from "./errors.js";
import type { Reply } from "./reply.js";

export interface WorkerOptions {
  nc: NatsConnection;
  handlers: HandlerTable;
  log: Logger;
  /** requests handled at once */
  concurrency: number;
  /** a handler that runs longer is abandoned and the request retried */
  handlerTimeoutMs: number;
  maxDeliver: number;
  ackWaitMs: number;
}

class HandlerTimeout extends Error {}

export class Worker {
  private readonly js: JetStreamClient;
  private readonly publisher: AckedPublisher;
  private messages: ConsumerMessages | undefined;
  private advisories: Subscription | undefined;
  private inflight = 0;
  private slotFreed: (() => void) | undefined;
  private readonly idle = new Set<() => void>();
  private stopping = false;
  handled = 0;

  constructor(private readonly o: WorkerOptions) {
    this.js = jetstream(o.nc);
    this.publisher = new AckedPublisher(o.nc, 10_000);
  }

  async start(): Promise<void> {
    this.advisories = this.o.nc.subscribe(subjects.maxDeliveriesAdvisory(INBOX_STREAM, WORKER_CONSUMER), {
      queue: WORKER_QUEUE,
      callback: (err, m) => {
        if (!err) void this.onMaxDeliveries(m.json<{ stream_seq: number }>().stream_seq);
      },
    });
    const consumer = await this.js.consumers.get(INBOX_STREAM, WORKER_CONSUMER);
    this.messages = await consumer.consume({ max_messages: this.o.concurrency });
    void this.loop(this.messages);
  }

  private async loop(messages: ConsumerMessages): Promise<void> {
    for await (const m of messages) {
      if (this.inflight >= this.o.concurrency) await new Promise<void>((r) => (this.slotFreed = r));
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
      return;
    }
    const log = this.o.log.child({ sid: env.sid, proto: env.proto, seq: m.seq, delivery: m.info.deliveryCount });
    let next = 0;
    const keepAlive = setInterval(() => m.working(), Math.max(500, this.o.ackWaitMs / 3));
    try {
      const replies = this.o.handlers[env.proto](env.body, { sid: env.sid, principal: env.principal, log, working: () => m.working() });
      await withTimeout(this.o.handlerTimeoutMs, replies, async (r) => {
        await this.publishReply(env, m.seq, next++, r);
      });
      m.ack();
      this.handled++;
    } catch (e) {
      const last = m.info.deliveryCount >= this.o.maxDeliver;
      const timedOut = e instanceof HandlerTimeout;
      if (!timedOut && !last && isTransient(e)) {
        // NATS trouble while publishing: let another delivery try again
        log.warn({ err: (e as Error).message }, "reply publish failed, request will be redelivered");
        m.nak(backoffMs(m.info.deliveryCount));
        return;
      }
      if (timedOut && !last) {
        log.warn("handler timed out, request will be redelivered");
        m.nak(backoffMs(m.info.deliveryCount));
        return;
      }
      log.error({ err: (e as Error).message, timedOut, last }, "handler failed; answering with an error");
      try {
        const reason = timedOut ? `the request timed out ${m.info.deliveryCount} times` : "the handler failed";
        for (const r of errorReplies(env.proto, env.body, reason)) await this.publishReply(env, m.seq, next++, r);
        m.term(reason);
      } catch (e2) {
        log.warn({ err: (e2 as Error).message }, "could not publish the error reply; request will be redelivered");
        m.nak(backoffMs(m.info.deliveryCount));
      }
    } finally {
      clearInterval(keepAlive);
    }
  }

  private async publishReply(env: { sid: SessionId; ts: number }, inboxSeq: number, i: number, r: Reply): Promise<void> {
    const h = natsHeaders();
    h.set(headers.ingressTs, String(env.ts));
    if (r.metaSlot) h.set(headers.metaSlot, formatMetaSlot(r.metaSlot));
    if (r.responseTo !== undefined) h.set(headers.responseTo, r.responseTo);
    else if (r.relatedTo !== undefined) h.set(headers.relatedTo, r.relatedTo);
    await this.publisher.publish(subjects.history(env.sid), r.body, replyMsgId(env.sid, inboxSeq, i), h);
  }

  /** A request that used up its deliveries without an answer (a worker died on it each time): answer it with an error. */
  private async onMaxDeliveries(seq: number): Promise<void> {
    try {
      const jsm = await jetstreamManager(this.o.nc);
      const sm = await jsm.streams.getMessage(INBOX_STREAM, { seq });
      if (!sm) return;
      const env = decodeInbox(sm.data);
      let i = 1_000_000;
      for (const r of errorReplies(env.proto, env.body, `the request failed ${this.o.maxDeliver} times`)) await this.publishReply(env, seq, i++, r);
      await jsm.streams.deleteMessage(INBOX_STREAM, seq, false);
      this.o.log.warn({ sid: env.sid, seq }, "request ran out of deliveries; answered with an error");
    } catch (e) {
      this.o.log.debug({ seq, err: (e as Error).message }, "max-deliveries advisory not handled (already gone?)");
    }
  }

  /** Stop pulling, let the requests in hand finish. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.advisories?.unsubscribe();
    await this.messages?.close();
    if (this.inflight > 0) await new Promise<void>((r) => this.idle.add(r));
  }
}

function backoffMs(delivery: number): number {
  return Math.min(5000, 100 * 2 ** (delivery - 1));
}

function isTransient(e: unknown): boolean {
  if (e instanceof PublishError) return e.transient;
  const name = (e as Error)?.name ?? "";
  const msg = (e as Error)?.message ?? "";
  return /Timeout|NoResponders|ConnectionError|Closed|Draining/i.test(name) || /timeout|no responders|disconnect|closed/i.test(msg);
}

/** Run `each` over the handler's replies; past `ms`, stop taking replies and throw HandlerTimeout. */
async function withTimeout(ms: number, replies: AsyncIterable<Reply>, each: (r: Reply) => Promise<void>): Promise<void> {
  let t: NodeJS.Timeout | undefined;
  let timedOut = false;
  const it = replies[Symbol.asyncIterator]();
  const expired = new Promise<never>((_, rej) => {
    t = setTimeout(() => {
      timedOut = true;
      rej(new HandlerTimeout());
    }, ms);
  });
  expired.catch(() => {});
  try {
    for (;;) {
      const r = await Promise.race([it.next(), expired]);
      if (r.done) return;
      if (timedOut) throw new HandlerTimeout();
      await each(r.value);
    }
  } finally {
    clearTimeout(t);
    // a hung generator cannot be stopped, but one waiting at a yield can
    if (timedOut) void it.return?.(undefined);
  }
}
