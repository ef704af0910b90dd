// Server-sent events on a uWS response, as a session's Transport: the wire
// format (an event per frame, one line of JSON per `data:`, `id:` = seq_num
// on a message's last frame, `event:` where the protocol names its events),
// comment heartbeats, and the backpressure count delivery reads. `data:` comes
// first in every event: the Google SDK drops an event whose first line is
// `id:` or `event:`. Events are assembled in one scratch buffer and written
// with one corked write; uWS copies what it cannot send at once.
import type { FrameInfo } from "@radiant/wire";
import type { Stored } from "../delivery.js";
import { connectionClosed, connectionOpened } from "../metrics.js";
import type { Framing } from "../protocol.js";
import type { Session, Transport } from "../session.js";
import type { Exchange } from "./http.js";

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const ID = Buffer.from("\nid: ");
const EVENT = Buffer.from("\nevent: ");
const DATA = Buffer.from("data: ");
const HEARTBEAT = ":\n\n";

let scratch = Buffer.allocUnsafe(64 * 1024);

function room(n: number): Buffer {
  if (scratch.length < n) scratch = Buffer.allocUnsafe(Math.max(n, scratch.length * 2));
  return scratch;
}

/** `data: <frame>`, then `\nevent: <name>` (if any) and `\nid: <seq>` (when seq > 0), then the blank line; in the scratch buffer. */
export function eventBytes(frame: Uint8Array | string, seq: number, event?: string): Buffer {
  const size = typeof frame === "string" ? Buffer.byteLength(frame) : frame.length;
  const b = room(size + 120);
  let at = 0;
  b.set(DATA, at);
  at += DATA.length;
  const start = at;
  if (typeof frame === "string") at += b.write(frame, at);
  else {
    b.set(frame, at);
    at += frame.length;
  }
  // JSON may hold a line break only as white space between tokens (never raw
  // inside a string), so a space in its place keeps the JSON and the event whole
  for (let i = b.indexOf(LF, start); i >= 0 && i < at; i = b.indexOf(LF, i + 1)) b[i] = SPACE;
  for (let i = b.indexOf(CR, start); i >= 0 && i < at; i = b.indexOf(CR, i + 1)) b[i] = SPACE;
  if (event !== undefined) {
    b.set(EVENT, at);
    at += EVENT.length;
    at += b.write(event, at, "latin1");
  }
  if (seq > 0) {
    b.set(ID, at);
    at += ID.length;
    at += b.write(String(seq), at, "latin1");
  }
  b[at++] = LF;
  b[at++] = LF;
  return b.subarray(0, at);
}

// uWS wants writes from outside its own callbacks corked; one shared callback spares a closure per event
let corkStream: SseStream | undefined;
let corkBytes: Uint8Array | string = "";
let corkOk = true;
const corkedWrite = () => {
  corkOk = corkStream!.x.res.write(corkBytes);
};

const streams = new Set<SseStream>();
let heartbeat: NodeJS.Timeout | undefined;

/** Comment lines on every open stream, so proxies and clients see a live connection. */
export function startHeartbeats(everyMs: number): void {
  heartbeat ??= setInterval(() => {
    for (const s of streams) if (s.bufferedAmount() === 0) s.write(HEARTBEAT);
  }, everyMs);
  heartbeat.unref();
}

/** Who hears that a stream ended (its client left, or it was ended) and that its socket drained. */
export interface SseOwner {
  /** called once */
  streamGone(stream: SseStream): void;
  streamDrained?(stream: SseStream): void;
}

// One per open stream (a session's stream may be held for hours): what only
// MCP's GET streams set is declared, not a field of every instance, and the
// drain handler is given to uWS only once a write meets backpressure.
export class SseStream implements Transport {
  /** bytes written since uWS last reported backpressure: what sits in user space */
  private queued = 0;
  owner: SseOwner | undefined;
  /** the session this stream carries, if it carries one (its owner is then the hub's) */
  session: Session | undefined;
  declare accepts?: (m: Stored, f: FrameInfo | undefined) => boolean;
  declare prime?: (lastSeq: number) => void;
  declare takenOver?: () => void;
  declare historyLost?: (afterSeq: number) => boolean;

  constructor(
    readonly x: Exchange,
    readonly framing: Framing,
  ) {}

  /** The response head. `headers`: extra ones (Mcp-Session-Id). */
  begin(headers: [string, string][] = [], status = "200 OK"): void {
    const res = this.x.res;
    // from now on the stream alone hears its client leave
    this.x.onAbort = undefined;
    this.x.stream = this;
    res.cork(() => {
      res.writeStatus(status);
      this.x.writeCors();
      res.writeHeader("Content-Type", "text/event-stream");
      res.writeHeader("Cache-Control", "no-cache");
      res.writeHeader("X-Accel-Buffering", "no");
      for (const [k, v] of headers) res.writeHeader(k, v);
      // the head goes out now: an EventSource reports "open" before the first event
      res.write(HEARTBEAT);
    });
    streams.add(this);
    connectionOpened();
  }

  corked(run: () => void): void {
    if (this.x.open)
      this.x.res.cork(run); // a write inside runs in this cork: uWS corks a socket once
    else run();
  }

  write(bytes: Uint8Array | string): boolean {
    if (!this.x.open) return false;
    corkStream = this;
    corkBytes = bytes;
    this.x.res.cork(corkedWrite);
    corkStream = undefined;
    corkBytes = "";
    if (!corkOk) {
      if (this.queued === 0)
        this.x.res.onWritable(() => {
          this.queued = 0;
          this.owner?.streamDrained?.(this);
          return true;
        });
      this.queued += bytes.length;
    }
    return true;
  }

  bufferedAmount(): number {
    return this.queued;
  }

  send(frame: Uint8Array | string, eventId: number, event?: string): boolean {
    return this.write(eventBytes(frame, eventId, event));
  }

  /** An event with an id and no data: a point the client can resume from (MCP's priming event). */
  mark(seq: number): void {
    this.write(`id: ${seq}\ndata: \n\n`);
  }

  /** A last `close` event saying why, then the end of the response (an EventSource reconnects after it). */
  close(code: number, reason: string): void {
    this.write(`event: close\ndata: ${JSON.stringify({ code, reason })}\n\n`);
    this.end();
  }

  end(): void {
    if (this.x.open) {
      this.x.ended = true;
      this.x.res.cork(() => this.x.res.end());
    }
    this.gone();
  }

  /** the client went away or the stream ended (the exchange calls it when its client aborts) */
  gone(): void {
    if (!streams.delete(this)) return;
    connectionClosed();
    this.owner?.streamGone(this);
  }
}
