// The JetStream topology: the streams, the workers' consumer and the KV
// buckets, their policies. One step writes it (`radiant topology apply`: applyTopology);
// every process checks at start that what it relies on is there
// (checkTopology) and refuses to run otherwise, so no process's settings
// overwrite another's.
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
import { Kvm, type KV, type KvOptions } from "@nats-io/kv";
import { nanos, type NatsConnection } from "@nats-io/nats-core";
import { MCP_SESSIONS_BUCKET } from "./mcp_bridge.js";
import { A2A_EVENTS_STREAM, A2A_TASKS_BUCKET, API_KEYS_BUCKET, ENDED_STREAM, HISTORY_STREAM, INBOX_STREAM, WORKER_CONSUMER, subjects } from "./subjects.js";

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

/** How long an A2A task is kept after its last change. */
export const A2A_TASKS_TTL_MS = 7 * 86_400_000;

/** The MCP bridge's store of upstream sessions: kept this long after a session's last change, at most this much. */
export interface McpStateSettings {
  ttlMs: number;
  /** past it, new state is refused (said in the bridge's log; a bridge started again opens those sessions afresh) */
  maxBytes: number;
}
export const defaultMcpState: McpStateSettings = { ttlMs: 86_400_000, maxBytes: 1024 ** 3 };
/** The variables that set them (read by `radiant topology apply`). */
export const mcpStateVariables = { ttlMs: "MCP_BRIDGE_STATE_TTL_MS", maxBytes: "MCP_BRIDGE_STATE_MAX_BYTES" } as const;

/** Each KV bucket and its settings; a full bucket refuses new entries (an error to its caller), never fills the disk. */
function kvBuckets(o: TopologySettings): Record<KvBucket, Partial<KvOptions>> {
  const mcp = o.mcpState ?? defaultMcpState;
  return {
    [API_KEYS_BUCKET]: { history: 1, max_bytes: 256 * 1024 ** 2 },
    [A2A_TASKS_BUCKET]: { history: 1, ttl: A2A_TASKS_TTL_MS, max_bytes: 1024 ** 3 },
    [MCP_SESSIONS_BUCKET]: { history: 1, ttl: mcp.ttlMs, max_bytes: mcp.maxBytes },
  };
}
export type KvBucket = typeof API_KEYS_BUCKET | typeof A2A_TASKS_BUCKET | typeof MCP_SESSIONS_BUCKET;

/**
 * A process's handle on a KV bucket: the bucket `radiant topology apply`
 * wrote, as it is (made here with the code's settings only where nothing has
 * written it: a test's bare nats-server).
 */
export function openBucket(nc: NatsConnection, bucket: KvBucket): Promise<KV> {
  return new Kvm(nc).create(bucket, kvBuckets({})[bucket]);
}

/** A bucket with these settings (replicas included), made or brought up to them. */
async function ensureBucket(jsm: JetStreamManager, bucket: KvBucket, opts: Partial<KvOptions>): Promise<void> {
  // Kvm.create makes the stream or binds to it as it is: what differs is updated below
  await new Kvm(jsm.jetstream()).create(bucket, opts);
  const name = `KV_${bucket}`;
  const { config } = await jsm.streams.info(name);
  await jsm.streams.update(name, {
    ...config,
    num_replicas: opts.replicas ?? 1,
    max_bytes: opts.max_bytes ?? -1,
    max_age: opts.ttl ? nanos(opts.ttl) : 0,
    // the server refuses a duplicate window longer than the age: a TTL under its 2-minute default
    ...(opts.ttl ? { duplicate_window: nanos(Math.min(opts.ttl, 120_000)) } : {}),
  });
}

const STREAM_NOT_FOUND = 10059;
const STREAM_NAME_IN_USE = 10058;
const CONSUMER_NOT_FOUND = 10014;

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

/** What `radiant topology apply` sets: the operator's choices, everything else is the code's. */
export interface TopologySettings {
  retention?: HistoryRetention;
  /** how long a worker may hold a request without progress before another gets it */
  ackWaitMs?: number;
  /** copies of every stream and KV bucket in a NATS cluster (1: a single server; 3: a node may be lost) */
  replicas?: number;
  mcpState?: McpStateSettings;
}

/** The variable that sets the workers' consumer's ack wait (read by `radiant topology apply`). */
export const ackWaitVariable = "WORKER_ACK_WAIT_MS";
/** The variable that sets the streams' replicas (read by `radiant topology apply`). */
export const replicasVariable = "JETSTREAM_REPLICAS";

const streamConfigs = (o: TopologySettings) =>
  [inboxStreamConfig(), historyStreamConfig(o.retention), endedStreamConfig(), a2aEventsStreamConfig()].map((c) =>
    o.replicas ? { ...c, num_replicas: o.replicas } : c,
  );

/**
 * Create the streams, the workers' consumer and the KV buckets, or bring them up to these
 * settings: the one step that writes the topology (`radiant topology apply`,
 * run by `make run` and by a deploy before the processes start).
 */
export async function applyTopology(jsm: JetStreamManager, o: TopologySettings = {}): Promise<void> {
  for (const cfg of streamConfigs(o)) await ensureStream(jsm, cfg);
  for (const [bucket, opts] of Object.entries(kvBuckets(o)) as [KvBucket, Partial<KvOptions>][])
    await ensureBucket(jsm, bucket, o.replicas ? { ...opts, replicas: o.replicas } : opts);
  // consumers.add is create-or-update for a durable with the same name
  await jsm.consumers.add(INBOX_STREAM, workerConsumerConfig(o.ackWaitMs));
}

/**
 * The settings of each stream the code depends on: a stream that differs in
 * one of them would break a guarantee (INBOX refusing when full, HISTORY's
 * republish and direct gets, de-duplication). Sizes and ages are the operator's.
 */
const RELIED_ON = ["subjects", "retention", "discard", "duplicate_window", "allow_direct", "republish"] as const;

/** What a process found when it checked the topology it needs. */
export interface TopologyCheck {
  /** each difference in words; empty when the topology is as this code needs it */
  problems: string[];
  /** the workers' consumer's ack wait, when it exists */
  ackWaitMs?: number;
}

/**
 * Check, without changing anything, that the streams (and with `consumer`,
 * the workers' consumer) exist as this code needs them. Throws only when
 * JetStream cannot be asked.
 */
export async function checkTopology(jsm: JetStreamManager, o: { consumer?: boolean } = {}): Promise<TopologyCheck> {
  const problems: string[] = [];
  for (const want of streamConfigs({})) {
    const have = await streamInfo(jsm, want.name);
    if (!have) {
      problems.push(`stream ${want.name} is missing`);
      continue;
    }
    for (const k of RELIED_ON) {
      if (want[k] === undefined) continue; // not ours to say (the server's default, e.g. a duplicate window)
      const w = normal(want[k]);
      const h = normal(have.config[k]);
      if (w !== h) problems.push(`stream ${want.name}: ${k} is ${h}, this version needs ${w}`);
    }
  }
  let ackWaitMs: number | undefined;
  if (o.consumer) {
    const c = await jsm.consumers.info(INBOX_STREAM, WORKER_CONSUMER).catch((e: unknown) => {
      if (e instanceof JetStreamApiError && e.code === CONSUMER_NOT_FOUND) return undefined;
      if (e instanceof JetStreamApiError && e.code === STREAM_NOT_FOUND) return undefined;
      throw e;
    });
    if (!c) problems.push(`consumer ${WORKER_CONSUMER} on ${INBOX_STREAM} is missing`);
    else {
      const want = workerConsumerConfig();
      if (c.config.ack_policy !== want.ack_policy)
        problems.push(`consumer ${WORKER_CONSUMER}: ack_policy is ${c.config.ack_policy}, this version needs ${want.ack_policy}`);
      if (c.config.max_deliver !== want.max_deliver)
        problems.push(`consumer ${WORKER_CONSUMER}: max_deliver is ${c.config.max_deliver}, this version needs ${want.max_deliver}`);
      ackWaitMs = Math.round((c.config.ack_wait ?? 0) / 1e6);
    }
  }
  return { problems, ackWaitMs };
}

async function streamInfo(jsm: JetStreamManager, name: string) {
  try {
    return await jsm.streams.info(name);
  } catch (e) {
    if (e instanceof JetStreamApiError && e.code === STREAM_NOT_FOUND) return undefined;
    throw e;
  }
}

/** A setting as text, absent and false alike (NATS leaves out what is off). */
function normal(v: unknown): string {
  if (v === undefined || v === null || v === false) return "unset";
  if (Array.isArray(v)) return JSON.stringify([...v].sort());
  if (typeof v === "object")
    return JSON.stringify(
      Object.fromEntries(
        Object.entries(v)
          .filter(([, x]) => x !== undefined && x !== false)
          .sort(),
      ),
    );
  return String(v);
}
