// Fakes for the unit tests of pure state machines (writer, run, running): a
// publisher the test acks by hand or automatically, timers it fires by hand,
// and a logger whose lines it can read. No NATS here; the end-to-end tests use
// a real nats-server.
import type { MsgHdrs } from "@nats-io/nats-core";
import { pino, type Logger } from "pino";
import { headers, readReply, type FrameInfo } from "@radiant/wire";
import type { ReplyPublisher, Timers } from "../src/writer.js";

export interface Sent {
  subject: string;
  data: Buffer;
  msgId: string;
  h: MsgHdrs;
  settled: boolean;
  resolve(): void;
  reject(e: unknown): void;
}

export class FakePublisher implements ReplyPublisher {
  readonly sent: Sent[] = [];
  /** auto: each publish is acked a microtask later (or failed, if `fail` says so); manual: the test settles them */
  constructor(
    public mode: "auto" | "manual" = "auto",
    public fail: (s: Sent, index: number) => unknown = () => undefined,
  ) {}

  publish(subject: string, data: Uint8Array, msgId: string, h: MsgHdrs): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const s: Sent = {
        subject,
        data: Buffer.from(data),
        msgId,
        h,
        settled: false,
        resolve: () => {
          s.settled = true;
          resolve({ stream: "HISTORY", seq: this.sent.indexOf(s) + 1, duplicate: false });
        },
        reject: (e) => {
          s.settled = true;
          reject(e);
        },
      };
      const index = this.sent.length;
      this.sent.push(s);
      if (this.mode === "auto")
        queueMicrotask(() => {
          const e = this.fail(s, index);
          if (e) s.reject(e);
          else s.resolve();
        });
    });
  }

  ackAll(): void {
    for (const s of this.sent) if (!s.settled) s.resolve();
  }

  /** what each message carries, as the gateway reads it */
  get messages(): Decoded[] {
    return this.sent.map(decode);
  }
}

export interface Decoded {
  msgId: string;
  rid: string | undefined;
  end: boolean;
  /** the raw Radiant-Frames header ("" when absent) */
  framesHeader: string;
  frames: FrameInfo[];
  /** each frame's text */
  texts: string[];
  size: number;
}

export function decode(s: { data: Buffer; msgId: string; h: MsgHdrs }): Decoded {
  const meta = readReply(s.h, s.data.length);
  const framesHeader = s.h.get(headers.frames);
  if (framesHeader !== "" && meta.frames === undefined) throw new Error(`frames header ${framesHeader} does not describe ${s.data.length} bytes`);
  const frames = meta.frames ?? [{ length: s.data.length }];
  const texts: string[] = [];
  let at = 0;
  for (const f of frames) {
    texts.push(s.data.subarray(at, at + f.length).toString());
    at += f.length;
  }
  return { msgId: s.msgId, rid: meta.rid, end: meta.end, framesHeader, frames, texts, size: s.data.length };
}

/** Timers the test fires by hand. */
export class FakeTimers implements Timers {
  private next = 1;
  readonly pending = new Map<number, { f: () => void; ms: number }>();
  setTimeout(f: () => void, ms: number): unknown {
    const id = this.next++;
    this.pending.set(id, { f, ms });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.pending.delete(h as number);
  }
  /** fire every timer now pending whose delay is `ms` (any delay when omitted) */
  fire(ms?: number): number {
    let n = 0;
    for (const [id, t] of [...this.pending]) {
      if (ms !== undefined && t.ms !== ms) continue;
      this.pending.delete(id);
      t.f();
      n++;
    }
    return n;
  }
}

/** A logger whose lines the test reads. */
export function captureLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "debug" }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
