// What the proxy knows of one upstream origin's health: its circuit breaker,
// request/retry/failure counts and recent times to first byte, as /health shows them.
import type { Breaker, BreakerState } from "./breaker.js";

/** The last TTFB samples kept for the percentiles (a window, not since start: /health should show now). */
const TTFB_WINDOW = 1024;

export class Samples {
  private readonly buf: number[] = [];
  private next = 0;

  constructor(private readonly capacity = TTFB_WINDOW) {}

  add(v: number): void {
    if (this.buf.length < this.capacity) this.buf.push(v);
    else this.buf[this.next] = v;
    this.next = (this.next + 1) % this.capacity;
  }

  /** The p-quantile (0..1) by nearest rank; null with no samples. */
  quantile(p: number): number | null {
    if (this.buf.length === 0) return null;
    const sorted = [...this.buf].sort((a, b) => a - b);
    const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
    return sorted[i] ?? null;
  }
}

export class OriginHealth {
  /** worker requests routed here */
  requests = 0;
  /** attempts repeated */
  retries = 0;
  /** failed attempts (connect errors, timeouts, 5xx) */
  failures = 0;
  readonly ttfbMs = new Samples();

  constructor(
    readonly origin: string,
    readonly breaker: Breaker,
  ) {}

  get breakerState(): BreakerState {
    return this.breaker.state();
  }
}
