// Nothing a client sends may throw out of a uWS callback: an exception there
// ends the process, and every bystander's socket with it. Every callback the
// gateway hands uWS goes through `guard`, which answers the one caller in its
// own terms (a close code, a 500) and counts the bug instead.
import type { Logger } from "pino";
import { metrics } from "./metrics.js";

let log: Logger | undefined;

/** Where guarded failures are logged (the process's logger). */
export function setGuardLogger(l: Logger): void {
  log = l;
}

/** A failure caught at the edge: counted and logged, never rethrown. */
export function internalError(where: string, e: unknown): void {
  metrics.internalErrors.inc({ where });
  log?.error({ where, err: (e as Error)?.stack ?? String(e) }, "internal error caught at the edge");
}

/** `fn`, made safe to hand to uWS: a throw becomes `onThrow` (which must not throw either). */
export function guard<A extends unknown[]>(where: string, fn: (...a: A) => void, onThrow: (...a: A) => void): (...a: A) => void {
  return (...a: A) => {
    try {
      fn(...a);
    } catch (e) {
      internalError(where, e);
      try {
        onThrow(...a);
      } catch {
        // the socket may be gone already: nothing more to tell anyone
      }
    }
  };
}

/** The same for a promise a callback started and nobody awaits. */
export function settle(where: string, p: Promise<unknown>, onReject: () => void): void {
  p.catch((e: unknown) => {
    internalError(where, e);
    try {
      onReject();
    } catch {
      // as above
    }
  });
}
