// Limits without a stack, on a clock the test moves: the sliding minute and
// its Retry-After, a key's own limits beside its principal's, and how two
// processes that hear each other's reports hold one limit between them.
import t from "tap";
import { makeKey } from "./auth/api_keys.js";
import type { Identity } from "./auth/authenticator.js";
import { Limits } from "./limits.js";

const NONE = { connections: 0, rpm: 0, tpm: 0 };
const who = (principal: string, grant: Partial<Parameters<typeof makeKey>[0]> = {}): Identity => ({
  principal,
  via: "key",
  key: makeKey({ principal, ...grant }).record,
});

t.test("requests per minute: a sliding minute, and Retry-After says when there is room", async (t) => {
  let now = 600_000; // the start of a minute
  const l = new Limits(NONE, "homeaa", () => now);
  const w = who("a", { rpm: 10 });
  for (let i = 0; i < 10; i++) t.equal(l.admit(w, false), undefined, `request ${i + 1}`);
  const no = l.admit(w, false);
  t.match(no, { reason: /API key .*: 10 requests per minute/ });
  t.ok(no!.retryAfterS >= 59 && no!.retryAfterS <= 61, `retry after ${no!.retryAfterS} s: the minute must pass`);
  now += 90_000; // half of the last minute's ten still count: five
  t.equal(l.admit(w, false), undefined, "room again as the old minute slides out");
  for (let i = 0; i < 4; i++) l.admit(w, false);
  t.ok(l.admit(w, false), "ten in the window again (five weighted + five)");
  now += 120_000;
  t.equal(l.admit(w, false), undefined, "two minutes later: all forgotten");
});

t.test("tokens per minute apply to LLM requests only; the principal's limits and the key's both hold", async (t) => {
  let now = 0;
  const l = new Limits({ connections: 0, rpm: 0, tpm: 100 }, "homeaa", () => now);
  const w = who("b");
  l.heard({ from: "worker-1", home: "other1", entries: [{ scope: "p:b", requests: 0, tokens: 150 }] });
  t.match(l.admit(w, true), { reason: /token limit reached for principal b: 100 tokens per minute/ });
  t.equal(l.admit(w, false), undefined, "an MCP call spends no tokens");
  now += 121_000;
  t.equal(l.admit(w, true), undefined);
});

t.test("two processes: each report adds the other's admissions, so the limit holds between them", async (t) => {
  const now = () => 1_000;
  const a = new Limits(NONE, "homeaa", now);
  const b = new Limits(NONE, "homebb", now);
  (a as { id: string }).id = "a";
  (b as { id: string }).id = "b";
  const w = who("c", { rpm: 4, connections: 2 });
  t.equal(a.admit(w, false), undefined);
  t.equal(a.admit(w, false), undefined);
  t.equal(a.admit(w, false), undefined);
  b.heard(a.report()!);
  t.equal(b.admit(w, false), undefined, "the fourth, at b");
  t.ok(b.admit(w, false), "the fifth is refused at b: it heard a's three");
  a.heard(b.report()!);
  t.ok(a.admit(w, false), "and at a: it heard b's one");
  t.equal(a.report(), undefined, "a process reports only what is new (nothing was admitted since)");

  a.opened(w);
  b.heard(a.report()!);
  t.equal(b.mayConnect(w), undefined);
  b.opened(w);
  a.heard(b.report()!);
  t.match(a.mayConnect(w), { reason: /too many connections/ }, "two open between them");
  b.closed(w);
  a.heard(b.report()!);
  t.equal(a.mayConnect(w), undefined, "one closed at b: room again at a");
  t.equal(a.heard({ from: "a", entries: [{ scope: `k:${w.key!.id}`, requests: 99, tokens: 0 }] }), undefined);
  t.equal(a.mayConnect(w), undefined, "a process ignores its own report");
});

t.test("a process that stops reporting: its connections are forgotten after a few seconds", async (t) => {
  let now = 0;
  const a = new Limits(NONE, "homeaa", () => now);
  const w = who("d", { connections: 1 });
  a.heard({ from: "dead", entries: [{ scope: `k:${w.key!.id}`, requests: 0, tokens: 0, connections: 1 }] });
  t.ok(a.mayConnect(w));
  now += 6000;
  t.equal(a.mayConnect(w), undefined);
});
