// The JetStream topology: the streams and the workers' consumer, their
// policies, created or brought up to date idempotently. Gateway and workers
// both call ensureTopology at start, so any process may come up first and any
// number may run.
import {
  AckPolicy,
  DiscardPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
  type ConsumerConfig,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { A2A_EVENTS_STREAM, ENDED_STREAM, HISTORY_STREAM, INBOX_STREAM, WORKER_CONSUMER, subjects } from "./subjects.js";

export const inboxPolicy = {
  /** a frame re-sent within this window with the same Nats-Msg-Id is stored once */
  duplicateWindowMs: 2 * 60_000,
  /** deliveries before a request is answered with an error and dropped */
  maxDeliver: 5,
  /** a worker holding a request longer than this without acking loses it to another */
  ackWaitMs: 30_000,
} as const;

export interface HistoryRetention {
  /** messages kept per session (per subject) */
  maxMsgsPerSession: number;
  /** how long a message is kept */
  maxAgeMs: number;
  /** cap on the whole stream, bytes */
  maxBytes: number;
}

export const defaultHistoryRetention: HistoryRetention = {
  maxMsgsPerSession: 10_000,
  maxAgeMs: 24 * 3600_000,
  maxBytes: 8 * 1024 ** 3,
};

/** The retention every process applies to HISTORY: set the same values on all of them. */
export const retentionVariables = {
  maxMsgsPerSession: "HISTORY_MAX_MSGS_PER_SESSION",
  maxAgeS: "HISTORY_MAX_AGE",
  maxBytes: "HISTORY_MAX_BYTES",
} as const;

export function inboxStreamConfig(): Partial<StreamConfig> & { name: string } {
  return {
    name: INBOX_STREAM,
    subjects: [subjects.inboxAll],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: nanos(inboxPolicy.duplicateWindowMs),
    // A full INBOX refuses new frames (the client gets an error) rather than
    // dropping requests already accepted.
    discard: DiscardPolicy.New,
    max_bytes: 1024 ** 3,
    // a backstop: a request nobody took in a day is of use to no one (nats-server 2.9 keeps
    // a termed message in a work queue; workers delete them, this catches what they miss)
    max_age: nanos(24 * 3600_000),
  };
}

export function historyStreamConfig(r: HistoryRetention = defaultHistoryRetention): Partial<StreamConfig> & { name: string } {
  return {
    name: HISTORY_STREAM,
    subjects: [subjects.historyAll],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_msgs_per_subject: r.maxMsgsPerSession,
    max_age: nanos(r.maxAgeMs),
    max_bytes: r.maxBytes,
    discard: DiscardPolicy.Old,
    // idempotent worker replies: a redelivered request does not store its reply twice
    duplicate_window: nanos(inboxPolicy.duplicateWindowMs),
    allow_direct: true,
    // One publish both stores and delivers: the server republishes every stored
    // message to the core live subject with Nats-Sequence / Nats-Last-Sequence.
    republish: { src: subjects.historyAll, dest: subjects.liveAll },
  };
}

/**
 * Sessions their clients ended. A record only has to outlive every token
 * that could name the session, so it is kept as long as the longest token
 * lifetime a gateway accepts (30 days).
 */
export const ENDED_MAX_AGE_MS = 30 * 86_400_000;

export function endedStreamConfig(): Partial<StreamConfig> & { name: string } {
  return {
    name: ENDED_STREAM,
    subjects: [subjects.endedAll],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_msgs_per_subject: 1,
    max_age: nanos(ENDED_MAX_AGE_MS),
    discard: DiscardPolicy.Old,
  };
}

/** A2A tasks' events, kept as long as the tasks (a week after their last change). */
export const A2A_EVENTS_MAX_AGE_MS = 7 * 86_400_000;
/** …and at most this much of them (the oldest go first): a flood of tasks cannot fill the disk INBOX and HISTORY share */
export const A2A_EVENTS_MAX_BYTES = 1024 * 1024 * 1024;

export function a2aEventsStreamConfig(): Partial<StreamConfig> & { name: string } {
  return {
    name: A2A_EVENTS_STREAM,
    subjects: [subjects.a2aEventsAll],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_msgs_per_subject: 10_000,
    max_bytes: A2A_EVENTS_MAX_BYTES,
    max_age: nanos(A2A_EVENTS_MAX_AGE_MS),
    discard: DiscardPolicy.Old,
  };
}

export function workerConsumerConfig(ackWaitMs: number = inboxPolicy.ackWaitMs): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    durable_name: WORKER_CONSUMER,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(ackWaitMs),
    max_deliver: inboxPolicy.maxDeliver,
    max_ack_pending: 10_000,
  };
}

const STREAM_NOT_FOUND = 10059;
const STREAM_NAME_IN_USE = 10058;

async function ensureStream(jsm: JetStreamManager, cfg: Partial<StreamConfig> & { name: string }): Promise<void> {
  try {
    await jsm.streams.info(cfg.name);
  } catch (e) {
    if (!(e instanceof JetStreamApiError) || e.code !== STREAM_NOT_FOUND) throw e;
    try {
      await jsm.streams.add(cfg);
      return;
    } catch (e2) {
      // another process created it between our info and add
      if (!(e2 instanceof JetStreamApiError) || e2.code !== STREAM_NAME_IN_USE) throw e2;
    }
  }
  const { name, ...rest } = cfg;
  await jsm.streams.update(name, rest);
}

export interface TopologyOptions {
  retention?: HistoryRetention;
  /** set by workers, who own the consumer; the gateway leaves it alone */
  consumer?: { ackWaitMs: number };
}

export async function ensureTopology(jsm: JetStreamManager, o: TopologyOptions = {}): Promise<void> {
  await ensureStream(jsm, inboxStreamConfig());
  await ensureStream(jsm, historyStreamConfig(o.retention));
  await ensureStream(jsm, endedStreamConfig());
  await ensureStream(jsm, a2aEventsStreamConfig());
  // consumers.add is create-or-update for a durable with the same name
  if (o.consumer) await jsm.consumers.add(INBOX_STREAM, workerConsumerConfig(o.consumer.ackWaitMs));
}
