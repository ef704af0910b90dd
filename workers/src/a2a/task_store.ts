// A2A tasks in NATS KV, so any worker (and so any gateway process) answers
// GetTask, and a task outlives the session and socket that started it. Each
// task belongs to the principal that created it: another principal is told
// it does not exist.
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { A2A_TASK_ID_RE, A2A_TASKS_BUCKET, openBucket } from "@radiant/wire";
import type { PushConfig } from "./push.js";
import type { Task } from "./shapes.js";

export interface TaskRecord {
  task: Task;
  principal: string;
  /** ms since epoch */
  created: number;
  /** a task of an agent behind the gateway: which, and its id there (known once it answers) */
  upstream?: { agent: string; taskId: string };
  /** webhooks told of every change of the task's state */
  push?: PushConfig[];
}

export class TaskStore {
  private kvP: Promise<KV> | undefined;

  constructor(private readonly nc: () => NatsConnection) {}

  private kv(): Promise<KV> {
    this.kvP ??= openBucket(this.nc(), A2A_TASKS_BUCKET).catch((e: unknown) => {
      this.kvP = undefined;
      throw e;
    });
    return this.kvP;
  }

  /** The task and its revision, if it exists and is this principal's. */
  async get(id: unknown, principal: string): Promise<{ record: TaskRecord; revision: number } | undefined> {
    if (typeof id !== "string" || !A2A_TASK_ID_RE.test(id)) return undefined;
    const e = await (await this.kv()).get(id);
    if (e?.operation !== "PUT" || e.value.byteLength === 0) return undefined;
    const record = e.json<TaskRecord>();
    return record.principal === principal ? { record, revision: e.revision } : undefined;
  }

  async create(record: TaskRecord): Promise<number> {
    return (await this.kv()).create(record.task.id, JSON.stringify(record));
  }

  /** Write a newer state of a task; with `revision`, only if nobody wrote it since (else false). */
  async put(record: TaskRecord, revision?: number): Promise<number | false> {
    const kv = await this.kv();
    try {
      return revision === undefined ? await kv.put(record.task.id, JSON.stringify(record)) : await kv.update(record.task.id, JSON.stringify(record), revision);
    } catch (e) {
      if (revision !== undefined && /wrong last sequence/i.test(String(e))) return false;
      throw e;
    }
  }

  /** This principal's tasks, newest first (a scan of the bucket: fine for the tasks of a gateway, not for millions). */
  async list(principal: string, limit = 200): Promise<TaskRecord[]> {
    const kv = await this.kv();
    const out: TaskRecord[] = [];
    const keys = await kv.keys();
    for await (const k of keys) {
      const e = await kv.get(k);
      if (e?.operation !== "PUT" || e.value.byteLength === 0) continue;
      const r = e.json<TaskRecord>();
      if (r.principal === principal) out.push(r);
      if (out.length >= limit) break;
    }
    return out.sort((a, b) => b.created - a.created);
  }
}
