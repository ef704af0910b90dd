// A fake NATS link and HISTORY for the unit tests of the session core's state
// machines (delivery, hub): what the real ones do, in memory, with faults on
// demand. End-to-end tests use the real nats-server.
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/nats-core";
import { headers, replyHeaders, subjects, type FrameInfo, type SessionId } from "@radiant/wire";
import { stored, type HistoryReader, type LiveLink, type LiveMsg, type Sink, type Stored } from "../src/delivery.js";

/** A stored message as HISTORY keeps it. */
interface Kept {
  sid: SessionId;
  seq: number;
  data: Uint8Array;
  h: ReturnType<typeof natsHeaders>;
}

export class FakeNats implements LiveLink, HistoryReader {
  readonly subs = new Map<string, Set<(m: LiveMsg) => void>>();
  readonly kept: Kept[] = [];
  /** reads fail while set */
  down = false;
  seq = 0;
  private asks = 0;

  subscribe(subject: string, cb: (m: LiveMsg) => void): () => void {
    let s = this.subs.get(subject);
    if (!s) this.subs.set(subject, (s = new Set()));
    s.add(cb);
    return () => {
      s.delete(cb);
      if (s.size === 0) this.subs.delete(subject);
    };
  }

  async flush(): Promise<void> {}

  /** core publish: to every subscription whose subject matches (`*` a token, `>` the rest) */
  publish(subject: string, data: Uint8Array | undefined, h?: MsgHdrs, reply?: string): void {
    const m: LiveMsg = { subject, data: data ?? new Uint8Array(0), headers: h, reply };
    for (const [pattern, cbs] of [...this.subs]) if (matches(pattern, subject)) for (const cb of [...cbs]) cb(m);
  }

  /** a request: the first answer on the reply subject (given synchronously, as the fakes do), or undefined */
  async ask(subject: string, data: Uint8Array): Promise<Uint8Array | undefined> {
    if (this.down) return undefined;
    const reply = `_INBOX.${++this.asks}`;
    let answer: Uint8Array | undefined;
    const off = this.subscribe(reply, (m) => (answer ??= m.data));
    this.publish(subject, data, undefined, reply);
    off();
    return answer;
  }

  /** One process's own link over this fake: `kill()` ends its subscriptions and silences it, as a kill -9 would. */
  peer(): LiveLink & { kill(): void } {
    const offs = new Set<() => void>();
    let dead = false;
    return {
      subscribe: (subject, cb) => {
        const off = this.subscribe(subject, (m) => dead || cb(m));
        offs.add(off);
        return () => {
          offs.delete(off);
          off();
        };
      },
      flush: async () => {},
      publish: (subject, data, h) => dead || this.publish(subject, data, h),
      ask: async (subject, data) => (dead ? undefined : this.ask(subject, data)),
      kill: () => {
        dead = true;
        for (const off of offs) off();
      },
    };
  }

  /** Store a reply (as a worker would) and return what RePublish would send; `live: false` keeps it from the live path. */
  store(sid: SessionId, body: string, o: { rid?: string; end?: boolean; frames?: FrameInfo[] } = {}): LiveMsg {
    const seq = ++this.seq;
    const data = Buffer.from(body);
    const h = o.rid ? replyHeaders({ rid: o.rid, end: o.end ?? false, frames: o.frames ?? [{ length: data.length }], ingressTs: 0 }) : natsHeaders();
    const prev = [...this.kept].reverse().find((k) => k.sid === sid)?.seq ?? 0;
    this.kept.push({ sid, seq, data, h });
    const live = natsHeaders();
    for (const [k, v] of h) live.set(k, v[0]!);
    live.set(headers.sequence, String(seq));
    live.set(headers.lastSequence, String(prev));
    return { subject: subjects.live(sid), data, headers: live };
  }

  /** Deliver a live message to whoever subscribes to its subject (the home wildcard included). */
  deliver(m: LiveMsg): void {
    this.publish(m.subject, m.data, m.headers);
  }

  drop(seq: number): void {
    const i = this.kept.findIndex((k) => k.seq === seq);
    if (i >= 0) this.kept.splice(i, 1);
  }

  private check(): void {
    if (this.down) throw new Error("history down");
  }

  async next(sid: SessionId, after: number): Promise<Stored | null> {
    this.check();
    const k = this.kept.find((x) => x.sid === sid && x.seq > after);
    return k ? stored(k.seq, k.data, k.h) : null;
  }

  async *batches(sid: SessionId, after: number): AsyncIterable<Stored[]> {
    this.check();
    const all = this.kept.filter((x) => x.sid === sid && x.seq > after).map((k) => stored(k.seq, k.data, k.h));
    try {
      for (let i = 0; i < all.length; i += 7) yield all.slice(i, i + 7);
    } finally {
      await this.batchesEnd?.(); // the real reader deletes its consumer here: a round trip
    }
  }

  /** awaited as a batched read ends, however it ends */
  batchesEnd: (() => Promise<void>) | undefined;

  async get(sid: SessionId, seq: number): Promise<Stored | null> {
    this.check();
    const k = this.kept.find((x) => x.sid === sid && x.seq === seq);
    return k ? stored(k.seq, k.data, k.h) : null;
  }

  async holds(sid: SessionId, seq: number): Promise<boolean> {
    this.check();
    return this.kept.some((k) => k.sid === sid && k.seq === seq);
  }

  async last(sid: SessionId): Promise<number> {
    this.check();
    return [...this.kept].reverse().find((k) => k.sid === sid)?.seq ?? 0;
  }
}

export class Recorder implements Sink {
  readonly got: Stored[] = [];
  buffered = 0;
  lost: number[] = [];
  carryOn = false;
  bufferedAmount(): number {
    return this.buffered;
  }
  deliver(m: Stored): void {
    this.got.push(m);
  }
  historyLost(afterSeq: number): boolean {
    this.lost.push(afterSeq);
    return this.carryOn;
  }
  get bodies(): string[] {
    return this.got.map((m) => Buffer.from(m.data).toString());
  }
}

function matches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length || (p[i] !== "*" && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

/** Poll `f` until it holds (fakes settle within a few turns; this bounds the wait). */
export async function until(what: string, f: () => boolean, ms = 2000): Promise<void> {
  for (let i = 0; i < ms / 5 && !f(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!f()) throw new Error(`never: ${what}`);
}
