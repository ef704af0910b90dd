// After a storm, what HISTORY holds for the sessions that got no result: an
// answer stored but never delivered points at the gateway's delivery; an error
// stored, at the worker path; nothing at all, at INBOX or the workers.
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { HISTORY_STREAM, subjects, type SessionId } from "@radiant/wire";

export type HistoryVerdict = "answer stored" | "error stored" | "nothing of the request stored" | "no such session";

/** Each session's newest HISTORY message, told apart by what it is; counted by verdict. */
export async function lookUpInHistory(natsUrl: string, sids: string[]): Promise<Partial<Record<HistoryVerdict, number>>> {
  const nc = await connect({ servers: natsUrl, noAsyncTraces: true });
  try {
    const jsm = await jetstreamManager(nc);
    const out: Partial<Record<HistoryVerdict, number>> = {};
    for (const sid of sids) {
      let verdict: HistoryVerdict;
      try {
        const m = await jsm.direct.getMessage(HISTORY_STREAM, { last_by_subj: subjects.history(sid as SessionId) });
        const text = m ? new TextDecoder().decode(m.data) : "";
        verdict = !m
          ? "nothing of the request stored"
          : !text.includes('"id":"storm"')
            ? "nothing of the request stored"
            : text.includes('"result"')
              ? "answer stored"
              : "error stored";
      } catch {
        verdict = "no such session";
      }
      out[verdict] = (out[verdict] ?? 0) + 1;
    }
    return out;
  } finally {
    await nc.close();
  }
}
