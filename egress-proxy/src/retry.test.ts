// The retry policy: what is retried, the backoff, Retry-After.
import t from "tap";
import { backoffMs, classifyError, decide, isRetryableStatus, parseRetryAfter, type RetryPolicy } from "./retry.js";

const policy: RetryPolicy = { maxAttempts: 3, baseMs: 250, maxMs: 8000 };
const err = (code: string) => Object.assign(new Error(code), { code });

t.test("retryable statuses: overload and rate limits, not client errors", async (t) => {
  for (const s of [429, 500, 502, 503, 504, 529]) t.ok(isRetryableStatus(s), `${s}`);
  for (const s of [200, 400, 401, 403, 404, 413, 422, 501, 505]) t.notOk(isRetryableStatus(s), `${s}`);
});

t.test("errors are classified by code, also a wrapped cause", async (t) => {
  t.equal(classifyError(err("ECONNREFUSED")), "connect");
  t.equal(classifyError(err("ECONNRESET")), "connect");
  t.equal(classifyError(err("UND_ERR_SOCKET")), "connect");
  t.equal(classifyError(err("ERR_HTTP2_STREAM_ERROR")), "connect", "a refused HTTP/2 stream");
  t.equal(classifyError(err("UND_ERR_CONNECT_TIMEOUT")), "timeout");
  t.equal(classifyError(err("DEPTH_ZERO_SELF_SIGNED_CERT")), "tls");
  t.equal(classifyError(err("ERR_TLS_CERT_ALTNAME_INVALID")), "tls");
  t.equal(classifyError(err("UND_ERR_INVALID_ARG")), "invalid");
  t.equal(classifyError(new Error("no code")), "other");
  t.equal(classifyError("a string"), "other");
  t.equal(classifyError(Object.assign(new Error("fetch failed"), { cause: err("ECONNREFUSED") })), "connect");
});

t.test("backoff: full jitter over a doubling window, capped", async (t) => {
  t.equal(
    backoffMs(1, 250, 8000, () => 0.999999),
    249,
  );
  t.equal(
    backoffMs(2, 250, 8000, () => 0.5),
    250,
  );
  t.equal(
    backoffMs(3, 250, 8000, () => 1),
    1000,
  );
  t.equal(
    backoffMs(10, 250, 8000, () => 1),
    8000,
    "capped",
  );
  t.equal(
    backoffMs(60, 250, 8000, () => 1),
    8000,
    "no overflow",
  );
  t.equal(
    backoffMs(1, 250, 8000, () => 0),
    0,
  );
  for (let i = 0; i < 100; i++) {
    const d = backoffMs(4, 250, 8000);
    t.ok(d >= 0 && d < 2000, "within the window");
  }
});

t.test("Retry-After: retry-after-ms, seconds, an HTTP date; junk is ignored", async (t) => {
  const now = Date.parse("2025-01-01T00:00:00Z");
  t.equal(parseRetryAfter({ "retry-after-ms": "1500" }, now), 1500);
  t.equal(parseRetryAfter({ "retry-after-ms": "12.2", "retry-after": "30" }, now), 13, "ms wins");
  t.equal(parseRetryAfter({ "retry-after": "2" }, now), 2000);
  t.equal(parseRetryAfter({ "retry-after": "0" }, now), 0);
  t.equal(parseRetryAfter({ "retry-after": "1.5" }, now), 1500);
  t.equal(parseRetryAfter({ "retry-after": ["3", "9"] }, now), 3000);
  t.equal(parseRetryAfter({ "retry-after": "Wed, 01 Jan 2025 00:00:05 GMT" }, now), 5000);
  t.equal(parseRetryAfter({ "retry-after": "Tue, 31 Dec 2024 23:00:00 GMT" }, now), 0, "a past date: now");
  t.equal(parseRetryAfter({ "retry-after": "soon" }, now), undefined);
  t.equal(parseRetryAfter({ "retry-after": "-5" }, now), undefined);
  t.equal(parseRetryAfter({ "retry-after-ms": "abc" }, now), undefined);
  t.equal(parseRetryAfter({}, now), undefined);
});

t.test("decide: retryable outcomes until the attempts are spent", async (t) => {
  const r = (attempt: number, outcome: Parameters<typeof decide>[1]["outcome"], remainingMs = 60_000) =>
    decide(policy, { attempt, outcome, remainingMs }, () => 1);
  t.same(r(1, { status: 503, retryAfterMs: undefined }), { retry: true, delayMs: 250 });
  t.same(r(2, { status: 503, retryAfterMs: undefined }), { retry: true, delayMs: 500 });
  t.equal(r(3, { status: 503, retryAfterMs: undefined }).retry, false, "3 attempts spent");
  t.equal(r(1, { status: 400, retryAfterMs: undefined }).retry, false, "a 400 is final");
  t.same(r(1, { failure: "connect" }), { retry: true, delayMs: 250 });
  t.same(r(1, { failure: "timeout" }), { retry: true, delayMs: 250 });
  t.equal(r(1, { failure: "tls" }).retry, false);
  t.equal(r(1, { failure: "other" }).retry, false);
  t.equal(r(1, { failure: "invalid" }).retry, false);
});

t.test("decide: the upstream's Retry-After within the cap is waited exactly; over it, no retry", async (t) => {
  const r = (retryAfterMs: number | undefined, remainingMs = 60_000) =>
    decide(policy, { attempt: 1, outcome: { status: 429, retryAfterMs }, remainingMs }, () => 0.5);
  t.same(r(3000), { retry: true, delayMs: 3000 });
  t.same(r(0), { retry: true, delayMs: 0 });
  t.same(r(8000), { retry: true, delayMs: 8000 });
  const over = r(30_000);
  t.equal(over.retry, false);
  t.match(over, { why: /30000 ms/ });
  t.equal(r(3000, 2000).retry, false, "not past the total timeout");
  t.equal(decide(policy, { attempt: 1, outcome: { failure: "connect" }, remainingMs: 10 }, () => 0.5).retry, false, "the backoff would outlast the deadline");
});
