// A POST answered with one JSON body (an array for a batch) once its reply is
// complete: the responses only — a JSON answer has no room for what the
// handler sent while working (that goes to the session's GET stream).
import type { Stored } from "../../delivery.js";
import { eachFrame } from "../../frames.js";
import { metrics } from "../../metrics.js";
import type { Exchange } from "../http.js";
import { Answer } from "../answer.js";

export class JsonAnswer extends Answer {
  private readonly parts: string[];

  constructor(
    private readonly x: Exchange,
    private readonly headers: [string, string][],
    private readonly batch: boolean,
    /** errors made here for batch items refused at the door */
    rejected: string[],
  ) {
    super();
    this.parts = [...rejected];
  }

  bufferedAmount(): number {
    return 0; // nothing is written before the end
  }

  protected begin(): void {}

  protected write(m: Stored): void {
    eachFrame(m, (frame, _i, f) => {
      if (f?.response) this.parts.push(Buffer.from(frame).toString());
    });
  }

  sent(): boolean {
    return false; // no event ids: nothing to resume from
  }

  protected complete(): void {
    metrics.messagesOut.inc(this.parts.length);
    // no response at all: the request was cancelled (MCP answers nothing then)
    if (this.parts.length === 0) return this.x.reply("202 Accepted", "", { headers: this.headers });
    const body = this.batch ? `[${this.parts.join(",")}]` : this.parts[0]!;
    this.x.reply("200 OK", body, { headers: this.headers });
  }

  protected cut(why: "abandoned" | "lost" | "ended"): void {
    if (why === "ended") this.x.fail("404 Not Found", "Session not found: the session was ended (by its client or an admin)");
    else this.x.fail("502 Bad Gateway", "Bad Gateway: the reply could not be delivered (history lost); it may be on the session's GET stream");
  }

  timeout(ms: number): void {
    this.finish(() =>
      this.x.fail("504 Gateway Timeout", `Gateway Timeout: no response within ${ms} ms; it will be in the session's history (GET with Last-Event-ID)`),
    );
  }
}
