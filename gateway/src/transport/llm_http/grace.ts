// A plain HTTP client that goes away mid-answer may come back to resume it
// (post.ts); one that does not should not keep paying for tokens nobody reads.
// So its request is cancelled only after a grace period with no resume — a
// resume on any gateway process says so on the session's live subject.
import type { SessionId } from "@radiant/wire";

export class Grace {
  private readonly waiting = new Map<SessionId, { timer: NodeJS.Timeout; release: () => void }>();

  constructor(private readonly ms: number) {}

  /** The client left: `expire` (cancel) after the grace period unless resumed; `release` either way after. */
  start(sid: SessionId, expire: () => void, release: () => void): void {
    this.resumed(sid);
    const timer = setTimeout(() => {
      this.waiting.delete(sid);
      expire();
      release();
    }, this.ms);
    timer.unref();
    this.waiting.set(sid, { timer, release });
  }

  /** Someone resumed the answer: nothing to cancel. */
  resumed(sid: SessionId): void {
    const w = this.waiting.get(sid);
    if (!w) return;
    this.waiting.delete(sid);
    clearTimeout(w.timer);
    w.release();
  }

  get size(): number {
    return this.waiting.size;
  }
}
