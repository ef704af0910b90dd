// Reading a session's messages back from HISTORY: direct gets by subject,
// which nats-server 2.9 serves (`next_by_subj`), answered by any replica.
import type { DirectStreamAPI } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/nats-core";
import { HISTORY_STREAM, subjects } from "@radiant/infra/wire";

/** A stored reply, as egress needs it. */
export interface StoredReply {
  seq: number;
  data: Uint8Array;
  headers: MsgHdrs | undefined;
}

export class History {
  constructor(private readonly direct: DirectStreamAPI) {}

  /** Whether message `seq` is still stored, and is the session's. */
  async holds(sid: string, seq: number): Promise<boolean> {
    const m = await this.direct.getMessage(HISTORY_STREAM, { seq });
    return m !== null && m.subject === subjects.history(sid);
  }

  /** The session's first stored message with a sequence above `after`, or null. */
  async next(sid: string, after: number): Promise<StoredReply | null> {
    const m = await this.direct.getMessage(HISTORY_STREAM, { next_by_subj: subjects.history(sid), seq: after + 1 });
    return m ? { seq: m.seq, data: m.data, headers: m.header } : null;
  }
}
