// AckedPublisher against a real nats-server with JetStream.
import t from "tap";
import { DiscardPolicy, jetstreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders, type Msg } from "@nats-io/nats-core";
import { natsForTest } from "./nats-server.js";
import { AckedPublisher, PublishError } from "./publish.js";

const { server, nc } = await natsForTest("publish", t.teardown);
const jsm = await jetstreamManager(nc);
await jsm.streams.add({ name: "P", subjects: ["p.>"], duplicate_window: 60e9 });
await jsm.streams.add({ name: "FULL", subjects: ["full.>"], max_msgs: 1, discard: DiscardPolicy.New });
const data = new TextEncoder().encode("x");

t.test("an ack per publish, in any order of arrival; a repeated msgID is a duplicate", async (t) => {
  const p = new AckedPublisher(nc, 5000);
  const acks = await Promise.all(Array.from({ length: 500 }, (_, i) => p.publish(`p.${i % 7}`, data)));
  t.same(
    acks.map((a) => a.seq),
    Array.from({ length: 500 }, (_, i) => i + 1),
    "each its own sequence",
  );
  t.ok(acks.every((a) => a.stream === "P" && !a.duplicate));
  const h = natsHeaders();
  h.set("Radiant-Ts", "1");
  const first = await p.publish("p.dedupe", data, "id-1", h);
  const again = await p.publish("p.dedupe", data, "id-1");
  t.equal(again.seq, first.seq);
  t.ok(again.duplicate, "stored once");
  const stored = await jsm.streams.getMessage("P", { seq: first.seq });
  t.equal(stored?.header.get("Radiant-Ts"), "1", "headers go along");
  p.close();
});

t.test("publishes refused before they are sent leave no gap: every other one still gets its own ack", async (t) => {
  const p = new AckedPublisher(nc, 5000);
  const big = new Uint8Array(p.maxPayload() + 1);
  const outcomes = await Promise.all(
    Array.from({ length: 3000 }, (_, i) =>
      p.publish(`p.gap`, i % 5 === 0 ? big : data).then(
        (a) => a.seq,
        (e: unknown) => (e instanceof PublishError && e.tooLarge ? "too large" : String(e)),
      ),
    ),
  );
  const seqs = outcomes.filter((o): o is number => typeof o === "number");
  t.equal(outcomes.filter((o) => o === "too large").length, 600, "each too large one refused");
  t.equal(seqs.length, 2400, "every other one acked");
  t.equal(new Set(seqs).size, 2400, "each with its own ack");
  t.same(
    seqs,
    [...seqs].sort((a, b) => a - b),
    "in publish order",
  );
  p.close();
});

t.test("no responders (no stream there yet, as while a cluster elects a stream's leader): sent again until it is, within the ack timeout", async (t) => {
  const p = new AckedPublisher(nc, 10_000, { failover: { attemptMs: 10_000 } });
  const late = p.publish("late.1", data, "late-1");
  await new Promise((r) => setTimeout(r, 1000));
  await jsm.streams.add({ name: "LATE", subjects: ["late.>"] });
  const ack = await late;
  t.equal(ack.stream, "LATE", "stored once the stream was there");
  t.equal((await jsm.streams.info("LATE")).state.messages, 1, "once");
  p.close();
});

/** A lossy hop in front of a stream: core subscribers on `from.>` that forward each copy to the stream as `route` says. */
function lossyHop(
  from: string,
  to: string,
  route: (copy: number) => "drop" | "noAck" | "forward" | { delayMs: number },
): { copies: () => number; stop: () => void } {
  let copies = 0;
  const sub = nc.subscribe(`${from}.>`, {
    callback: (_e, m: Msg) => {
      const how = route(++copies);
      const subject = `${to}.${m.subject.slice(from.length + 1)}`;
      const send = (reply?: string) => nc.publish(subject, m.data, { ...(m.headers ? { headers: m.headers } : {}), ...(reply ? { reply } : {}) });
      if (how === "noAck") send();
      else if (how === "forward") send(m.reply);
      else if (how !== "drop") setTimeout(() => send(m.reply), how.delayMs);
    },
  });
  return { copies: () => copies, stop: () => sub.unsubscribe() };
}

t.test("failover: an attempt stored but never acked (a leader lost before its ack) is sent again and acked as a duplicate: stored once", async (t) => {
  await jsm.streams.add({ name: "LOST", subjects: ["lost.>"], duplicate_window: 60e9 });
  const hop = lossyHop("tolost", "lost", (copy) => (copy === 1 ? "noAck" : "forward"));
  const p = new AckedPublisher(nc, 10_000, { failover: { attemptMs: 500 } });
  const ack = await p.publish("tolost.1", data, "lost-1");
  t.equal(hop.copies(), 2, "sent twice");
  t.ok(ack.duplicate, "the second copy found the first stored");
  t.equal((await jsm.streams.info("LOST")).state.messages, 1, "stored once");
  hop.stop();
  p.close();
});

t.test("failover: an ack that comes after its attempt's deadline still settles the publish", async (t) => {
  await jsm.streams.add({ name: "LATEACK", subjects: ["lateack.>"], duplicate_window: 60e9 });
  // the first copy reaches the stream late (its ack after the attempt's 300 ms); every later copy is lost
  const hop = lossyHop("tolateack", "lateack", (copy) => (copy === 1 ? { delayMs: 700 } : "drop"));
  const p = new AckedPublisher(nc, 5000, { failover: { attemptMs: 300 } });
  const ack = await p.publish("tolateack.1", data, "late-ack-1");
  t.equal(ack.stream, "LATEACK", "settled by the first copy's ack");
  t.ok(hop.copies() >= 2, "a second copy went out meanwhile");
  t.equal(p.inFlight, 0);
  hop.stop();
  p.close();
});

t.test("failover: without a de-duplication id nothing is sent again; it fails at its ack timeout, as maybe stored", async (t) => {
  const silent = lossyHop("noid", "nowhere-at-all", () => "drop");
  const q = new AckedPublisher(nc, 1500, { failover: { attemptMs: 300 } });
  const started = Date.now();
  const e = await q.publish("noid.1", data).catch((err: unknown) => err);
  t.ok(e instanceof PublishError && e.unconfirmed, "unconfirmed: it went out and nothing answered");
  t.match((e as Error).message, /timeout/);
  t.ok(Date.now() - started >= 1400, "failed at its ack timeout, not at an attempt's");
  t.equal(silent.copies(), 1, "sent once");
  silent.stop();
  q.close();
});

t.test("failover: what waits to go out is bounded in bytes; past it a publish fails at once", async (t) => {
  const silent = lossyHop("full", "nowhere-at-all", () => "drop");
  const q = new AckedPublisher(nc, 5000, { window: 1, failover: { attemptMs: 1000 }, maxQueuedBytes: 3 });
  const out = Array.from({ length: 5 }, (_, i) => q.publish(`full.${i}`, data).catch((e: unknown) => e));
  const fifth = await out[4];
  t.ok(fifth instanceof PublishError && fifth.transient && !fifth.unconfirmed, "refused at once, as not stored");
  t.match((fifth as Error).message, /already wait/);
  q.close();
  await Promise.all(out);
  silent.stop();
});

t.test("failover: while the connection is down a publish waits, and is stored once it is back", async (t) => {
  const { server: s2, nc: nc2 } = await natsForTest("publish-down", t.teardown);
  const jsm2 = await jetstreamManager(nc2);
  await jsm2.streams.add({ name: "DOWN", subjects: ["down.>"] });
  const p = new AckedPublisher(nc2, 20_000, { failover: { attemptMs: 4000 } });
  await s2.stop();
  await new Promise((r) => setTimeout(r, 200));
  const pending = p.publish("down.1", data, "down-1");
  await s2.start();
  const ack = await pending;
  t.equal(ack.stream, "DOWN", "stored after the reconnect");
  t.equal((await jsm2.streams.info("DOWN")).state.messages, 1, "once");
  p.close();
});

t.test("refusals: no stream (no responders) is transient, a full stream is not", async (t) => {
  const p = new AckedPublisher(nc, 1000);
  const none = await p.publish("nowhere.1", data).catch((e: unknown) => e);
  t.ok(none instanceof PublishError && none.transient, "no responders: try again later");
  await p.publish("full.1", data);
  const full = await p.publish("full.2", data).catch((e: unknown) => e);
  t.ok(full instanceof PublishError && !full.transient, "refused by the stream");
  t.match((full as Error).message, /refused/);
  p.close();
});

t.test("no ack in time: a transient timeout", async (t) => {
  // a core subscriber that never answers: the publish is taken, no ack ever comes
  const silent = nc.subscribe("noack.>", { callback: () => {} });
  const p = new AckedPublisher(nc, 300);
  const e = await p.publish("noack.1", data).catch((err: unknown) => err);
  t.ok(e instanceof PublishError && e.transient);
  t.match((e as Error).message, /timeout/);
  p.close();
  silent.unsubscribe();
});

t.test("a window: at most N out at once, the rest wait their turn in order (their ack timeout starts when they go out)", async (t) => {
  const p = new AckedPublisher(nc, 5000, { window: 3 });
  let most = 0;
  const watch = setInterval(() => (most = Math.max(most, p.inFlight)), 0);
  const acks = await Promise.all(Array.from({ length: 200 }, (_, i) => p.publish(`p.window.${i % 5}`, data)));
  clearInterval(watch);
  const seqs = acks.map((a) => a.seq);
  t.same(
    seqs,
    [...seqs].sort((a, b) => a - b),
    "stored in the order they were published",
  );
  t.ok(most <= 3, `never more than 3 out (saw ${most})`);
  t.equal(p.inFlight, 0);
  t.equal(p.waiting, 0);
  p.close();
});

t.test("behind: a publish that cannot go out within maxWaitMs fails as passing; the queue never grows without bound in time", async (t) => {
  const silent = nc.subscribe("stuck.>", { callback: () => {} });
  const p = new AckedPublisher(nc, 400, { window: 1, maxWaitMs: 200 });
  const results = await Promise.all(Array.from({ length: 5 }, (_, i) => p.publish(`stuck.${i}`, data).catch((e: unknown) => e)));
  t.match((results[0] as Error).message, /timeout/, "the one out times out");
  for (const r of results.slice(1)) t.match((r as Error).message, /behind: not sent within 200 ms/, "the waiting ones fail as behind");
  t.ok(results.every((r) => r instanceof PublishError && r.transient));
  t.equal(p.waiting, 0);
  p.close();
  silent.unsubscribe();
});

t.test("the link down: a publish is refused at once as passing, never kept by nats.js to be sent after what follows it", async (t) => {
  const p = new AckedPublisher(nc, 60_000);
  await server.stop();
  await waitFor(() => !(nc as unknown as { protocol: { connected: boolean } }).protocol.connected);
  const t0 = Date.now();
  const e = await p.publish("p.down", data).catch((err: unknown) => err);
  t.ok(e instanceof PublishError && e.transient, "passing: try again");
  t.match((e as Error).message, /not connected/);
  t.ok(Date.now() - t0 < 5000, "at once, not after the ack timeout");
  p.close();
});

async function waitFor(f: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !f(); i++) await new Promise((r) => setTimeout(r, 50));
}
