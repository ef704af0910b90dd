import t from "tap";
import { closedLoop, mergeSamples } from "./latency.js";

t.test("closed loop: K slots, answers counted, percentiles ordered", async (t) => {
  let inFlight = 0;
  let maxInFlight = 0;
  const r = await closedLoop(4, 300, (_slot, done) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    setTimeout(() => {
      inFlight--;
      done();
    }, 2);
  });
  t.equal(maxInFlight, 4, "never more than K in flight");
  t.ok(r.count > 20 && r.msgsPerS > 0);
  const l = r.latencyMs;
  t.ok(l.p50 >= 1.5 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max, JSON.stringify(l));
});

t.test("samples from several load processes merge into one histogram", async (t) => {
  const all = Array.from({ length: 1000 }, (_, i) => (i + 1) * 1000); // 1..1000 ms, in µs
  const lists = [0, 1, 2, 3].map((k) => all.filter((_, i) => i % 4 === k));
  const merged = mergeSamples(lists);
  t.equal(merged.count, 1000);
  t.same(merged, mergeSamples([all]), "the same as one process that saw them all");
  t.ok(Math.abs(merged.latencyMs.p50 - 500) <= 1, `p50 ${merged.latencyMs.p50}`);
  t.ok(Math.abs(merged.latencyMs.p99 - 990) <= 1, `p99 ${merged.latencyMs.p99}`);
  t.equal(merged.latencyMs.max, 1000);
});
