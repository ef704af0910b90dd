// A client that reads nothing while thousands of messages are published to it:
// the gateway's memory stays bounded (live delivery pauses at the backpressure
// bound) and, once the client reads, every message arrives once, in order,
// caught up from HISTORY.
import t from "tap";
import type { Socket } from "node:net";
import { openSession, rpc, startStack, treeRssBytes } from "./harness.js";

const BACKPRESSURE = 64 * 1024;
const stack = await startStack(t, { gatewayEnv: { GATEWAY_MAX_BACKPRESSURE: String(BACKPRESSURE) } });

t.test("reads nothing for 5 s while 5,000 messages (1 KiB each) are published, then reads: all arrive", async (t) => {
  const { c } = await openSession(stack.wsUrl);
  const gw = stack.gateway!.child.pid!;
  const before = treeRssBytes(gw);
  const sock = (c.ws as unknown as { _socket: Socket })._socket;
  const n = 5000;
  // it stops reading first: replies are coalesced, so the whole stream is stored (and written) within moments
  sock.pause();
  c.send(rpc("s", "radiant.test/stream", { count: n, pad: 1024 }));
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, treeRssBytes(gw))), 100);
  await new Promise((r) => setTimeout(r, 5000));
  sock.resume();
  const frames = await c.take(n + 1, 60_000);
  clearInterval(sampler);
  const chunks = frames.filter((f) => f.method === "notifications/radiant.test/chunk").map((f) => (f.params as { i: number }).i);
  t.same(
    chunks,
    Array.from({ length: n }, (_, i) => i),
    "every chunk once, in order",
  );
  t.same(frames.at(-1)!.result, { count: n }, "then the result");
  const seqs = frames.map((f) => f.seq_num!);
  t.ok(
    seqs.every((s, i) => i === 0 || s > seqs[i - 1]!),
    "seq_num strictly increasing",
  );
  const growth = peak - before;
  t.comment(`gateway RSS growth at peak: ${(growth / 1024 / 1024).toFixed(1)} MiB for ${((n * 1100) / 1024 / 1024).toFixed(1)} MiB of messages`);
  t.ok(growth < 64 * 1024 * 1024, "the gateway did not queue the stream (growth under 64 MiB)");
  const metrics = await (await fetch(`${stack.healthUrl}/metrics`)).text();
  t.match(metrics, /radiant_slow_consumer_pauses_total [1-9]/, "live delivery paused");
  t.match(metrics, /radiant_history_reads_total [1-9]/, "and caught up from HISTORY");
  await c.close();
});
