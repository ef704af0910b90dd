// The retry policy of the egress proxy, pure: which failed attempts are worth
// another one, how long to wait before it, and what an upstream's
// `retry-after-ms` / `Retry-After` asks for.

/** Statuses that say "not now" rather than "never": overload, rate limits, a sick gateway. 529 is Anthropic's "overloaded". */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 500, 502, 503, 504, 529]);

export const isRetryableStatus = (status: number): boolean => RETRYABLE_STATUSES.has(status);

/**
 * What became of an attempt that got no response headers:
 * - `connect`: the connection failed, was reset or refused the stream (another attempt may reach a healthy connection)
 * - `timeout`: connecting took too long (the first-byte timeout is the proxy's own timer, not an error code)
 * - `tls`: the origin's certificate is not trusted (another attempt meets the same certificate)
 * - `invalid`: undici refused the request itself (a header it will not send): the request is at fault, not the origin
 * - `other`: anything else
 */
export type FailureKind = "connect" | "timeout" | "tls" | "invalid" | "other";

const CONNECT_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  // HTTP/2: the session went away (GOAWAY) or the server refused the stream (over its concurrency limit)
  "ERR_HTTP2_GOAWAY_SESSION",
  "ERR_HTTP2_SESSION_ERROR",
  "ERR_HTTP2_INVALID_SESSION",
  "ERR_HTTP2_STREAM_ERROR",
  "ERR_HTTP2_STREAM_CANCEL",
  "ERR_HTTP2_ERROR",
  "UND_ERR_INFO",
]);
const TIMEOUT_CODES = new Set(["UND_ERR_CONNECT_TIMEOUT", "ETIMEDOUT", "UND_ERR_HEADERS_TIMEOUT"]);
const TLS_CODE_RE = /^(ERR_TLS_|ERR_SSL_|CERT_|DEPTH_ZERO_|SELF_SIGNED_|UNABLE_TO_|HOSTNAME_MISMATCH)/;
const INVALID_CODES = new Set(["UND_ERR_INVALID_ARG", "UND_ERR_NOT_SUPPORTED", "ERR_INVALID_ARG_TYPE", "ERR_INVALID_ARG_VALUE", "ERR_INVALID_HTTP_TOKEN"]);

/** The error code of an error (or of its cause, where undici wraps one). */
export function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === "object" && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code !== "") return code;
  }
  return undefined;
}

export function classifyError(err: unknown): FailureKind {
  const code = errorCode(err);
  if (code === undefined) return "other";
  if (TIMEOUT_CODES.has(code)) return "timeout";
  if (CONNECT_CODES.has(code)) return "connect";
  if (TLS_CODE_RE.test(code)) return "tls";
  if (INVALID_CODES.has(code)) return "invalid";
  return "other";
}

/** Failures another attempt may get past. */
export const isRetryableFailure = (kind: FailureKind): boolean => kind === "connect" || kind === "timeout";

/**
 * The wait before retry number `retry` (1 for the first retry): full jitter
 * over an exponentially growing window, so a crowd of workers that failed
 * together does not come back together.
 */
export function backoffMs(retry: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const window = Math.min(maxMs, baseMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(Math.min(1, Math.max(0, random())) * window);
}

type HeaderValue = string | string[] | undefined;
const first = (v: HeaderValue): string | undefined => (Array.isArray(v) ? v[0] : v)?.trim();

/**
 * How long the upstream asked us to wait, in ms: `retry-after-ms` (OpenAI's,
 * milliseconds) first, then `Retry-After` in seconds or as an HTTP date.
 * undefined when it said nothing we can read.
 */
export function parseRetryAfter(headers: Record<string, HeaderValue>, now: number = Date.now()): number | undefined {
  const ms = first(headers["retry-after-ms"]);
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms)) return Math.ceil(Number(ms));
  const ra = first(headers["retry-after"]);
  if (ra === undefined || ra === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(ra)) return Math.ceil(Number(ra) * 1000);
  // an HTTP date has letters in it; a bare number that failed the test above is junk, not a date
  if (!/[A-Za-z]/.test(ra)) return undefined;
  const at = Date.parse(ra);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export interface RetryPolicy {
  maxAttempts: number;
  baseMs: number;
  maxMs: number;
}

export type Verdict = { retry: true; delayMs: number } | { retry: false; why: string };

export interface AttemptResult {
  /** the attempt that just ended, 1-based */
  attempt: number;
  /** the status the upstream answered, or what went wrong without an answer */
  outcome: { status: number; retryAfterMs: number | undefined } | { failure: FailureKind };
  /** time left before the exchange's total timeout */
  remainingMs: number;
}

/** Whether to try again after this attempt, and after how long. */
export function decide(p: RetryPolicy, r: AttemptResult, random: () => number = Math.random): Verdict {
  if ("status" in r.outcome) {
    if (!isRetryableStatus(r.outcome.status)) return { retry: false, why: `status ${r.outcome.status} is final` };
  } else if (!isRetryableFailure(r.outcome.failure)) {
    return { retry: false, why: `a ${r.outcome.failure} failure does not go away by retrying` };
  }
  if (r.attempt >= p.maxAttempts) return { retry: false, why: `${p.maxAttempts} attempts spent` };
  let delayMs: number;
  const asked = "status" in r.outcome ? r.outcome.retryAfterMs : undefined;
  if (asked !== undefined) {
    // a wait longer than we would ever back off is the provider saying "not soon": hand that to the client
    if (asked > p.maxMs) return { retry: false, why: `the upstream asked for ${asked} ms, over the ${p.maxMs} ms cap` };
    delayMs = asked;
  } else {
    delayMs = backoffMs(r.attempt, p.baseMs, p.maxMs, random);
  }
  if (delayMs >= r.remainingMs) return { retry: false, why: `no time left for another attempt (${r.remainingMs} ms)` };
  return { retry: true, delayMs };
}
