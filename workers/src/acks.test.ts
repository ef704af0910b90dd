// Acks asked for in one turn go out together at its end, in order; flush sends what is pending at once.
import t from "tap";
import type { JsMsg } from "@nats-io/jetstream";
import { AckBatch } from "./acks.js";

function msg(seq: number, acked: number[]): JsMsg {
  return { seq, ack: () => acked.push(seq) } as unknown as JsMsg;
}

t.test("acks wait for the end of the turn, then go out together, in order", async (t) => {
  const acked: number[] = [];
  const b = new AckBatch();
  b.ack(msg(1, acked));
  await Promise.resolve(); // a later microtask of the same turn
  b.ack(msg(2, acked));
  t.same(acked, [], "nothing written inside the turn");
  await new Promise((r) => setImmediate(r));
  t.same(acked, [1, 2], "both at its end");
  b.ack(msg(3, acked));
  b.flush();
  t.same(acked, [1, 2, 3], "flush: at once");
  await new Promise((r) => setImmediate(r));
  t.same(acked, [1, 2, 3], "and not twice");
});
