// A POST answered as an SSE stream: each stored message of its request as it
// comes (replies and what the handler sent while working), then the end. Event
// ids are frame positions (wire: reply.ts): a stream cut early resumes on a
// GET with Last-Event-ID.
import { position } from "@radiant/wire";
import type { Stored } from "../../delivery.js";
import { eachFrame } from "../../frames.js";
import { metrics } from "../../metrics.js";
import type { Exchange } from "../http.js";
import { SseStream } from "../sse_stream.js";
import { Answer } from "../answer.js";

export class StreamAnswer extends Answer {
  private readonly stream: SseStream;
  /** the event ids this stream sent: a GET resuming from one of them means this stream is lost */
  private readonly ids = new Set<number>();

  constructor(
    x: Exchange,
    private readonly headers: [string, string][],
    /** the first event's id, or -1: no priming event for this client */
    private readonly primeAt: number,
    /** errors made here for batch items refused at the door: events without an id (they are not stored) */
    private readonly rejected: string[],
  ) {
    super();
    this.stream = new SseStream(x, "plain");
  }

  bufferedAmount(): number {
    return this.stream.bufferedAmount();
  }

  protected begin(): void {
    this.stream.begin(this.headers);
    this.stream.owner = { streamGone: () => this.finish(() => {}) };
    if (this.primeAt >= 0) {
      this.ids.add(this.primeAt);
      this.stream.mark(this.primeAt);
    }
    for (const r of this.rejected) this.stream.send(r, 0);
  }

  protected write(m: Stored): void {
    metrics.messagesOut.inc(
      eachFrame(m, (frame, i, f) => {
        const p = position(m.seq, i);
        this.ids.add(p);
        this.stream.send(frame, p, f?.event);
      }),
    );
  }

  sent(eventId: number): boolean {
    return this.ids.has(eventId);
  }

  protected complete(): void {
    this.stream.end();
  }

  protected cut(): void {
    this.stream.end();
  }

  /** the client resumes with GET and Last-Event-ID, if it can */
  timeout(): void {
    this.finish(() => this.stream.end());
  }
}
