// Sessions away from home, with several gateway processes (each a Delivery)
// over one fake NATS: a stream resumed away from its home is forwarded by the
// home, never subscribed on its own; takeovers reach the older holder however
// the notices race; a home that is gone (says so, or falls quiet) leaves its
// sessions to subscriptions of their own, and nothing stored is missed.
import t from "tap";
import { endOf, makeSessionId, subjects, type Control, type SessionId } from "@radiant/wire";
import { FakeNats, Recorder, until } from "../test/fake_nats.js";
import { Delivery, type LiveLink } from "./delivery.js";

function proc(nats: FakeNats, home: string, link: LiveLink = nats.peer()) {
  const notices: { sid: SessionId; c: Control }[] = [];
  const d = new Delivery(link, nats, { home, maxBackpressure: 1000, gapWaitMs: 20, maxHeld: 100, onControl: (sid, c) => notices.push({ sid, c }) });
  return { d, notices };
}

const SID = makeSessionId("homeAA", new Uint8Array(16).fill(1));

t.test("a stream resumed away from home: its home forwards every message, once and in order; no subscription of its own", async (t) => {
  const nats = new FakeNats();
  const a = proc(nats, "homeAA");
  const b = proc(nats, "holdBB");
  for (let i = 0; i < 3; i++) nats.deliver(nats.store(SID, `old${i}`));
  const s = new Recorder();
  await b.d.openStream(SID, s, endOf(1));
  t.same(s.bodies, ["old1", "old2"], "replayed after last_seq");
  t.equal(b.d.forwardedIn, 1, "held here, forwarded by its home");
  t.equal(b.d.away, 0, "no subscription of its own");
  t.notOk(nats.subs.has(subjects.live(SID)));
  t.equal(a.d.forwarding.forwarding, 1, "the home forwards it");
  for (let i = 0; i < 5; i++) nats.deliver(nats.store(SID, `new${i}`));
  t.same(s.bodies, ["old1", "old2", "new0", "new1", "new2", "new3", "new4"]);
  b.d.closeStream(SID, s);
  t.equal(b.d.forwardedIn, 0);
  t.equal(a.d.forwarding.forwarding, 0, "released: the home forwards it no more");
  nats.deliver(nats.store(SID, "after"));
  t.equal(s.got.length, 7);
});

t.test("resumed again on a third process: the older holder hears takeover, even before the newer one's own notice", async (t) => {
  const nats = new FakeNats();
  const a = proc(nats, "homeAA");
  const b = proc(nats, "holdBB");
  const c = proc(nats, "holdCC");
  const sb = new Recorder();
  await b.d.openStream(SID, sb, 0);
  nats.deliver(nats.store(SID, "m1"));
  const sc = new Recorder();
  await c.d.openStream(SID, sc, endOf(1));
  t.same(
    b.notices.map((n) => n.c.kind),
    ["takeover"],
    "told by the home when the newer holder registered",
  );
  nats.deliver(nats.store(SID, "m2"));
  t.same(sc.bodies, ["m2"]);
  t.equal(a.d.forwarding.forwarding, 1, "one holder at a time");
  // the older holder lets go late: that must not stop the newer one's forwarding
  b.d.closeStream(SID, sb);
  nats.deliver(nats.store(SID, "m3"));
  t.same(sc.bodies, ["m2", "m3"]);
  t.same(sb.bodies, ["m1"], "the older holder got nothing after the takeover");
});

/** A process's link whose hold requests wait at `gate` — before reaching the home, or with the answer on its way back. */
function slowAsks(nats: FakeNats, where: "before" | "after") {
  const link = nats.peer();
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let asked = false;
  return {
    link: {
      ...link,
      ask: async (subject: string, data: Uint8Array) => {
        asked = true;
        if (where === "before") await gate;
        const answer = await link.ask(subject, data);
        if (where === "after") await gate;
        return answer;
      },
    },
    asked: () => asked,
    open: () => open(),
  };
}

t.test("a hold that reaches the home after a newer connection's is refused: the newer holder keeps the session", async (t) => {
  const nats = new FakeNats();
  const a = proc(nats, "homeAA");
  const slow = slowAsks(nats, "before");
  const b = proc(nats, "holdBB", slow.link);
  const c = proc(nats, "holdCC");
  const sb = new Recorder();
  const bOpened = b.d.openStream(SID, sb, 0); // its connection first; its hold stuck on the way (a starved process)
  await until("b asked", slow.asked);
  await new Promise((r) => setTimeout(r, 5));
  const sc = new Recorder();
  await c.d.openStream(SID, sc, 0); // the client's newer connection
  slow.open();
  await bOpened;
  t.same(
    c.notices.map((n) => n.c.kind),
    [],
    "the newer holder is not told it was taken over",
  );
  t.same(
    b.notices.map((n) => n.c.kind),
    ["takeover"],
    "the older one is",
  );
  nats.deliver(nats.store(SID, "m1"));
  t.same(sc.bodies, ["m1"], "forwarded to the newer holder");
  t.equal(a.d.forwarding.forwarding, 1);
});

t.test("a takeover notice that comes while the hold's answer is on its way is not lost", async (t) => {
  const nats = new FakeNats();
  proc(nats, "homeAA");
  const slow = slowAsks(nats, "after");
  const b = proc(nats, "holdBB", slow.link);
  const c = proc(nats, "holdCC");
  const bOpened = b.d.openStream(SID, new Recorder(), 0);
  await until("b asked", slow.asked);
  await new Promise((r) => setTimeout(r, 5));
  await c.d.openStream(SID, new Recorder(), 0); // newer: the home moves forwarding and tells b
  slow.open();
  await bOpened;
  t.same(
    b.notices.map((n) => n.c.kind),
    ["takeover"],
    "b hears it though its hold's answer came after",
  );
});

t.test("back home: the holder elsewhere is told to let go, and the home stops forwarding", async (t) => {
  const nats = new FakeNats();
  const a = proc(nats, "homeAA");
  const b = proc(nats, "holdBB");
  const sb = new Recorder();
  await b.d.openStream(SID, sb, 0);
  const sa = new Recorder();
  await a.d.openStream(SID, sa, 0);
  t.same(
    b.notices.map((n) => n.c.kind),
    ["takeover"],
  );
  t.equal(a.d.forwarding.forwarding, 0);
  nats.deliver(nats.store(SID, "m1"));
  t.same(sa.bodies, ["m1"]);
  t.same(sb.bodies, []);
});

t.test("notices on the session's live subject (ended, takeover) reach a holder through its home", async (t) => {
  const nats = new FakeNats();
  proc(nats, "homeAA");
  const b = proc(nats, "holdBB");
  await b.d.openStream(SID, new Recorder(), 0);
  const { controlHeaders } = await import("@radiant/wire");
  nats.publish(subjects.live(SID), undefined, controlHeaders({ kind: "ended" }));
  t.same(b.notices, [{ sid: SID, c: { kind: "ended" } }]);
});

t.test("a home that does not answer: the stream subscribes on its own", async (t) => {
  const nats = new FakeNats();
  const b = proc(nats, "holdBB");
  nats.store(SID, "m1");
  const s = new Recorder();
  await b.d.openStream(SID, s, 0);
  t.equal(b.d.away, 1, "a subscription of its own");
  t.equal(b.d.forwardedIn, 0);
  t.same(s.bodies, ["m1"]);
  nats.deliver(nats.store(SID, "m2"));
  t.same(s.bodies, ["m1", "m2"]);
});

t.test("a home that stops: its sessions subscribe on their own and read what it did not forward", async (t) => {
  const nats = new FakeNats();
  const a = proc(nats, "homeAA");
  const b = proc(nats, "holdBB");
  const s = new Recorder();
  await b.d.openStream(SID, s, 0);
  nats.deliver(nats.store(SID, "m1"));
  a.d.stop(); // says "gone"
  t.equal(b.d.forwardedIn, 0);
  t.equal(b.d.away, 1);
  nats.deliver(nats.store(SID, "m2"));
  await until("m2", () => s.got.length === 2);
  t.same(s.bodies, ["m1", "m2"]);
});

t.test("a home killed without a word: after its silence the sessions subscribe on their own; what was stored meanwhile is read back", async (t) => {
  const nats = new FakeNats();
  const aLink = nats.peer();
  const a = proc(nats, "homeAA", aLink);
  const b = proc(nats, "holdBB");
  const s = new Recorder();
  await b.d.openStream(SID, s, 0);
  t.equal(a.d.forwarding.forwarding, 1);
  aLink.kill();
  nats.deliver(nats.store(SID, "while quiet")); // nobody forwards it
  t.same(s.bodies, []);
  await until("resubscribed", () => b.d.away === 1, 8000);
  await until("read back", () => s.got.length === 1);
  nats.deliver(nats.store(SID, "after"));
  t.same(s.bodies, ["while quiet", "after"], "each once, in order");
});

t.test("hold notices from NATS are checked: another home's session, a bad holder, garbage — ignored", async (t) => {
  const nats = new FakeNats();
  const a = proc(nats, "homeAA");
  const other = makeSessionId("otherX", new Uint8Array(16).fill(3));
  for (const body of [
    `hold ${other} holdBB`,
    `hold ${SID} hold.B`,
    `hold ${SID} homeAA`,
    `hold ${SID}`,
    "hold > >",
    "",
    "x".repeat(100),
    `hold ${SID} holdBB`,
    `hold ${SID} holdBB 1 extra`,
  ]) {
    t.notOk(await nats.ask(subjects.hold("homeAA"), Buffer.from(body)), JSON.stringify(body.slice(0, 40)));
  }
  t.equal(a.d.forwarding.forwarding, 0);
  t.ok(await nats.ask(subjects.hold("homeAA"), Buffer.from(`hold ${SID} holdBB 1`)), "a good one is answered");
  t.equal(a.d.forwarding.forwarding, 1);
});

t.test("a home too busy to answer in time: the stream subscribes on its own, and the home's late hold is undone", async (t) => {
  const nats = new FakeNats();
  const a = proc(nats, "homeAA");
  const link = nats.peer();
  // the home takes the hold, but its answer comes after the holder gave up
  const slow: LiveLink = { ...link, ask: async (subject, data) => void (await link.ask(subject, data)) };
  const b = proc(nats, "holdBB", slow);
  const s = new Recorder();
  await b.d.openStream(SID, s, 0);
  t.equal(b.d.away, 1, "a subscription of its own");
  t.equal(a.d.forwarding.forwarding, 0, "and the home forwards nothing there");
  nats.deliver(nats.store(SID, "m1"));
  t.same(s.bodies, ["m1"], "once");
});

/** A process's link whose "I am alive" notices are lost (a process starved of CPU, a slow link): everything else gets through. */
function mute(nats: FakeNats): LiveLink {
  const link = nats.peer();
  return { ...link, publish: (subject, data, h) => (subject.startsWith("radiant.alive.") ? undefined : link.publish(subject, data, h)) };
}

t.test("a holder the home has not heard from for a while still gets every message (only the holder decides to stop relying on the home)", async (t) => {
  const nats = new FakeNats();
  const a = proc(nats, "homeAA");
  const b = proc(nats, "holdBB", mute(nats));
  const s = new Recorder();
  await b.d.openStream(SID, s, 0);
  await new Promise((r) => setTimeout(r, 4500)); // past the alive timeout
  t.equal(a.d.forwarding.forwarding, 1, "the home still forwards");
  nats.deliver(nats.store(SID, "m1"));
  t.same(s.bodies, ["m1"]);
});

t.test("a home taken for gone that was only silent: the holder subscribes on its own, and the home stops forwarding there", async (t) => {
  const nats = new FakeNats();
  const a = proc(nats, "homeAA", mute(nats));
  const b = proc(nats, "holdBB");
  const s = new Recorder();
  await b.d.openStream(SID, s, 0);
  await until("taken for gone", () => b.d.away === 1, 8000);
  t.equal(a.d.forwarding.forwarding, 0, "told: nothing forwarded twice");
  nats.deliver(nats.store(SID, "m1"));
  t.same(s.bodies, ["m1"], "once");
});
