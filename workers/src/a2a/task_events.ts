// An A2A task's events, each stored once (stream A2A_EVENTS, a subject per
// task) as its agent produces them: a resubscribe — from any worker, after any
// drop — replays them from the first and then follows the live ones, in
// order, each once (a JetStream ordered consumer does both).
import { DeliverPolicy, type JetStreamClient } from "@nats-io/jetstream";
import { A2A_EVENTS_STREAM, subjects } from "@radiant/wire";
import type { Task, TaskEvent } from "./shapes.js";

/** The first is the task as it was created; then its events. */
export type StoredEvent = { task: Task } | { event: TaskEvent };

export class TaskEvents {
  constructor(private readonly js: () => JetStreamClient) {}

  async publish(taskId: string, e: StoredEvent): Promise<void> {
    await this.js().publish(subjects.a2aEvents(taskId), JSON.stringify(e));
  }

  /** Every event of the task, stored then live, until `signal` or the caller stops reading. */
  async *follow(taskId: string, signal: AbortSignal): AsyncIterable<StoredEvent> {
    const c = await this.js().consumers.get(A2A_EVENTS_STREAM, { filter_subjects: subjects.a2aEvents(taskId), deliver_policy: DeliverPolicy.All });
    const messages = await c.consume({ max_messages: 256 });
    const stop = () => messages.stop();
    signal.addEventListener("abort", stop, { once: true });
    try {
      for await (const m of messages) yield m.json<StoredEvent>();
    } finally {
      signal.removeEventListener("abort", stop);
      messages.stop();
      // an ordered consumer would otherwise stay on the server for its inactivity threshold: one per follower
      await c.delete().catch(() => {});
    }
  }
}
