// Reading a session's messages back from HISTORY: direct gets by subject,
// which nats-server 2.9 serves (`next_by_subj`), answered by any replica.
import { DeliverPolicy, type DirectStreamAPI, type JetStreamClient } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/nats-core";
import { HISTORY_STREAM, subjects, type SessionId } from "@radiant/infra/wire";

/** A stored reply, as egress needs it. */
export interface StoredReply {
  seq: number;
  data: Uint8Array;
  headers: MsgHdrs | undefined;
}

export class History {
  constructor(
    private readonly direct: DirectStreamAPI,
    private readonly js: JetStreamClient,
  ) {}

  /**
   * The session's messages after `after`, in batches through an ordered
   * consumer: for long replays, where a direct get per message would make
   * the replay one round trip per message. Ends once nothing is pending.
   */
  async *stream(sid: SessionId, after: number): AsyncGenerator<StoredReply> {
    for await (const batch of this.batches(sid, after)) yield* batch;
  }

  /** The same, a fetched batch at a time (at most 4 MiB), so a caller can check each batch before using it. */
  async *batches(sid: SessionId, after: number): AsyncGenerator<StoredReply[]> {
    const c = await this.js.consumers.get(HISTORY_STREAM, {
      filter_subjects: subjects.history(sid),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: after + 1,
    });
    try {
      for (;;) {
        const fetched = await c.fetch({ max_bytes: 4 * 1024 * 1024, expires: 1000 });
        const batch: StoredReply[] = [];
        let done = false;
        for await (const m of fetched) {
          batch.push({ seq: m.seq, data: m.data, headers: m.headers });
          if (m.info.pending === 0) {
            done = true;
            break;
          }
        }
        if (batch.length > 0) yield batch;
        if (done || batch.length === 0) return;
      }
    } finally {
      await c.delete().catch(() => {});
    }
  }

  /** Whether message `seq` is still stored, and is the session's. */
  async holds(sid: SessionId, seq: number): Promise<boolean> {
    const m = await this.direct.getMessage(HISTORY_STREAM, { seq });
    return m !== null && m.subject === subjects.history(sid);
  }

  /** The sequence of the session's newest stored message, or 0. */
  async last(sid: SessionId): Promise<number> {
    const m = await this.direct.getMessage(HISTORY_STREAM, { last_by_subj: subjects.history(sid) });
    return m ? m.seq : 0;
  }

  /** The session's first stored message with a sequence above `after`, or null. */
  async next(sid: SessionId, after: number): Promise<StoredReply | null> {
    const m = await this.direct.getMessage(HISTORY_STREAM, { next_by_subj: subjects.history(sid), seq: after + 1 });
    return m ? { seq: m.seq, data: m.data, headers: m.header } : null;
  }
}
