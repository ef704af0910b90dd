// AckedPublisher against a real nats-server with JetStream.
import t from "tap";
import { DiscardPolicy, jetstreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
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

t.test(
  "an attempt never acked (a stream leader lost after taking it): a publish with a de-duplication id is sent again and stored once; one without is not",
  async (t) => {
    // the first copy goes to a subscriber that never answers, as a leader killed mid-publish; then the stream is there
    let swallowed = 0;
    const leader = nc.subscribe("lost.>", {
      callback: () => {
        swallowed++;
        leader.unsubscribe();
        void jsm.streams.add({ name: "LOST", subjects: ["lost.>"], duplicate_window: 60e9 });
      },
    });
    const p = new AckedPublisher(nc, 10_000, { failover: { attemptMs: 500 } });
    const ack = await p.publish("lost.1", data, "lost-1");
    t.equal(swallowed, 1, "the first attempt was taken and never acked");
    t.equal(ack.stream, "LOST", "the next attempt was stored");
    t.equal((await jsm.streams.info("LOST")).state.messages, 1, "once");
    // without a de-duplication id a resend could store it twice: it waits out the whole ack timeout instead
    const silent = nc.subscribe("lostnoid.>", { callback: () => void swallowed++ });
    const q = new AckedPublisher(nc, 1500, { failover: { attemptMs: 300 } });
    const started = Date.now();
    const e = await q.publish("lostnoid.1", data).catch((err: unknown) => err);
    t.match((e as Error).message, /timeout/);
    t.ok(Date.now() - started >= 1400, "failed at its ack timeout, not at an attempt's");
    t.equal(swallowed, 2, "sent once");
    silent.unsubscribe();
    p.close();
    q.close();
  },
);

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
