import t from "tap";
import { closedLoop } from "./latency.js";

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
