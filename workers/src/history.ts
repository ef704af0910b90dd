// What an earlier delivery of an INBOX message stored in HISTORY: read before
// a redelivered request runs again, so an answer is never generated twice.
// Headers only, from the request's ingress time on, through an ordered
// consumer on the session's subject; bounded in time. A message counts when it
// carries the request's rid AND a reply id of this INBOX message (a client
// that reused a JSON-RPC id later has the same rid, not the same INBOX seq).
import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { HISTORY_STREAM, headerOf, headers, replyMsgIdPrefix, subjects, type InboxEnvelope } from "@radiant/wire";
import type { Stored } from "./run.js";

export interface ProbeOptions {
  /** a gateway's clock may be ahead of the server's: start this much before the envelope's ts */
  skewMs?: number;
  /** give up (the caller naks) after this long */
  timeoutMs?: number;
}

export async function storedAnswer(js: JetStreamClient, jsm: JetStreamManager, env: InboxEnvelope, seq: number, o: ProbeOptions = {}): Promise<Stored> {
  const until = Date.now() + (o.timeoutMs ?? 10_000);
  const prefix = replyMsgIdPrefix(env.sid, seq);
  const subject = subjects.history(env.sid);
  const start = new Date(env.ts - (o.skewMs ?? 60_000));
  // the common case, nothing of the session stored since: no consumer, no fetch waiting out its expiry
  const newest = await jsm.direct.getMessage(HISTORY_STREAM, { last_by_subj: subject });
  if (!newest || newest.time < start) return "none";
  const c = await js.consumers.get(HISTORY_STREAM, {
    filter_subjects: subject,
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: start.toISOString(),
    headers_only: true,
  });
  let found: Stored = "none";
  try {
    for (;;) {
      if (Date.now() > until) throw new Error("HISTORY could not be read in time");
      const batch = await c.fetch({ max_messages: 1000, expires: 1000 });
      let done = false;
      for await (const m of batch) {
        const h = m.headers;
        if (headerOf(h, headers.request) === env.rid) {
          // the same rid from another INBOX message (a client's id reused) is not ours
          const id = headerOf(h, headers.msgId);
          if (id === "" || id.startsWith(prefix)) {
            found = "partial";
            if (headerOf(h, headers.end) === "1") return "complete";
          }
        }
        // read up to the newest message seen above: a fetch that brings nothing is a slow server, not an empty history
        if (m.seq >= newest.seq || m.info.pending === 0) {
          done = true;
          break;
        }
      }
      if (done) return found;
    }
  } finally {
    await c.delete().catch(() => {});
  }
}
