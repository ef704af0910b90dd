// Reading a session's messages back from HISTORY: direct gets by subject,
// which nats-server 2.9 serves (`next_by_subj`, answered by any replica), and
// batched reads through an ordered consumer for long catch-ups.
import { DeliverPolicy, type ConsumerConfig, type DirectStreamAPI, type JetStreamClient } from "@nats-io/jetstream";
import { HISTORY_STREAM, subjects, type SessionId } from "@radiant/wire";
import { stored, type HistoryReader, type Stored } from "./delivery.js";

/** bytes a batched read has fetched ahead of its caller, at most */
const READ_AHEAD_BYTES = 4 * 1024 * 1024;
/** a batched read that hears nothing for this long ends */
const READ_IDLE_MS = 1000;

export class History implements HistoryReader {
  constructor(
    private readonly direct: DirectStreamAPI,
    private readonly js: JetStreamClient,
  ) {}

  /**
   * The session's messages after `after`, a batch at a time (what has arrived
   * so far, at most READ_AHEAD_BYTES): a long replay costs a round trip per
   * pull, not per message, and a caller can check each batch before using it.
   * Ends once nothing is pending.
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
    // consume, not fetch: a fetch that fills its max_bytes ends with a 409 that nats.js turns into an
    // error, dropping the messages it had queued while its cursor has moved past them; consume pulls again
    const messages = await c.consume({ max_bytes: READ_AHEAD_BYTES, expires: 5000 });
    // nothing (more) to read, or a message bigger than READ_AHEAD_BYTES (consume waits on it):
    // end here, and the caller reads on one message at a time
    const stop = () => void messages.stop();
    let idle = setTimeout(stop, READ_IDLE_MS);
    try {
      let batch: Stored[] = [];
      for await (const m of messages) {
        batch.push(stored(m.seq, m.data, m.headers));
        const last = m.info.pending === 0;
        if (!last && messages.getPending() > 0) continue; // more already here: one batch
        clearTimeout(idle);
        yield batch;
        if (last) return;
        batch = [];
        idle = setTimeout(stop, READ_IDLE_MS);
      }
    } finally {
      clearTimeout(idle);
      messages.stop();
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
