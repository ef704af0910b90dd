// The ReplyWriter: coalescing, pipelining, End. A fake publisher stands for
// JetStream (the end-to-end tests use a real one).
import t from "tap";
import { randomBytes } from "node:crypto";
import { headers, makeSessionId, MAX_FRAMES, replyMsgId, subjects } from "@radiant/wire";
import { rpcNotification, rpcResult, type Reply } from "./reply.js";
import { MAX_BATCH_BYTES, ReplyWriter, type WriterOptions } from "./writer.js";
import { FakePublisher, FakeTimers, tick } from "../test/fakes.js";

const sid = makeSessionId("wtest1", randomBytes(16));
const rid = "gwtest1abc";
const seq = 42;
const chunk = (i: number, pad = ""): Reply => rpcNotification("notifications/radiant.test/chunk", { i, pad });

function writer(pub: FakePublisher, o: Partial<WriterOptions> = {}): ReplyWriter {
  return new ReplyWriter(pub, { sid, rid, inboxSeq: seq, ingressTs: 1234, coalesceMs: 5, ...o });
}

/** Every frame text of every message, in order. */
const allTexts = (pub: FakePublisher): string[] => pub.messages.flatMap((m) => m.texts);

t.test("1,000 replies from a tight loop, 5 ms window: far fewer messages; every reply's bytes once, in order", async (t) => {
  const pub = new FakePublisher();
  const w = writer(pub);
  const replies = Array.from({ length: 1000 }, (_, i) => chunk(i));
  async function* handler() {
    for (const r of replies) yield r;
  }
  for await (const r of handler()) w.write(r);
  w.finish();
  await w.settled();
  const msgs = pub.messages;
  t.ok(msgs.length <= 5, `${msgs.length} messages for 1,000 replies`);
  t.same(
    allTexts(pub),
    replies.map((r) => r.body.toString()),
    "each reply exactly once, in order",
  );
  t.equal(
    Buffer.concat(pub.sent.map((s) => s.data)).toString(),
    Buffer.concat(replies.map((r) => r.body)).toString(),
    "bodies are the frames' bytes back to back",
  );
  t.same(
    msgs.map((m) => m.end),
    [...msgs.slice(1).map(() => false), true],
    "End on the last message only",
  );
  t.ok(
    msgs.every((m) => m.rid === rid),
    "every message carries the request id",
  );
  t.same(
    pub.sent.map((s) => s.msgId),
    msgs.map((_, i) => replyMsgId(sid, seq, i)),
    "message ids count the messages",
  );
  t.ok(pub.sent.every((s) => s.subject === subjects.history(sid) && s.h.get(headers.ingressTs) === "1234"));
  // every frame keeps its _meta slot, relative to the frame
  const f = msgs[msgs.length - 1]!;
  t.equal(f.frames.length, f.texts.length);
  t.ok(
    f.frames.every((fi) => fi.slot !== undefined && !fi.slot.inMeta),
    "slots kept",
  );
});

t.test("1,000 replies produced over many windows: about one message per window, each reply once", async (t) => {
  const pub = new FakePublisher();
  const w = writer(pub);
  const replies = Array.from({ length: 1000 }, (_, i) => chunk(i));
  const started = Date.now();
  for (let i = 0; i < replies.length; i++) {
    w.write(replies[i]!);
    if (i % 50 === 49) await new Promise((r) => setTimeout(r, 2));
  }
  const elapsed = Date.now() - started;
  w.finish();
  await w.settled();
  const n = pub.messages.length;
  t.ok(n < 100, `${n} messages in ${elapsed} ms`);
  t.ok(n <= Math.ceil(elapsed / 5) + 3, "at most about one message per window");
  t.same(
    allTexts(pub),
    replies.map((r) => r.body.toString()),
  );
});

t.test("at once when nothing is pending; gathered while the window is open; published when it ends", async (t) => {
  const pub = new FakePublisher("manual");
  const timers = new FakeTimers();
  const w = writer(pub, { timers });
  w.write(chunk(0));
  t.equal(pub.sent.length, 1, "the first reply went at once, synchronously");
  w.write(chunk(1));
  w.write(chunk(2));
  t.equal(pub.sent.length, 1, "the next ones wait for the window");
  timers.fire(5);
  t.equal(pub.sent.length, 2, "the window ended: one message for both");
  t.same(pub.messages[1]!.texts, [chunk(1).body.toString(), chunk(2).body.toString()]);
  t.equal(timers.pending.size, 1, "the window opened again after a batch");
  timers.fire(5);
  t.equal(pub.sent.length, 2, "an empty window publishes nothing…");
  t.equal(timers.pending.size, 0, "…and closes");
  w.write(chunk(3));
  t.equal(pub.sent.length, 3, "so the next reply goes at once again");
  pub.ackAll();
  w.finish();
  pub.ackAll();
  await w.settled();
});

t.test("a reply's head (an LLM stream's opening event) opens no window: the first token goes at once too", async (t) => {
  const pub = new FakePublisher("manual");
  const timers = new FakeTimers();
  const w = writer(pub, { timers });
  w.write({ ...chunk(0), head: { status: 200, stream: true } });
  w.write(chunk(1));
  t.equal(pub.sent.length, 2, "both at once");
  w.write(chunk(2));
  t.equal(pub.sent.length, 2, "the first token opened the window");
  timers.fire(5);
  t.equal(pub.sent.length, 3);
  pub.ackAll();
  w.finish();
  pub.ackAll();
  await w.settled();
});

t.test("coalescing off (0): every reply its own message, at once", async (t) => {
  const pub = new FakePublisher();
  const w = writer(pub, { coalesceMs: 0 });
  for (let i = 0; i < 10; i++) {
    w.write(chunk(i));
    t.equal(pub.sent.length, i + 1);
  }
  w.finish();
  await w.settled();
  t.equal(pub.messages.length, 11, "ten replies and the End marker");
  t.ok(pub.messages.slice(0, 10).every((m) => m.frames.length === 1 && !m.end));
});

t.test("a batch is published early when it reaches 256 KiB", async (t) => {
  const pub = new FakePublisher();
  const w = writer(pub);
  const pad = "p".repeat(2000);
  const replies = Array.from({ length: 600 }, (_, i) => chunk(i, pad));
  for (const r of replies) w.write(r);
  t.ok(pub.sent.length >= 4, `${pub.sent.length} messages before the window ended`);
  w.finish();
  await w.settled();
  t.ok(
    pub.sent.every((s) => s.data.length <= MAX_BATCH_BYTES),
    "none over 256 KiB",
  );
  t.ok(
    pub.sent.slice(1, -1).every((s) => s.data.length > MAX_BATCH_BYTES - 3000),
    "full batches",
  );
  t.same(
    allTexts(pub),
    replies.map((r) => r.body.toString()),
  );
});

t.test("End: on the message holding the reply marked last; nothing after it", async (t) => {
  const pub = new FakePublisher("manual");
  const timers = new FakeTimers();
  const w = writer(pub, { timers });
  w.write(chunk(0));
  w.write(chunk(1));
  w.write({ ...rpcResult(1, { ok: true }), last: true });
  t.equal(pub.sent.length, 2, "the last reply did not wait for the window");
  t.equal(timers.pending.size, 0, "and closed it");
  t.notOk(w.open, "the answer is complete");
  w.write(chunk(9));
  w.finish();
  pub.ackAll();
  await w.settled();
  const msgs = pub.messages;
  t.same(
    msgs.map((m) => m.end),
    [false, true],
  );
  t.equal(msgs[1]!.texts.length, 2, "the pending chunk and the result together");
  t.equal(msgs[1]!.frames[1]!.response, true, "the result is marked a response");
  t.equal(msgs[1]!.framesHeader.split(",")[1]!.endsWith("r"), true);
  t.equal(msgs.length, 2, "no End marker, nothing after End");
});

t.test("End: the pending batch carries it when the handler finishes", async (t) => {
  const pub = new FakePublisher("manual");
  const timers = new FakeTimers();
  const w = writer(pub, { timers });
  w.write(chunk(0));
  w.write(chunk(1));
  w.finish();
  pub.ackAll();
  await w.settled();
  t.same(
    pub.messages.map((m) => [m.texts.length, m.end]),
    [
      [1, false],
      [1, true],
    ],
  );
});

t.test("End marker: only when everything was already published without End", async (t) => {
  {
    const pub = new FakePublisher();
    const timers = new FakeTimers();
    const w = writer(pub, { timers });
    w.write(chunk(0));
    timers.fire();
    w.finish();
    await w.settled();
    const [, marker] = pub.messages;
    t.equal(pub.messages.length, 2);
    t.same([marker!.end, marker!.size, marker!.framesHeader, marker!.rid], [true, 0, "none", rid], "an empty End marker (frames none)");
  }
  {
    const pub = new FakePublisher();
    const w = writer(pub);
    w.finish();
    await w.settled();
    t.equal(pub.sent.length, 0, "nothing produced, nobody waiting: no marker");
  }
  {
    const pub = new FakePublisher();
    const w = writer(pub);
    w.finish(true);
    await w.settled();
    t.same(
      pub.messages.map((m) => [m.end, m.size]),
      [[true, 0]],
      "a cancelled request that produced nothing: a marker",
    );
  }
  {
    const pub = new FakePublisher();
    const w = writer(pub, { coalesceMs: 0 });
    w.write({ ...rpcResult(1, {}), last: true });
    w.finish(true);
    await w.settled();
    t.equal(pub.sent.length, 1, "ended already: no marker even when cancelled");
  }
});

t.test("pipelined: the second publish starts before the first is acked; settled() waits for all", async (t) => {
  const pub = new FakePublisher("manual");
  const w = writer(pub, { coalesceMs: 0 });
  w.write(chunk(0));
  w.write(chunk(1));
  w.write({ ...chunk(2), last: true });
  t.equal(pub.sent.length, 3, "three publishes out, none acked");
  t.notOk(pub.sent[0]!.settled);
  let settled = false;
  const done = w.settled().then(() => (settled = true));
  pub.sent[0]!.resolve();
  pub.sent[1]!.resolve();
  await tick();
  t.notOk(settled, "waits for the last ack");
  pub.sent[2]!.resolve();
  await done;
  t.equal(w.acked, 3);
});

t.test("a failed publish: recorded, and nothing more is published for the answer", async (t) => {
  const pub = new FakePublisher("manual");
  let failures = 0;
  const w = writer(pub, { coalesceMs: 0, onFailure: () => failures++ });
  w.write(chunk(0));
  w.write(chunk(1));
  pub.sent[0]!.reject(new Error("timeout"));
  pub.sent[1]!.resolve();
  await w.settled();
  t.equal(failures, 1);
  t.match(w.failed, { message: "timeout" });
  t.notOk(w.open);
  w.write(chunk(2));
  w.finish();
  t.equal(pub.sent.length, 2, "no more messages, no End marker");
  const final = w.publishFinal([{ ...rpcResult(1, {}), last: true }], "interrupted");
  pub.sent[2]!.resolve();
  t.equal(await final, true);
  t.equal(pub.sent[2]!.msgId, replyMsgId(sid, seq, "interrupted"));
  t.equal(pub.messages[2]!.end, true);
});

t.test("replies the wire cannot describe are refused (a handler's bug)", async (t) => {
  const w = writer(new FakePublisher());
  t.throws(() => w.write({ body: Buffer.from("{}"), event: "bad event\n" }), /SSE event name/);
  t.throws(() => w.write({ body: Buffer.from("{}"), slot: { offset: 9, inMeta: false } }), /slot/);
});

t.test("backpressure: the producer waits while too many bytes wait for their ack", async (t) => {
  const pub = new FakePublisher("manual");
  const w = writer(pub, { coalesceMs: 0, highWaterBytes: 1000 });
  w.write(chunk(0, "x".repeat(600)));
  t.equal(w.backpressure(), undefined);
  w.write(chunk(1, "x".repeat(600)));
  const wait = w.backpressure();
  t.ok(wait, "over the high-water mark");
  let released = false;
  void wait!.then(() => (released = true));
  pub.sent[0]!.resolve();
  await tick();
  t.notOk(released, "still over half of it");
  pub.sent[1]!.resolve();
  await tick();
  t.ok(released);
});

t.test("no message holds more frames than the contract's MAX_FRAMES, in a batch or in a final error", async (t) => {
  const pub = new FakePublisher();
  const w = writer(pub);
  const replies = Array.from({ length: 2500 }, (_, i) => chunk(i));
  for (const r of replies) w.write(r);
  w.finish();
  await w.settled();
  t.ok(
    pub.messages.every((m) => m.frames.length <= MAX_FRAMES),
    pub.messages.map((m) => m.frames.length).join(","),
  );
  t.same(
    allTexts(pub),
    replies.map((r) => r.body.toString()),
  );

  const pub2 = new FakePublisher();
  const w2 = writer(pub2);
  const errors = Array.from({ length: 2 * MAX_FRAMES + 5 }, (_, i) => ({ ...rpcResult(i, {}), response: true }));
  t.equal(await w2.publishFinal(errors, "interrupted"), true);
  t.same(
    pub2.messages.map((m) => [m.frames.length, m.end]),
    [
      [MAX_FRAMES, false],
      [MAX_FRAMES, false],
      [5, true],
    ],
  );
  t.equal(pub2.sent[2]!.msgId, replyMsgId(sid, seq, "interrupted"), "End on the interrupted id");
  t.equal(new Set(pub2.sent.map((s) => s.msgId)).size, 3);
});

t.test("a broker that goes away mid-answer: what was not acked is published again, in order, once stored; the answer goes on", async (t) => {
  // the third to sixth publishes fail (no ack: NATS restarting); every later attempt succeeds
  let attempts = 0;
  const down = new Set([3, 4, 5, 6]);
  const pub = new FakePublisher("auto", (_s, index) => (down.has(index) ? Object.assign(new Error("timeout: no ack"), { transient: true }) : undefined));
  const w = writer(pub, { coalesceMs: 0, retryMs: 10_000 });
  const replies = Array.from({ length: 12 }, (_, i) => chunk(i));
  for (const r of replies) {
    w.write(r);
    attempts++;
    await tick();
  }
  w.finish();
  await w.settled();
  t.equal(w.failed, undefined, "the answer did not fail");
  t.ok(w.ended);
  // what the stream stored: every accepted publish, a message id once (JetStream de-duplicates)
  const stored = new Map<string, string>();
  for (const s of pub.sent) if (s.settled && !down.has(pub.sent.indexOf(s))) stored.set(s.msgId, s.data.toString());
  const order = [...stored.keys()].map((id) => Number(id.slice(id.lastIndexOf(":") + 1)));
  t.same(
    order,
    [...order].sort((a, b) => a - b),
    "stored in order",
  );
  t.same([...stored.values()].join(""), [...replies.map((r) => r.body.toString()), ""].join(""), "every reply once, then the End marker");
  t.ok(pub.sent.length > attempts, "some were published again");
});

t.test("the link drops while a reply is unacked (lost with that connection): what comes after waits for it, so HISTORY keeps the order", async (t) => {
  const pub = new FakePublisher("manual");
  const gate = { open: true, epoch: 0, wait: () => Promise.resolve() };
  const w = writer(pub, { coalesceMs: 0, retryMs: 10_000, gate });
  w.write(chunk(0));
  await tick();
  pub.sent[0]!.resolve();
  w.write(chunk(1)); // written to a connection that is about to go: never acked
  await tick();
  gate.epoch++; // down and back up again
  w.write(chunk(2));
  await tick();
  t.equal(pub.sent.length, 2, "the reply after the drop is held, not published ahead of the unacked one");
  pub.sent[1]!.reject(Object.assign(new Error("timeout: no ack"), { transient: true }));
  for (let i = 0; i < 20 && pub.sent.length < 4; i++) {
    await tick();
    for (const s of pub.sent) if (!s.settled && pub.sent.indexOf(s) > 1) s.resolve();
  }
  w.finish();
  for (let i = 0; i < 20; i++) {
    await tick();
    pub.ackAll();
  }
  await w.settled();
  t.equal(w.failed, undefined, "the answer did not fail");
  const stored = pub.sent.filter((x, i) => i !== 1 && x.settled).map((x) => Number(x.msgId.slice(x.msgId.lastIndexOf(":") + 1)));
  t.same(stored.slice(0, 3), [0, 1, 2], "the lost one again, then the one after it");
});

t.test("a broker that stays away past the retry time: the answer fails (the caller decides: interrupted, or redelivered)", async (t) => {
  const pub = new FakePublisher("auto", (_s, index) => (index >= 2 ? Object.assign(new Error("no responders"), { transient: true }) : undefined));
  let failure: unknown;
  const w = writer(pub, { coalesceMs: 0, retryMs: 300, onFailure: (e) => (failure = e) });
  for (let i = 0; i < 5; i++) {
    w.write(chunk(i));
    await tick();
  }
  w.finish();
  await w.settled();
  t.match(failure, { message: "no responders" });
  t.equal(w.acked, 2, "the two stored before it");
});
