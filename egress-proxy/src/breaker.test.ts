// The circuit breaker on a fake clock.
import t from "tap";
import { Breaker, type BreakerState, type Permit } from "./breaker.js";

function setup(failures = 3, openMs = 1000) {
  let now = 0;
  const changes: string[] = [];
  const b = new Breaker({ failures, openMs, now: () => now, onChange: (from: BreakerState, to: BreakerState) => changes.push(`${from}>${to}`) });
  return { b, changes, advance: (ms: number) => (now += ms) };
}
const ok = (p: Permit) => {
  if (!p.ok) throw new Error("refused");
  return p;
};

t.test("opens after N consecutive failures; a success in between resets the count", async (t) => {
  const { b, changes } = setup(3);
  b.failed(ok(b.acquire()));
  b.failed(ok(b.acquire()));
  b.succeeded(ok(b.acquire()));
  t.equal(b.failures, 0);
  b.failed(ok(b.acquire()));
  b.failed(ok(b.acquire()));
  t.equal(b.state(), "closed");
  b.failed(ok(b.acquire()));
  t.equal(b.state(), "open");
  t.same(changes, ["closed>open"]);
});

t.test("open: refuses with the time left; then half-open lets exactly one probe through", async (t) => {
  const { b, advance } = setup(1, 1000);
  b.failed(ok(b.acquire()));
  advance(300);
  t.same(b.acquire(), { ok: false, retryAfterMs: 700 });
  advance(700);
  t.equal(b.state(), "half-open");
  const probe = b.acquire();
  t.same(probe, { ok: true, probe: true });
  const other = b.acquire();
  t.equal(other.ok, false, "a second caller is refused while the probe is out");
  t.equal(b.state(), "half-open");
});

t.test("the probe's success closes it", async (t) => {
  const { b, advance, changes } = setup(1, 1000);
  b.failed(ok(b.acquire()));
  advance(1000);
  b.succeeded(ok(b.acquire()));
  t.equal(b.state(), "closed");
  t.same(b.acquire(), { ok: true, probe: false });
  t.same(changes, ["closed>open", "half-open>closed"]);
});

t.test("the probe's failure re-opens it for a full period", async (t) => {
  const { b, advance, changes } = setup(1, 1000);
  b.failed(ok(b.acquire()));
  advance(5000);
  b.failed(ok(b.acquire()));
  t.equal(b.state(), "open");
  advance(999);
  t.equal(b.state(), "open");
  advance(1);
  t.equal(b.state(), "half-open");
  t.same(changes, ["closed>open", "half-open>open"]);
});

t.test("an abandoned probe hands its turn to the next caller", async (t) => {
  const { b, advance } = setup(1, 1000);
  b.failed(ok(b.acquire()));
  advance(1000);
  b.abandoned(ok(b.acquire()));
  t.same(b.acquire(), { ok: true, probe: true });
});

t.test("late answers to attempts sent before the circuit opened do not decide it", async (t) => {
  const { b, advance } = setup(2, 1000);
  const early1 = ok(b.acquire());
  const early2 = ok(b.acquire());
  const early3 = ok(b.acquire());
  b.failed(early1);
  b.failed(early2);
  t.equal(b.state(), "open");
  b.succeeded(early3);
  t.equal(b.state(), "open", "a success while open is not a probe's");
  advance(1000);
  const probe = ok(b.acquire());
  b.failed(early3);
  t.equal(b.state(), "half-open", "a late failure does not re-open it");
  b.succeeded(probe);
  t.equal(b.state(), "closed");
});

t.test("a refused permit reports nothing", async (t) => {
  const { b } = setup(1, 1000);
  b.failed(ok(b.acquire()));
  const refused = b.acquire();
  b.succeeded(refused);
  b.failed(refused);
  b.abandoned(refused);
  t.equal(b.state(), "open");
});
