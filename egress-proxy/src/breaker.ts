// The circuit breaker of one upstream origin, a pure state machine on an
// injectable clock: after N consecutive failed attempts the origin gets no
// traffic for a while, then exactly one probe decides whether it is back.

export type BreakerState = "closed" | "open" | "half-open";

export interface BreakerOptions {
  /** consecutive failed attempts that open the circuit */
  failures: number;
  /** how long it stays open before a probe may go */
  openMs: number;
  now?: () => number;
  /** told when the circuit opens or closes (half-open is only the passing of time, told by `state()`) */
  onChange?: (from: BreakerState, to: BreakerState) => void;
}

/** May an attempt go? A probe's outcome decides the half-open circuit, so it must be reported (or abandoned). */
export type Permit = { ok: true; probe: boolean } | { ok: false; retryAfterMs: number };

/** How long a refused caller should wait when a probe is already out: it may well settle within a second. */
const PROBE_BUSY_RETRY_MS = 1000;

export class Breaker {
  private st: "closed" | "open" = "closed";
  private consecutive = 0;
  private openedAt = 0;
  private probing = false;
  private readonly now: () => number;

  constructor(private readonly o: BreakerOptions) {
    this.now = o.now ?? Date.now;
  }

  /** The state now: an open circuit whose time is up reads as half-open. */
  state(): BreakerState {
    if (this.st === "closed") return "closed";
    return this.now() - this.openedAt >= this.o.openMs ? "half-open" : "open";
  }

  /** consecutive failures counted while closed */
  get failures(): number {
    return this.consecutive;
  }

  acquire(): Permit {
    const s = this.state();
    if (s === "closed") return { ok: true, probe: false };
    if (s === "open") return { ok: false, retryAfterMs: this.openedAt + this.o.openMs - this.now() };
    if (this.probing) return { ok: false, retryAfterMs: PROBE_BUSY_RETRY_MS };
    this.probing = true;
    return { ok: true, probe: true };
  }

  /** The attempt got an answer from a healthy origin (anything but a 5xx). */
  succeeded(p: Permit): void {
    if (!p.ok) return;
    if (p.probe) {
      this.probing = false;
      this.st = "closed";
      this.consecutive = 0;
      this.emit("half-open", "closed");
    } else if (this.st === "closed") {
      this.consecutive = 0;
    }
    // a late answer to an attempt sent before the circuit opened says nothing about the origin now: only the probe decides
  }

  /** The attempt failed: connect error, timeout, 5xx. */
  failed(p: Permit): void {
    if (!p.ok) return;
    if (p.probe) {
      this.probing = false;
      this.open("half-open");
    } else if (this.st === "closed" && ++this.consecutive >= this.o.failures) {
      this.open("closed");
    }
  }

  /** The attempt ended without telling anything (the caller went away, the request was bad): a probe's turn goes to the next caller. */
  abandoned(p: Permit): void {
    if (p.ok && p.probe) this.probing = false;
  }

  private open(from: BreakerState): void {
    this.st = "open";
    this.openedAt = this.now();
    this.consecutive = 0;
    this.emit(from, "open");
  }

  private emit(from: BreakerState, to: BreakerState): void {
    if (from !== to) this.o.onChange?.(from, to);
  }
}
