// End to end, a real nats-server and real worker processes: dispatch, replies
// with End, and streams coalesced into far fewer HISTORY messages than chunks.
import t, { type Test } from "tap";
import { waitFor } from "@radiant/infra/proc";
import { MAX_FRAMES, replyMsgId } from "@radiant/wire";
import { chunkIndices, framesOf, WorkerStack, type Session } from "./harness.js";

const rpc = (id: number | string, method: string, params?: Record<string, unknown>) => ({ jsonrpc: "2.0", id, method, ...(params ? { params } : {}) });

t.test("dispatch on (protocol, operation); every reply carries its rid and ends with End", async (t) => {
  const stack = await WorkerStack.start(t);
  await stack.startWorker();
  const s = await stack.session();

  const ping = await s.send(rpc(1, "ping"));
  const [m] = await s.ended(ping.rid);
  t.same(framesOf([m!]), [{ jsonrpc: "2.0", id: 1, result: {} }]);
  t.equal(m!.msgId, replyMsgId(s.sid, ping.seq, 0));
  t.ok(m!.frames[0]!.response, "marked a response");

  const chat = await s.send({ model: "m", messages: [] }, { proto: "openai", op: "chat" });
  t.match(framesOf(await s.ended(chat.rid)), [{ error: { message: /The model `m` does not exist/, code: "model_not_found" } }]);
  const models = await s.send("", { proto: "google", op: "models" });
  t.match(framesOf(await s.ended(models.rid)), [{ models: [] }], "Google's model list (empty: no exact names in the default table)");
  const a2a = await s.send(rpc(7, "tasks/get", { id: "no-such-task" }), { proto: "a2a", op: "rpc" });
  t.match(framesOf(await s.ended(a2a.rid)), [{ id: 7, error: { code: -32001 } }], "A2A's own handler: task not found");

  const boom = await s.send(rpc("b", "radiant.test/throw"));
  const failed = await s.ended(boom.rid);
  t.match(framesOf(failed), [{ id: "b", error: { code: -32603, message: /Internal error: the handler failed/ } }]);

  const batch = await s.send([rpc(1, "ping"), { jsonrpc: "2.0", method: "notifications/initialized" }, rpc(2, "radiant.test/echo", { x: 1 })]);
  const b = await s.ended(batch.rid);
  t.same(
    framesOf(b).map((f) => f.id),
    [1, 2],
  );
  t.equal(b.filter((x) => x.end).length, 1);
  t.ok(b[b.length - 1]!.end, "End on the message with the last response");

  await waitFor("INBOX empty", async () => (await stack.inboxMessages()) === 0, 10_000);
  t.equal(await stack.inboxMessages(), 0, "every request acked, or termed and removed");
  s.close();
});

interface Measured {
  messages: number;
  chunks: number;
}

async function stream(t: Test, s: Session, id: string, count: number, delayMs: number): Promise<Measured> {
  const { rid } = await s.send(rpc(id, "radiant.test/stream", { count, delayMs }));
  const live = await s.ended(rid, 60_000);
  const stored = (await s.stored()).filter((m) => m.rid === rid);
  t.same(
    stored.map((m) => m.msgId),
    live.map((m) => m.msgId),
    "what arrived live is what is stored",
  );
  const idx = chunkIndices(stored);
  t.same(
    idx,
    Array.from({ length: count }, (_, i) => i),
    "every chunk once, in order",
  );
  const frames = framesOf(stored);
  t.same(frames[frames.length - 1], { jsonrpc: "2.0", id, result: { count } }, "the result last");
  t.same(
    stored.map((m) => m.end),
    [...stored.slice(1).map(() => false), true],
    "End on the last message only",
  );
  t.ok(
    stored.every((m) => m.size <= 256 * 1024 && m.frames.length <= MAX_FRAMES),
    "bounded messages",
  );
  return { messages: stored.length, chunks: count };
}

t.test("a 2,000-chunk stream arrives whole and in order; coalescing makes far fewer messages (WORKER_COALESCE_MS default vs 0)", async (t) => {
  const stack = await WorkerStack.start(t);
  const results: Record<string, Measured> = {};
  const on = await stack.startWorker();
  {
    const s = await stack.session();
    results["default, delayMs 1"] = await stream(t, s, "d1", 2000, 1);
    results["default, delayMs 0"] = await stream(t, s, "d0", 2000, 0);
    s.close();
  }
  on.child.kill("SIGTERM");
  await new Promise((r) => on.child.once("exit", r));
  await stack.startWorker({ WORKER_COALESCE_MS: "0" });
  {
    const s = await stack.session();
    results["0 (off), delayMs 1"] = await stream(t, s, "o1", 2000, 1);
    results["0 (off), delayMs 0"] = await stream(t, s, "o0", 2000, 0);
    s.close();
  }
  for (const [k, v] of Object.entries(results)) t.comment(`messages per answer, WORKER_COALESCE_MS ${k}: ${v.messages} for ${v.chunks} chunks + result`);
  t.equal(results["0 (off), delayMs 1"]!.messages, 2001, "off: one message per frame");
  t.equal(results["0 (off), delayMs 0"]!.messages, 2001);
  t.ok(results["default, delayMs 1"]!.messages < 2000 / 3, "on, with delays between chunks: far fewer");
  t.ok(results["default, delayMs 0"]!.messages < 20, "on, a tight loop: a handful");
});
