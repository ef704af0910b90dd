// An Answer (an HTTP response waiting for its request's reply) whose request
// turned out to be re-sent: its replies are read back from HISTORY while live
// ones may already be waiting — each is written once, in order.
import t from "tap";
import type { Stored } from "../delivery.js";
import { Answer } from "./answer.js";

class Recorded extends Answer {
  readonly written: number[] = [];
  bufferedAmount(): number {
    return 0;
  }
  protected begin(): void {}
  protected write(m: Stored): void {
    this.written.push(m.seq);
  }
  protected complete(): void {}
  timeout(): void {}
  protected cut(): void {}
  sent(): boolean {
    return false;
  }
}

const stored = (seq: number, end = false): Stored => ({ seq, data: new Uint8Array(), reply: { rid: "r1", end, frames: undefined }, ts: 0 });

async function* history(...batches: Stored[][]): AsyncIterable<Stored[]> {
  for (const b of batches) {
    await new Promise((r) => setImmediate(r));
    yield b;
  }
}

t.test("a duplicate: live messages that came before the ack wait for the replay; each written once, in order", async (t) => {
  const a = new Recorded();
  a.deliver(stored(5)); // live, before the publish was acked (as a duplicate)
  const replayed = a.replay(history([stored(3)], [stored(5), stored(7)]), "r1");
  a.start();
  a.deliver(stored(9, true)); // live, during the replay
  await replayed;
  t.same(a.written, [3, 5, 7, 9]);
  t.ok(a.completed, "its End ends it");
});

t.test("not a duplicate: what waited goes at start", async (t) => {
  const a = new Recorded();
  a.deliver(stored(4));
  a.start();
  a.deliver(stored(6, true));
  t.same(a.written, [4, 6]);
});
