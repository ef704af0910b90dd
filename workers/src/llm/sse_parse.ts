// Reading an upstream's server-sent events as they arrive: bytes in, whole
// events out (WHATWG rules: lines end in CR LF, LF or CR; `data:` lines join
// with LF; comments, `id:` and `retry:` are not needed here and skipped).
import type { UpstreamEvent } from "./translate/types.js";

/** An event bigger than this is the upstream's fault: the stream is refused rather than buffered without end. */
export const MAX_EVENT_BYTES = 16 * 1024 * 1024;

export class SseParser {
  private rest = "";
  private data: string[] = [];
  private event: string | undefined;
  private size = 0;
  private readonly decoder = new TextDecoder();

  /** Feed bytes; returns the events they complete. Throws when one event grows past MAX_EVENT_BYTES. */
  push(chunk: Uint8Array): UpstreamEvent[] {
    const text = this.rest + this.decoder.decode(chunk, { stream: true });
    const out: UpstreamEvent[] = [];
    let at = 0;
    for (;;) {
      const cr = text.indexOf("\r", at);
      const lf = text.indexOf("\n", at);
      if (cr < 0 && lf < 0) break;
      let end: number;
      let next: number;
      if (cr >= 0 && (lf < 0 || cr < lf)) {
        // a CR at the very end may be the first half of CR LF: wait for the next chunk
        if (cr === text.length - 1) break;
        end = cr;
        next = text[cr + 1] === "\n" ? cr + 2 : cr + 1;
      } else {
        end = lf;
        next = lf + 1;
      }
      this.line(text.slice(at, end), out);
      at = next;
    }
    this.rest = text.slice(at);
    this.size += chunk.byteLength;
    if (this.rest.length > MAX_EVENT_BYTES || this.size > MAX_EVENT_BYTES) throw new Error(`an upstream event over ${MAX_EVENT_BYTES} bytes`);
    return out;
  }

  /** The stream ended: an event not closed by a blank line is incomplete and dropped (as the SDKs do). */
  end(): UpstreamEvent[] {
    return [];
  }

  private line(line: string, out: UpstreamEvent[]): void {
    if (line === "") {
      if (this.data.length > 0) out.push(this.event === undefined ? { data: this.data.join("\n") } : { event: this.event, data: this.data.join("\n") });
      this.data = [];
      this.event = undefined;
      this.size = 0;
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
  }
}
