// What an earlier delivery stored, read through fakes of the two JetStream
// calls: a slow server (a fetch that brings nothing) is not an empty history.
import { randomBytes } from "node:crypto";
import t from "tap";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { headers, makeSessionId, newHeaders, putHeader, replyMsgId, type InboxEnvelope } from "@radiant/wire";
import { storedAnswer } from "./history.js";

const env: InboxEnvelope = {
  v: 2,
  sid: makeSessionId("htest1", randomBytes(16)),
  proto: "mcp",
  op: "rpc",
  rid: "gabc1",
  principal: "anonymous",
  ts: Date.now(),
  body: Buffer.from("{}"),
};
const SEQ = 42;

function msg(seq: number, end: boolean, pending: number) {
  const h = newHeaders();
  putHeader(h, headers.request, env.rid);
  putHeader(h, headers.msgId, replyMsgId(env.sid, SEQ, seq));
  if (end) putHeader(h, headers.end, "1");
  return { seq, headers: h, info: { pending } };
}

/** HISTORY holding `stored`, served by fetches that each bring the next batch (an empty one: the server was slow). */
function fakes(stored: ReturnType<typeof msg>[], batches: number[][]) {
  let fetches = 0;
  const js = {
    consumers: {
      get: async () => ({
        fetch: async () => {
          const want = batches[fetches++] ?? [];
          return (async function* () {
            for (const i of want) yield stored[i]!;
          })();
        },
        delete: async () => true,
      }),
    },
  } as unknown as JetStreamClient;
  const jsm = {
    direct: { getMessage: async () => (stored.length ? { seq: stored[stored.length - 1]!.seq, time: new Date() } : null) },
  } as unknown as JetStreamManager;
  return { js, jsm, fetches: () => fetches };
}

t.test("a fetch that brings nothing is read again, not taken for 'nothing stored'", async (t) => {
  const stored = [msg(10, false, 1), msg(11, false, 0)];
  const f = fakes(stored, [[], [], [0, 1]]);
  t.equal(await storedAnswer(f.js, f.jsm, env, SEQ), "partial");
  t.equal(f.fetches(), 3);
  const done = fakes([msg(10, false, 1), msg(11, true, 0)], [[], [0, 1]]);
  t.equal(await storedAnswer(done.js, done.jsm, env, SEQ), "complete");
});

t.test("nothing of the session stored since the request: none, without a consumer", async (t) => {
  const f = fakes([], []);
  t.equal(await storedAnswer(f.js, f.jsm, env, SEQ), "none");
  t.equal(f.fetches(), 0);
});

t.test("a server that never answers: an error in bounded time (the caller naks), never 'none'", async (t) => {
  const f = fakes([msg(10, false, 0)], []);
  await t.rejects(storedAnswer(f.js, f.jsm, env, SEQ, { timeoutMs: 50 }), /in time/);
});
