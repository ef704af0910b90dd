// The delivery state machine with a fake NATS link and a fake HISTORY: live
// messages in order, early ones held, gaps read back, slow sinks caught up,
// replies routed to the request that waits for them, resumes that rewind, and
// a loss never passed over in silence. The real thing runs in gateway/test.
import t from "tap";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { endOf, headers, makeSessionId, position, subjects } from "@radiant/wire";
import { FakeNats, Recorder, until } from "../test/fake_nats.js";
import { Delivery } from "./delivery.js";

const HOME = "homeAA";
const SID = makeSessionId(HOME, new Uint8Array(16).fill(1));
const AWAY = makeSessionId("awayBB", new Uint8Array(16).fill(2));

function setup(o: { maxBackpressure?: number } = {}) {
  const nats = new FakeNats();
  const notices: unknown[] = [];
  const d = new Delivery(nats, nats, {
    home: HOME,
    maxBackpressure: o.maxBackpressure ?? 1000,
    gapWaitMs: 20,
    maxHeld: 100,
    onControl: (_sid, c) => notices.push(c),
  });
  return { nats, d, notices };
}

t.test("live messages in order go straight to the stream", async (t) => {
  const { nats, d } = setup();
  const s = new Recorder();
  d.startStream(SID, s);
  for (const b of ["a", "b", "c"]) nats.deliver(nats.store(SID, b));
  t.same(s.bodies, ["a", "b", "c"]);
  t.equal(d.homeSessions, 1, "fed by the home subscription");
  t.notOk(nats.subs.has(subjects.live(SID)), "no subscription of its own");
});

t.test("a message that arrives before the one it follows waits for it", async (t) => {
  const { nats, d } = setup();
  const s = new Recorder();
  d.startStream(SID, s);
  const [a, b, c] = ["a", "b", "c"].map((x) => nats.store(SID, x));
  nats.deliver(a!);
  nats.deliver(c!);
  t.same(s.bodies, ["a"], "c is held");
  nats.deliver(b!);
  t.same(s.bodies, ["a", "b", "c"], "released in order once b came");
});

t.test("a gap the live path never fills is read from HISTORY, in its place", async (t) => {
  const { nats, d } = setup();
  const s = new Recorder();
  d.startStream(SID, s);
  const [a, , c] = ["a", "b", "c"].map((x) => nats.store(SID, x));
  nats.deliver(a!);
  nats.deliver(c!);
  await until("b read back", () => s.got.length === 3);
  t.same(s.bodies, ["a", "b", "c"]);
});

t.test("a resume replays after last_seq, holds live messages meanwhile, then goes live: each once", async (t) => {
  const { nats, d } = setup();
  for (let i = 0; i < 50; i++) nats.store(SID, `m${i}`); // 50: past the direct reads, into batches
  const s = new Recorder();
  const starts: number[] = [];
  const opened = d.openStream(SID, s, endOf(10), (at) => starts.push(at));
  // live messages while the replay runs
  const late = nats.store(SID, "late");
  nats.deliver(late);
  await opened;
  t.same(starts, [endOf(10)], "started at the client's last position");
  t.same(s.bodies, [...Array.from({ length: 40 }, (_, i) => `m${i + 10}`), "late"]);
  nats.deliver(nats.store(SID, "after"));
  t.equal(s.bodies.at(-1), "after");
  t.equal(new Set(s.got.map((m) => m.seq)).size, s.got.length, "no duplicate");
});

t.test("a sink over its bound stops taking live messages; drained, it catches up from HISTORY in order", async (t) => {
  const { nats, d } = setup({ maxBackpressure: 10 });
  const s = new Recorder();
  d.startStream(SID, s);
  nats.deliver(nats.store(SID, "0"));
  s.buffered = 100; // the client stopped reading
  for (let i = 1; i < 20; i++) nats.deliver(nats.store(SID, String(i)));
  t.same(s.bodies, ["0"], "nothing more written while over the bound");
  s.buffered = 0;
  d.drained(SID);
  await until("caught up", () => s.got.length === 20);
  t.same(
    s.bodies,
    Array.from({ length: 20 }, (_, i) => String(i)),
  );
});

t.test("a sink that drains while a batched replay is ending still gets the rest", async (t) => {
  const { nats, d } = setup({ maxBackpressure: 10 });
  for (let i = 0; i < 60; i++) nats.store(SID, `m${i}`); // past the direct reads, into batches
  const s = new Recorder();
  s.deliver = (m) => {
    s.got.push(m);
    if (s.got.length === 40) s.buffered = 100; // the socket fills mid-replay, in the batched part
  };
  let ended!: () => void;
  nats.batchesEnd = () => {
    nats.batchesEnd = undefined;
    // the socket drains while the reader is still deleting its consumer
    s.buffered = 0;
    d.drained(SID);
    return new Promise<void>((r) => (ended = r));
  };
  const opened = d.openStream(SID, s, 0);
  await until("the batched read ending", () => ended !== undefined);
  ended();
  await opened;
  await until("the rest replayed", () => s.got.length === 60);
  t.same(
    s.bodies,
    Array.from({ length: 60 }, (_, i) => `m${i}`),
  );
});

t.test("replies go to the request waiting for them, the rest to the stream; the end closes the request", async (t) => {
  const { nats, d } = setup();
  const stream = new Recorder();
  const post = new Recorder();
  d.startStream(SID, stream);
  await d.openRequest(SID, "iMQ", post);
  nats.deliver(nats.store(SID, "other", { rid: "gABC1" }));
  nats.deliver(nats.store(SID, "progress", { rid: "iMQ" }));
  nats.deliver(nats.store(SID, "result", { rid: "iMQ", end: true }));
  nats.deliver(nats.store(SID, "late", { rid: "iMQ" }));
  t.same(post.bodies, ["progress", "result"]);
  t.same(stream.bodies, ["other", "late"], "after its end, the request's messages are the stream's");
});

t.test("a request on a session with no line here starts at HISTORY's newest message of it", async (t) => {
  const { nats, d } = setup();
  for (let i = 0; i < 3; i++) nats.store(AWAY, `old${i}`);
  const post = new Recorder();
  await d.openRequest(AWAY, "iMg", post);
  t.equal(d.away, 1, "a session made elsewhere: a subscription of its own");
  t.ok(nats.subs.has(subjects.live(AWAY)));
  nats.deliver(nats.store(AWAY, "reply", { rid: "iMg", end: true }));
  t.same(post.bodies, ["reply"], "its reply, nothing older");
  t.equal(d.away, 0, "done: the line is gone");
  t.notOk(nats.subs.get(subjects.live(AWAY))?.size, "and its subscription");
});

t.test("a request on a session made for it here reads no HISTORY on its way in (nothing of it can be stored)", async (t) => {
  const { nats, d } = setup();
  nats.down = true; // any read would fail
  const post = new Recorder();
  await d.openRequest(SID, "iNw", post, { newSession: true });
  nats.down = false;
  nats.deliver(nats.store(SID, "reply", { rid: "iNw", end: true }));
  t.same(post.bodies, ["reply"]);
  nats.down = true;
  await t.rejects(d.openRequest(AWAY, "iNx", new Recorder(), { newSession: true }), "a session homed elsewhere still starts from HISTORY");
});

t.test("a reply stored while the link was down reaches its request once the link is back, even as the last message", async (t) => {
  const { nats, d } = setup();
  const post = new Recorder();
  await d.openRequest(SID, "iMw", post);
  nats.store(SID, "reply", { rid: "iMw", end: true }); // republished into the void
  d.reconnected();
  await until("read back", () => post.got.length === 1);
  t.same(post.bodies, ["reply"]);
  t.ok(post.got[0]!.reply.end);
});

t.test("a stream resuming from earlier rewinds the line; a request open meanwhile gets nothing twice", async (t) => {
  const { nats, d } = setup();
  const post = new Recorder();
  await d.openRequest(SID, "iNA", post);
  const first = nats.store(SID, "x1", { rid: "iNA" });
  nats.deliver(first);
  nats.deliver(nats.store(SID, "free1"));
  const stream = new Recorder();
  await d.openStream(SID, stream, 0);
  t.same(stream.bodies, ["free1"], "the stream gets what no request took");
  nats.deliver(nats.store(SID, "x2", { rid: "iNA", end: true }));
  t.same(post.bodies, ["x1", "x2"], "the request: each once");
});

t.test("a loss is never silent: the sinks hear the last seq they have; those that carry on restart at the oldest stored", async (t) => {
  const { nats, d } = setup({ maxBackpressure: 10 });
  const gone = new Recorder();
  d.startStream(SID, gone);
  nats.deliver(nats.store(SID, "a"));
  gone.buffered = 100;
  for (let i = 0; i < 5; i++) nats.deliver(nats.store(SID, `b${i}`));
  nats.drop(1); // retention took "a" and b0 before the client read on
  nats.drop(2);
  gone.buffered = 0;
  d.drained(SID);
  await until("told", () => gone.lost.length === 1);
  t.same(gone.lost, [endOf(1)], "after message 1, the last it got");
  t.same(gone.bodies, ["a"], "nothing handed on after the hole");
  t.equal(d.line(SID), undefined, "it ended: the line is gone");

  const { nats: n2, d: d2 } = setup({ maxBackpressure: 10 });
  const keeps = new Recorder();
  keeps.carryOn = true;
  d2.startStream(SID, keeps);
  n2.deliver(n2.store(SID, "a"));
  keeps.buffered = 100;
  for (let i = 0; i < 5; i++) n2.deliver(n2.store(SID, `b${i}`));
  n2.drop(1);
  n2.drop(2);
  keeps.buffered = 0;
  d2.drained(SID);
  await until("carried on", () => keeps.got.length === 5);
  t.same(keeps.bodies, ["a", "b1", "b2", "b3", "b4"], "told, then from the oldest still stored");
});

t.test("HISTORY unreadable at a resume: the opener hears it; control notices go to onControl", async (t) => {
  const { nats, d, notices } = setup();
  nats.store(SID, "a");
  nats.down = true;
  await t.rejects(d.openStream(SID, new Recorder(), 0));
  nats.down = false;
  const s = new Recorder();
  d.startStream(SID, s);
  const h = natsHeaders();
  h.set(headers.control, "ended");
  nats.deliver({ subject: subjects.live(SID), data: new Uint8Array(), headers: h });
  t.same(notices, [{ kind: "ended" }]);
  t.same(s.got, [], "a notice is not a message");
});

t.test("a resume inside a message (its frames arrive one by one) gets the rest of it, then what follows", async (t) => {
  const { nats, d } = setup();
  nats.store(SID, '{"a":0}{"a":1}{"a":2}', { rid: "gX1", frames: [{ length: 7 }, { length: 7 }, { length: 7 }] });
  nats.store(SID, '{"b":0}', { rid: "gX1" });
  const s = new Recorder();
  const from: number[] = [];
  s.deliver = (m, fromFrame = 0) => {
    s.got.push(m);
    from.push(fromFrame);
  };
  await d.openStream(SID, s, position(1, 0));
  t.same(
    s.got.map((m) => m.seq),
    [1, 2],
    "message 1 again (its tail), then message 2",
  );
  t.same(from, [1, 0], "from frame 1 of message 1");
  const whole = new Recorder();
  await d.openStream(SID, whole, endOf(1));
  t.same(
    whole.got.map((m) => m.seq),
    [2],
    "at the end of message 1: nothing of it again",
  );
});
