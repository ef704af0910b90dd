// An HTTP response waiting for its request's reply (MCP POSTs, LLM endpoints). Delivery
// hands it the request's stored messages in order (it is a Sink); it ends at
// the reply's End. Before the request's publish is acked, and while a
// re-sent request's replies are read back from HISTORY, messages wait here.
import type { Sink, Stored } from "../delivery.js";
import type { OpenPost } from "./mcp_http/post_ledger.js";

export abstract class Answer implements Sink, OpenPost {
  /** called once when the answer is over (answered, timed out, abandoned, its client gone) */
  onOver: () => void = () => {};
  finished = false;
  /** its reply's End arrived: the answer is whole */
  completed = false;
  private started = false;
  private replaying = false;
  private waiting: Stored[] = [];
  /** sequences handed over already, once a replay from HISTORY may repeat live ones */
  private given: Set<number> | undefined;

  abstract bufferedAmount(): number;
  /** the response head (and a priming event) */
  protected abstract begin(): void;
  protected abstract write(m: Stored): void;
  /** the reply is complete */
  protected abstract complete(): void;
  /** no reply within the response timeout */
  abstract timeout(ms: number): void;
  /** its client is gone (a GET resumed from an event id it sent), or HISTORY lost its reply */
  protected abstract cut(why: "abandoned" | "lost" | "ended"): void;
  abstract sent(eventId: number): boolean;

  deliver(m: Stored): void {
    if (this.finished) return;
    if (!this.started || this.replaying) this.waiting.push(m);
    else this.take(m);
  }

  private take(m: Stored): void {
    if (this.finished || this.given?.has(m.seq)) return;
    this.given?.add(m.seq);
    this.write(m);
    if (m.reply.end) {
      this.completed = true;
      this.finish(() => this.complete());
    }
  }

  /** The request is in INBOX: the response may begin (what waited goes now, unless a replay runs: after it). */
  start(): void {
    this.started = true;
    this.begin();
    if (!this.replaying) this.flush();
  }

  /**
   * A re-sent request is not run again (JetStream de-duplicated it): its
   * replies are read back from HISTORY, then whatever else comes live. Call
   * before `start()`: what arrived live meanwhile waits until the replay has
   * handed on what came before it (and is not handed on twice).
   */
  async replay(stored: AsyncIterable<Stored[]>, rid: string): Promise<void> {
    this.given = new Set();
    this.replaying = true;
    try {
      for await (const batch of stored) {
        for (const m of batch) if (m.reply.rid === rid) this.take(m);
        if (this.finished) return;
      }
    } finally {
      this.replaying = false;
      this.flush();
    }
  }

  private flush(): void {
    const w = this.waiting;
    this.waiting = [];
    for (const m of w) this.take(m);
  }

  historyLost(): boolean {
    this.finish(() => this.cut("lost"));
    return false;
  }

  abandon(): void {
    this.finish(() => this.cut("abandoned"));
  }

  sessionEnded(): void {
    this.finish(() => this.cut("ended"));
  }

  /** Over: `end` writes the last of it. */
  protected finish(end: () => void): void {
    if (this.finished) return;
    this.finished = true;
    this.onOver();
    end();
  }
}
