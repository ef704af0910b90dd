// Reading HISTORY back against a real nats-server: long replays read in
// batches come back whole, once each and in order, however many bytes they
// hold, and a message bigger than a batch may hold does not stop a replay.
import t from "tap";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { natsForTest } from "@radiant/infra/nats-server";
import { applyTopology, makeSessionId, subjects } from "@radiant/wire";
import { FakeNats, Recorder, until } from "../test/fake_nats.js";
import { Delivery } from "./delivery.js";
import { History } from "./history.js";

const { nc } = await natsForTest("history", t.teardown);
const jsm = await jetstreamManager(nc);
await applyTopology(jsm);
const js = jetstream(nc);
const history = new History(jsm.direct, js);

let n = 0;
/** Store `sizes.length` messages for a new session; each body starts with its index. */
async function session(sizes: number[]) {
  const sid = makeSessionId("homeAA", new Uint8Array(16).fill(++n));
  const seqs: number[] = [];
  for (const [i, size] of sizes.entries()) {
    const body = Buffer.alloc(size, 120);
    body.write(`${i}:`);
    seqs.push((await js.publish(subjects.history(sid), body)).seq);
  }
  return { sid, seqs };
}
const indexOf = (data: Uint8Array) => Number(Buffer.from(data.subarray(0, 12)).toString().split(":")[0]);

t.test("a batched read of more than one pull's bytes returns every message once, in order", async (t) => {
  // 240 × 40 KiB: over twice what one pull may bring
  const { sid, seqs } = await session(Array.from({ length: 240 }, () => 40 * 1024));
  const got: number[] = [];
  let batches = 0;
  for await (const batch of history.batches(sid, seqs[9]!)) {
    batches++;
    for (const m of batch) got.push(m.seq);
  }
  t.same(got, seqs.slice(10), "messages 10..239, each once, in order");
  t.ok(batches > 1, "in more than one batch");
});

t.test("a replay through a message bigger than a pull's bytes gets everything after it too", async (t) => {
  const sizes = [...Array.from({ length: 40 }, () => 100), 5 * 1024 * 1024, ...Array.from({ length: 40 }, () => 100)];
  const { sid } = await session(sizes);
  const d = new Delivery(new FakeNats(), history, { home: "homeAA", maxBackpressure: 64 * 1024 * 1024, gapWaitMs: 20, maxHeld: 100, onControl: () => {} });
  const s = new Recorder();
  await d.openStream(sid, s, 0);
  await until("the whole replay", () => s.got.length >= sizes.length, 20_000);
  t.same(
    s.got.map((m) => indexOf(m.data)),
    sizes.map((_, i) => i),
    "all 81, the 5 MiB one among them, each once, in order",
  );
});

t.test("a batched read with nothing after its start ends", async (t) => {
  const { sid, seqs } = await session([10, 10]);
  const got: unknown[] = [];
  for await (const batch of history.batches(sid, seqs[1]!)) got.push(...batch);
  t.same(got, []);
});
