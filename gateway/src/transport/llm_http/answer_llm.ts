// The HTTP response to an LLM request: nothing is written until the reply's
// first message says how it begins (its Radiant-Response head: status, event
// stream or one JSON body — the gateway never parses the body to know). A
// stream goes out one event per frame, named where the API names its events,
// with the frame's position as event id where the client's SDK tolerates one;
// a JSON answer is the first frame, whole.
import { STATUS_CODES } from "node:http";
import { position, type ResponseHead } from "@radiant/wire";
import type { Stored } from "../../delivery.js";
import { eachFrame } from "../../frames.js";
import { metrics } from "../../metrics.js";
import { Answer } from "../answer.js";
import type { Exchange } from "../http.js";
import type { Reader } from "./grace.js";
import { SseStream } from "../sse_stream.js";

/** How a client API's event stream looks (docs/protocols.md). */
export interface StreamStyle {
  /** event ids (Google's SDK reads an `id:` line as part of the JSON) */
  ids: boolean;
  /** `data: [DONE]` after the last event (OpenAI Chat Completions) */
  done: boolean;
}

/** Where a resumed response starts: after an event id, or after so many events. */
export type ResumePoint = { afterId: number } | { afterCount: number };

export const statusLine = (status: number): string => `${status} ${STATUS_CODES[status] ?? "Unknown"}`;

const DONE = "data: [DONE]\n\n";

export class LlmAnswer extends Answer implements Reader {
  /** the response began (its head is written): from here a stream lasts as long as its answer */
  onBegin: () => void = () => {};
  private stream: SseStream | undefined;
  private head: ResponseHead | undefined;
  /** events written (or skipped on a resume) */
  private events = 0;

  constructor(
    private readonly x: Exchange,
    private readonly style: StreamStyle,
    /** headers every response carries (how to resume it) */
    private readonly headers: [string, string][],
    private readonly from: ResumePoint | undefined,
  ) {
    super();
  }

  bufferedAmount(): number {
    return this.stream?.bufferedAmount() ?? 0;
  }

  /** the head waits for the first message */
  protected begin(): void {}

  protected write(m: Stored): void {
    if (!this.head) this.open(m);
    const stream = this.stream;
    if (!stream) return; // a JSON answer is its first frame
    let n = 0;
    eachFrame(m, (frame, i, f) => {
      const p = position(m.seq, i);
      this.events++;
      if (this.from && ("afterId" in this.from ? p <= this.from.afterId : this.events <= this.from.afterCount)) return;
      stream.send(frame, this.style.ids ? p : 0, f?.event);
      n++;
    });
    metrics.messagesOut.inc(n);
  }

  private open(m: Stored): void {
    const head = m.reply.head ?? { status: 200, stream: false };
    this.head = head;
    this.onBegin();
    const headers: [string, string][] = [...this.headers];
    if (head.retryAfter !== undefined) headers.push(["Retry-After", head.retryAfter]);
    if (head.stream) {
      this.stream = new SseStream(this.x, "plain");
      this.stream.owner = { streamGone: () => this.finish(() => {}) };
      this.stream.begin(headers, statusLine(head.status));
      return;
    }
    let body: Uint8Array | undefined;
    eachFrame(m, (frame, i) => {
      if (i === 0) body = frame;
    });
    metrics.messagesOut.inc();
    this.x.reply(statusLine(head.status), body ?? new Uint8Array(0), { headers });
  }

  protected complete(): void {
    if (this.stream) {
      if (this.style.done) this.stream.write(DONE);
      this.stream.end();
    } else if (!this.head) {
      // an End with no frames at all: nothing to say but that nothing came
      this.x.fail("502 Bad Gateway", "The answer ended before it began");
    }
  }

  protected cut(why: "abandoned" | "lost" | "ended"): void {
    if (this.stream) this.stream.end();
    else if (why === "lost")
      this.x.fail("503 Service Unavailable", "The answer was lost from the gateway's history; retry", { headers: [["Retry-After", "1"]] });
    else if (why === "ended") this.x.fail("410 Gone", "The session of this answer was ended");
  }

  /** A resume of this answer opened: its client reads it there now. */
  superseded(): void {
    this.finish(() => {
      if (this.stream) this.stream.end();
      else this.x.fail("409 Conflict", "This answer is read by a newer request (a resume with its token)");
    });
  }

  timeout(ms: number): void {
    this.finish(() => {
      if (this.stream) this.stream.end();
      else this.x.fail("504 Gateway Timeout", `No answer within ${ms} ms`, { headers: this.headers });
    });
  }

  sent(): boolean {
    return false;
  }
}
