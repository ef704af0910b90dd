// Who reads a plain HTTP answer, and what happens when its reader leaves. A
// client cut off mid-answer may come back (post.ts resume); one that does not
// should not keep paying for tokens nobody reads: its request is cancelled
// after a grace period with no resume. A resume supersedes every earlier
// response of the answer — here at once, on other gateway processes by a
// `resumed-from` notice on the session's live subject — so an earlier reader
// that leaves later (a connection the gateway finds dead only now) cancels
// nothing.
import { randomInt } from "node:crypto";
import type { SessionId } from "@radiant/wire";

/** A response that can be told a newer one reads its answer now. */
export interface Reader {
  superseded(): void;
}

/** How long a resume notice of this process is known as its own (it comes back to it through NATS). */
const OWN_NOTICE_MS = 60_000;

export class Grace {
  /** the response reading each session's answer here, the newest */
  private readonly readers = new Map<SessionId, Reader>();
  private readonly waiting = new Map<SessionId, { timer: NodeJS.Timeout; release: () => void }>();
  /** the resume notices this process sent */
  private readonly mine = new Set<number>();

  constructor(private readonly ms: number) {}

  /** A response for the session's answer opened here: an earlier one here is superseded, a pending cancel is off. */
  opened(sid: SessionId, r: Reader): void {
    this.keep(sid);
    const prev = this.readers.get(sid);
    this.readers.set(sid, r);
    if (prev && prev !== r) prev.superseded();
  }

  /**
   * A response is over; `left`: its client went away before the answer's end.
   * `release` lets go of the answer's line; `cancel` stops the request. The
   * newest reader that left keeps the line for the grace period (a notice of
   * a resume elsewhere arrives on it), then cancels.
   */
  over(sid: SessionId, r: Reader, left: boolean, cancel: () => void, release: () => void): void {
    if (this.readers.get(sid) !== r) return release(); // superseded: a newer response reads it
    this.readers.delete(sid);
    if (!left) return release();
    const timer = setTimeout(() => {
      this.waiting.delete(sid);
      cancel();
      release();
    }, this.ms);
    timer.unref();
    this.waiting.set(sid, { timer, release });
  }

  /** A number for this process's resume notice (notice() ignores it when it comes back). */
  noticeId(): number {
    const n = randomInt(1, 2 ** 47);
    this.mine.add(n);
    setTimeout(() => this.mine.delete(n), OWN_NOTICE_MS).unref();
    return n;
  }

  /** Another process resumed the session's answer: everything here reads it no more, and cancels nothing. */
  notice(sid: SessionId, id: number): void {
    if (this.mine.delete(id)) return;
    this.keep(sid);
    const r = this.readers.get(sid);
    if (!r) return;
    this.readers.delete(sid);
    r.superseded();
  }

  /** a cancel waiting for this session is off: someone reads it again */
  private keep(sid: SessionId): void {
    const w = this.waiting.get(sid);
    if (!w) return;
    this.waiting.delete(sid);
    clearTimeout(w.timer);
    w.release();
  }

  /** answers whose reader left and that wait to be cancelled */
  get size(): number {
    return this.waiting.size;
  }
}
