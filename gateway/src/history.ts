// Reading a session's messages back from HISTORY: direct gets by subject,
// which nats-server 2.9 serves (`next_by_subj`, answered by any replica), and
// batched reads through an ordered consumer for long catch-ups.
import { DeliverPolicy, type ConsumerConfig, type DirectStreamAPI, type JetStreamClient } from "@nats-io/jetstream";
import { HISTORY_STREAM, subjects, type SessionId } from "@radiant/wire";
import { stored, type HistoryReader, type Stored } from "./delivery.js";

export class History implements HistoryReader {
  constructor(
    private readonly direct: DirectStreamAPI,
    private readonly js: JetStreamClient,
  ) {}

  /**
   * The session's messages after `after`, a fetched batch at a time (at most
   * 4 MiB): a long replay costs a round trip per batch, not
   * per message, and a caller can check each batch before using it. Ends once
   * nothing is pending.
   */
  batches(sid: SessionId, after: number): AsyncGenerator<Stored[]> {
    return this.read(sid, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: after + 1 });
  }

  /** The session's messages stored since `sinceMs` (ms since epoch), in batches. */
  since(sid: SessionId, sinceMs: number): AsyncGenerator<Stored[]> {
    return this.read(sid, { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(sinceMs).toISOString() });
  }

  private async *read(sid: SessionId, start: Partial<ConsumerConfig>): AsyncGenerator<Stored[]> {
    const c = await this.js.consumers.get(HISTORY_STREAM, { filter_subjects: subjects.history(sid), ...start });
    try {
      for (;;) {
        const fetched = await c.fetch({ max_bytes: 4 * 1024 * 1024, expires: 1000 });
        const batch: Stored[] = [];
        let done = false;
        for await (const m of fetched) {
          batch.push(stored(m.seq, m.data, m.headers));
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

  /** Message `seq`, if it is the session's and still stored. */
  async get(sid: SessionId, seq: number): Promise<Stored | null> {
    const m = await this.direct.getMessage(HISTORY_STREAM, { seq });
    return m && m.subject === subjects.history(sid) ? stored(m.seq, m.data, m.header) : null;
  }

  /** The sequence of the session's newest stored message, or 0. */
  async last(sid: SessionId): Promise<number> {
    const m = await this.direct.getMessage(HISTORY_STREAM, { last_by_subj: subjects.history(sid) });
    return m ? m.seq : 0;
  }

  /** The session's first stored message with a sequence above `after`, or null. */
  async next(sid: SessionId, after: number): Promise<Stored | null> {
    const m = await this.direct.getMessage(HISTORY_STREAM, { next_by_subj: subjects.history(sid), seq: after + 1 });
    return m ? stored(m.seq, m.data, m.header) : null;
  }
}
