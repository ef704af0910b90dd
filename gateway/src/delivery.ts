// NATS → clients: the one ordered, gap-repaired delivery of each session's
// stored messages in this process. Every transport takes its messages from
// here; nothing else subscribes to a live subject.
//
// A session's messages arrive live (republished by HISTORY): the sessions made
// by this process through one wildcard subscription (out.{home}.*); a session
// whose stream resumed here from elsewhere forwarded by its home (one wildcard
// subscription, fwd.{home}.*: forwarding.ts), or, if its home is gone, and for
// an HTTP request's short-lived line, through one of its own. A `Line` per session
// puts them in order and hands each on: to the HTTP response waiting for its
// request's reply (by request id), else to the session's stream (a WebSocket,
// an SSE stream, MCP's GET).
//
// Everything a client receives is in HISTORY, so one routine — catchUp: read
// HISTORY after the last sequence handed on until nothing is left — serves
// - a gap on the live path: RePublish stamps each message with the previous
//   sequence stored for the session (Nats-Last-Sequence); a message whose
//   previous is not the last one handed on arrived early (several workers
//   publishing) or one before it was lost (the NATS link was down). It waits a
//   moment for the missing one, then HISTORY is read. After the link comes
//   back every line reads HISTORY at once: the gap may be at the end.
// - a slow client: past the backpressure bound nothing more is written and
//   live messages are not kept (they are stored); when it drains, catch up.
// - a resume: replay after the client's last seq, then live.
// While catchUp runs, live messages are held, so the seam has no gap and no
// duplicate. Before handing on what it read, catchUp checks that the last
// message handed on is still stored: retention drops a session's oldest
// messages first, so then nothing after it is gone. If it is not, the sinks
// are told — never a silent drop.
import { randomBytes } from "node:crypto";
import type { MsgHdrs } from "@nats-io/nats-core";
import {
  endOf,
  frameOf,
  headerOf,
  headers,
  HOME_LENGTH,
  homeOf,
  MAX_FRAMES,
  readControl,
  readReply,
  seqOf,
  subjects,
  type Control,
  type ReplyMeta,
  type SessionId,
} from "@radiant/wire";
import { Forwarding } from "./forwarding.js";
import { metrics } from "./metrics.js";

/** A stored message, as the line hands it on: its headers read once. */
export interface Stored {
  seq: number;
  data: Uint8Array;
  reply: ReplyMeta;
  /** ms since epoch when the gateway took the request in; 0 if not known */
  ts: number;
}

/** Where a line hands messages: the session's stream, or an HTTP response waiting for a request's reply. */
export interface Sink {
  /** the client is gone (set by its owner): nothing more is handed to it */
  readonly closed?: boolean;
  /** bytes queued in user space towards this client */
  bufferedAmount(): number;
  /** a stored message; `fromFrame`: the first of its frames to hand on (a resume inside it) */
  deliver(m: Stored, fromFrame?: number): void;
  /**
   * HISTORY dropped messages after `afterSeq` before this sink got them.
   * True: carry on with what is stored (the sink told its client in its own
   * terms); false: the sink ends.
   */
  historyLost(afterSeq: number): boolean;
  /** run `run`, whose deliveries go out in as few writes as they fit (a batch read back from HISTORY) */
  corked?(run: () => void): void;
}

/** A message on a live subject, as NATS hands it over. */
export interface LiveMsg {
  subject: string;
  data: Uint8Array;
  headers?: MsgHdrs | undefined;
  /** a request's reply subject */
  reply?: string | undefined;
}

/** The NATS link, as delivery needs it (a fake one in the unit tests). */
export interface LiveLink {
  /** every message on `subject` to `cb`, until the returned function is called */
  subscribe(subject: string, cb: (m: LiveMsg) => void): () => void;
  /** resolves once the server has every subscription made so far */
  flush(): Promise<void>;
  /** a core message (a notice, a forwarded message) */
  publish(subject: string, data: Uint8Array | undefined, headers?: MsgHdrs): void;
  /** a request one process answers: its answer's bytes, or undefined if nobody answered in time */
  ask(subject: string, data: Uint8Array): Promise<Uint8Array | undefined>;
}

/** Reading a session's stored messages (history.ts; a fake one in the unit tests). */
export interface HistoryReader {
  next(sid: SessionId, after: number): Promise<Stored | null>;
  /** message `seq`, if it is the session's and still stored */
  get(sid: SessionId, seq: number): Promise<Stored | null>;
  batches(sid: SessionId, after: number): AsyncIterable<Stored[]>;
  holds(sid: SessionId, seq: number): Promise<boolean>;
  last(sid: SessionId): Promise<number>;
}

export interface DeliveryOptions {
  maxBackpressure: number;
  /** how long an early message waits for a missing one before HISTORY is read */
  gapWaitMs: number;
  /** live messages held per session while catching up; past it they are left to HISTORY */
  maxHeld: number;
  /** a control notice for a session this process holds (takeover, ended, resumed-from) */
  onControl: (sid: SessionId, c: Control) => void;
  /** this process's home: made up when not given */
  home?: string;
  /** whether the NATS link is up (forwarding.ts) */
  linkUp?: () => boolean;
}

/** messages read one direct get at a time before a catch-up switches to batched reads */
const BULK_AFTER = 32;

/** An HTTP response waiting for one request's reply. */
interface RequestEntry {
  sink: Sink;
  /** the last sequence this sink was handed (or where it started): nothing at or before it again */
  upTo: number;
  /** a request whose response takes only part of its messages: the stream gets them too (and picks its part) */
  share?: boolean;
}

interface Held {
  m: Stored;
  prev: number;
}

/** What few lines need: out-of-order arrivals, HTTP requests waiting, a subscription of their own. */
interface LineRare {
  held?: Map<number, Held>;
  gapTimer?: NodeJS.Timeout;
  requests?: Map<string, RequestEntry>;
  unsubscribe?: () => void;
}

const LAGGING = 1;
const REWOUND = 2;
const CLOSED = 4;
const VIA_HOME = 8;

/**
 * One session's delivery in this process. Only this module writes it.
 * One per session held (a million per fleet): its flags share one number and
 * what few lines need lives in an object made on demand (accessors on the
 * prototype cost an instance nothing).
 */
export class Line {
  /** the last sequence handed on */
  lastSeq = 0;
  /** the catch-up running now (live messages are held meanwhile) */
  running: Promise<boolean> | undefined;
  /** openers still finding out where to start: live messages are held meanwhile */
  starting = 0;
  /** the session's stream (a socket, an SSE stream), if one is open here */
  stream: Sink | undefined;
  /** the last sequence the stream was handed (or where it started): nothing at or before it again */
  streamUpTo = 0;
  private flags = 0;
  private rare: LineRare | undefined;

  constructor(readonly sid: SessionId) {}

  /** live messages wait in `held` instead of going straight on */
  get holding(): boolean {
    return this.running !== undefined || this.starting > 0;
  }

  private flag(bit: number, on: boolean): void {
    this.flags = on ? this.flags | bit : this.flags & ~bit;
  }

  /** over a sink's backpressure bound: live messages are left to HISTORY until it drains */
  get lagging(): boolean {
    return (this.flags & LAGGING) !== 0;
  }
  set lagging(on: boolean) {
    this.flag(LAGGING, on);
  }

  /** lastSeq moved back (a stream resuming from earlier) while a catch-up ran: it starts over from there */
  get rewound(): boolean {
    return (this.flags & REWOUND) !== 0;
  }
  set rewound(on: boolean) {
    this.flag(REWOUND, on);
  }

  get closed(): boolean {
    return (this.flags & CLOSED) !== 0;
  }
  set closed(on: boolean) {
    this.flag(CLOSED, on);
  }

  /** away from home, its home forwards its live messages here */
  get viaHome(): boolean {
    return (this.flags & VIA_HOME) !== 0;
  }
  set viaHome(on: boolean) {
    this.flag(VIA_HOME, on);
  }

  private setRare<K extends keyof LineRare>(k: K, v: LineRare[K]): void {
    if (v === undefined && this.rare === undefined) return;
    (this.rare ??= {})[k] = v;
  }

  /** live messages that arrived ahead of one they follow, by their previous sequence */
  get held(): Map<number, Held> | undefined {
    return this.rare?.held;
  }
  set held(v: Map<number, Held> | undefined) {
    this.setRare("held", v);
  }

  get gapTimer(): NodeJS.Timeout | undefined {
    return this.rare?.gapTimer;
  }
  set gapTimer(v: NodeJS.Timeout | undefined) {
    this.setRare("gapTimer", v);
  }

  get requests(): Map<string, RequestEntry> | undefined {
    return this.rare?.requests;
  }
  set requests(v: Map<string, RequestEntry> | undefined) {
    this.setRare("requests", v);
  }

  /** the session's own subscription, away from home */
  get unsubscribe(): (() => void) | undefined {
    return this.rare?.unsubscribe;
  }
  set unsubscribe(v: (() => void) | undefined) {
    this.setRare("unsubscribe", v);
  }
}

export class Delivery {
  /** this process's id: the first characters of every session id it makes */
  readonly home: string;
  private readonly lines = new Map<SessionId, Line>();
  /** lines fed by the home subscription */
  private atHome = 0;
  /** lines away from home, each with a subscription of its own */
  away = 0;
  /** lines away from home that their home forwards to */
  forwardedIn = 0;
  readonly forwarding: Forwarding;
  /** the newest HISTORY sequence seen on a live subject */
  newestSeq = 0;

  constructor(
    private readonly link: LiveLink,
    readonly history: HistoryReader,
    private readonly o: DeliveryOptions,
  ) {
    this.home = o.home ?? randomBytes(6).toString("base64url").slice(0, HOME_LENGTH);
    this.forwarding = new Forwarding(link, this.home, { homeLost: (h) => this.homeLost(h), homeBack: (h) => this.homeBack(h) }, o.linkUp);
    link.subscribe(subjects.liveHome(this.home), (msg) => {
      const sid = subjects.sidOfLive(msg.subject);
      if (!sid) return;
      const line = this.lines.get(sid);
      if (line) this.onLive(line, msg);
      this.forwarding.forward(sid, msg);
    });
    link.subscribe(subjects.forwardedTo(this.home), (msg) => {
      const sid = subjects.sidOfLive(msg.subject);
      const line = sid && this.lines.get(sid);
      // starting: the home forwards from when it registered the hold, before its answer is read
      // here; what comes meanwhile (a message, a takeover notice) is the line's, not dropped
      if (line && (line.viaHome || line.starting > 0)) this.onLive(line, msg);
    });
  }

  get homeSessions(): number {
    return this.atHome;
  }

  line(sid: SessionId): Line | undefined {
    return this.lines.get(sid);
  }

  /** A fresh session's stream: nothing is stored for it yet, so it is live from now (synchronous: a connection costs no more than it must). */
  startStream(sid: SessionId, sink: Sink): void {
    const line = this.lineFor(sid);
    line.stream = sink;
    line.streamUpTo = line.lastSeq;
  }

  /**
   * A resumed session's stream opens here and takes over from any other
   * stream of the session in this process. `from`: a position (replay after
   * the frame there — wire: reply.ts), or "end" (from whatever is stored when
   * it opens). `onStart`
   * runs with the position once it is settled, before anything is handed on
   * (the session frame goes out there). Resolves once replayed and live;
   * rejects with HistoryUnavailable if HISTORY cannot be read (the stream is
   * then detached).
   */
  async openStream(sid: SessionId, sink: Sink, from: number | "end", onStart: (at: number) => void = () => {}): Promise<void> {
    const fresh = !this.lines.has(sid);
    const claimedAt = Date.now();
    const line = this.lineFor(sid, true);
    // home again: whoever held it elsewhere lets go, and its messages are not forwarded any more
    if (homeOf(sid) === this.home) this.forwarding.takeBack(sid);
    line.starting++;
    try {
      if (fresh) await this.confirmed(line, claimedAt);
      if (from === "end" && fresh) line.lastSeq = await this.history.last(sid);
    } catch {
      line.starting--;
      this.dropIfIdle(line);
      throw new HistoryUnavailable();
    }
    line.starting--;
    if (line.closed) return;
    if (sink.closed) {
      // its client left while the position was found
      this.dropIfIdle(line);
      return;
    }
    const at = from === "end" ? endOf(line.lastSeq) : from;
    const seq = seqOf(at);
    line.stream = sink;
    line.streamUpTo = seq;
    if (fresh) line.lastSeq = seq;
    else if (seq < line.lastSeq) this.rewind(line, seq);
    onStart(at);
    // the client may have stopped inside message `seq` (its frames arrive one by one): the rest of it first
    if (seq > 0 && frameOf(at) < MAX_FRAMES - 1) {
      line.starting++;
      try {
        const m = await this.history.get(sid, seq);
        if (m && line.stream === sink) sink.deliver(m, frameOf(at) + 1);
      } catch {
        this.closeStream(sid, sink);
        throw new HistoryUnavailable();
      } finally {
        line.starting--;
      }
    }
    if (!(await this.catchUp(line)) && line.stream === sink) {
      this.closeStream(sid, sink);
      throw new HistoryUnavailable();
    }
  }

  /** The stream is gone (or taken over): only if it is still the line's. */
  closeStream(sid: SessionId, sink: Sink): void {
    const line = this.lines.get(sid);
    if (!line || line.stream !== sink) return;
    line.stream = undefined;
    this.dropIfIdle(line);
  }

  /**
   * An HTTP response waits for request `rid`'s reply. Call before the request
   * is published: it resolves once the line knows where the session's
   * messages stand, so every reply of the request comes after. `share`: the
   * response takes only part of each message (a JSON answer, its responses):
   * the session's stream is handed them too. `newSession`: the session was
   * made for this request.
   */
  async openRequest(sid: SessionId, rid: string, sink: Sink, o: { share?: boolean; newSession?: boolean } = {}): Promise<void> {
    const fresh = !this.lines.has(sid);
    const line = this.lineFor(sid);
    const entry: RequestEntry = { sink, upTo: line.lastSeq, share: o.share };
    (line.requests ??= new Map()).set(rid, entry);
    // a session this process made just now for the request: nothing of it is stored, and this
    // process's live subscription covers it already (no HISTORY read on a request's way in)
    if (!fresh || (o.newSession && homeOf(sid) === this.home)) return;
    // a line made for a request starts at HISTORY's newest message of the
    // session, read after the subscription is in place: nothing newer can pass it by
    line.starting++;
    try {
      await this.confirmed(line, Date.now());
      line.lastSeq = Math.max(line.lastSeq, await this.history.last(sid));
      entry.upTo = line.lastSeq;
    } catch {
      this.closeRequest(sid, rid, sink);
      throw new HistoryUnavailable();
    } finally {
      line.starting--;
    }
    if (!line.closed) this.releaseHeld(line);
  }

  /** The response is over (answered, or its client left). */
  closeRequest(sid: SessionId, rid: string, sink: Sink): void {
    const line = this.lines.get(sid);
    if (!line || line.requests?.get(rid)?.sink !== sink) return;
    line.requests.delete(rid);
    this.dropIfIdle(line);
  }

  /** A sink's socket drained below half its bound: a lagging line catches up. */
  drained(sid: SessionId): void {
    const line = this.lines.get(sid);
    if (line?.lagging && !line.holding && !this.anyOverHalf(line)) void this.catchUp(line);
  }

  /** The NATS link is back: what was republished while it was down is in HISTORY only. */
  reconnected(): void {
    this.forwarding.reconnected();
    for (const line of this.lines.values()) void this.catchUp(line);
  }

  /** Stopping: holders of this process's sessions subscribe on their own from now. */
  stop(): void {
    this.forwarding.stop();
  }

  /**
   * The line of a session here, made if need be. Away from home a stream's
   * line is attached by `confirmed` (its home forwards); any other line (an
   * HTTP request's, for moments) subscribes on its own at once.
   */
  private lineFor(sid: SessionId, stream = false): Line {
    let line = this.lines.get(sid);
    if (line) return line;
    line = new Line(sid);
    this.lines.set(sid, line);
    if (homeOf(sid) === this.home) this.atHome++;
    else if (!stream) this.subscribeAway(line);
    return line;
  }

  private subscribeAway(line: Line): void {
    this.away++;
    line.unsubscribe = this.link.subscribe(subjects.live(line.sid), (msg) => this.onLive(line, msg));
  }

  /**
   * Resolves once the line's live messages reach this process (the home
   * subscription's always do). `at`: when this process took the connection
   * the line is for (a home forwards for the newest).
   */
  private async confirmed(line: Line, at: number): Promise<void> {
    if (line.unsubscribe) return this.link.flush();
    if (line.viaHome || homeOf(line.sid) === this.home) return;
    const outcome = await this.forwarding.hold(line.sid, at);
    if (outcome === "held") {
      // its client may have left while the home answered
      if (line.closed) this.forwarding.release(line.sid);
      else {
        line.viaHome = true;
        this.forwardedIn++;
      }
      return;
    }
    if (line.closed) return;
    // a newer connection holds the session in another process: this one is taken over (its
    // session closes, and the line with it; until then it hears the session on its own)
    if (outcome === "stale") this.o.onControl(line.sid, { kind: "takeover", by: homeOf(line.sid) });
    // the home did not answer (gone, NATS down, too busy) or refused: a subscription of its own
    this.subscribeAway(line);
    await this.link.flush();
  }

  /** A home is gone: its sessions held here subscribe on their own, and read what it may not have forwarded. */
  private homeLost(home: string): void {
    const relinked: Line[] = [];
    for (const line of this.lines.values()) {
      if (!line.viaHome || homeOf(line.sid) !== home) continue;
      line.viaHome = false;
      this.forwardedIn--;
      this.forwarding.forget(line.sid);
      this.subscribeAway(line);
      relinked.push(line);
    }
    if (relinked.length > 0) void this.link.flush().then(() => relinked.forEach((l) => void this.catchUp(l)));
  }

  /** A home's NATS link came back: what it forwarded meanwhile is in HISTORY only. */
  private homeBack(home: string): void {
    for (const line of this.lines.values()) if (line.viaHome && homeOf(line.sid) === home) void this.catchUp(line);
  }

  private dropIfIdle(line: Line): void {
    if (!line.stream && (line.requests?.size ?? 0) === 0 && line.starting === 0) this.drop(line);
  }

  private drop(line: Line): void {
    if (line.closed) return;
    line.closed = true;
    if (this.lines.get(line.sid) === line) this.lines.delete(line.sid);
    if (line.unsubscribe) {
      this.away--;
      line.unsubscribe();
    } else if (line.viaHome) {
      this.forwardedIn--;
      this.forwarding.release(line.sid);
    } else if (homeOf(line.sid) === this.home) this.atHome--;
    if (line.gapTimer) clearTimeout(line.gapTimer);
    line.gapTimer = undefined;
    line.held = undefined;
  }

  /** A stream resumes from before where the line is: hand on again from there (each sink skips what it had). */
  private rewind(line: Line, to: number): void {
    line.lastSeq = to;
    line.held = undefined;
    line.lagging = false;
    if (line.running) line.rewound = true;
  }

  private onLive(line: Line, msg: LiveMsg): void {
    if (line.closed) return;
    const h = msg.headers;
    // a stored message carries its sequence (RePublish); anything else is a notice, or nothing of ours
    const seq = Number(headerOf(h, headers.sequence) || NaN);
    if (!(seq > 0)) {
      const c = readControl(h);
      if (c) this.o.onControl(line.sid, c);
      return;
    }
    if (seq > this.newestSeq) this.newestSeq = seq;
    if (line.lagging || !(seq > line.lastSeq)) return; // lagging: it is stored, catchUp reads it; or handed on already
    const prev = Number(headerOf(h, headers.lastSequence) || 0);
    const m = stored(seq, msg.data, h);
    if (prev <= line.lastSeq && !line.holding) {
      this.handOn(line, m);
      if (line.held) this.releaseHeld(line);
      return;
    }
    const held = (line.held ??= new Map());
    if (held.size >= this.o.maxHeld) {
      // too much to hold: let HISTORY have it
      line.held = undefined;
      line.lagging = true;
      if (!line.holding) void this.catchUp(line);
      return;
    }
    held.set(prev, { m, prev });
    if (!line.holding) line.gapTimer ??= setTimeout(() => void this.catchUp(line), this.o.gapWaitMs);
  }

  /** Hand on held messages that follow on; a gap that remains is read from HISTORY shortly. */
  private releaseHeld(line: Line): void {
    const held = line.held;
    if (!held || line.holding) return;
    for (let h = held.get(line.lastSeq); h && !line.lagging && !line.closed; h = held.get(line.lastSeq)) {
      held.delete(line.lastSeq);
      if (h.m.seq > line.lastSeq) this.handOn(line, h.m);
    }
    for (const [prev, h] of held) if (h.m.seq <= line.lastSeq) held.delete(prev);
    if (held.size === 0 || line.lagging) {
      line.held = undefined;
      if (line.gapTimer) clearTimeout(line.gapTimer);
      line.gapTimer = undefined;
    } else {
      line.gapTimer ??= setTimeout(() => void this.catchUp(line), this.o.gapWaitMs);
    }
  }

  /**
   * Read HISTORY after lastSeq until nothing is left (or a sink is full
   * again), then release what was held meanwhile. One at a time per line: a
   * second call joins the running one. Resolves false if HISTORY could not be
   * read (it is tried again shortly).
   */
  private catchUp(line: Line): Promise<boolean> {
    if (line.gapTimer) clearTimeout(line.gapTimer);
    line.gapTimer = undefined;
    if (line.closed) return Promise.resolve(true);
    if (!line.running) {
      line.running = this.readBack(line).finally(() => (line.running = undefined));
      void line.running.then((ok) => {
        if (line.closed) return;
        if (!ok) line.gapTimer = setTimeout(() => void this.catchUp(line), 250);
        // the sink drained while this read was ending (a batched read deletes its consumer):
        // its drain found a catch-up running and joined it, so nothing else would read on
        else if (line.lagging && !this.anyOverHalf(line)) void this.catchUp(line);
        else this.releaseHeld(line);
      });
    }
    return line.running;
  }

  private async readBack(line: Line): Promise<boolean> {
    // from here live messages are held, not ignored: none can slip between the last read and live
    line.lagging = false;
    let read = 0;
    try {
      while (!line.closed) {
        line.rewound = false;
        if (read === BULK_AFTER) {
          // a long way behind (a resume, a slow client): read in batches from here
          let full = false;
          for await (const batch of this.history.batches(line.sid, line.lastSeq)) {
            if (line.rewound || !(await this.unbroken(line)) || line.rewound) break;
            if (!this.fromHistory(line, batch)) {
              full = true;
              break;
            }
          }
          if (full) return true;
          read = line.rewound ? 0 : read + 1; // once per catch-up; direct gets see to the rest
          continue;
        }
        const m = await this.history.next(line.sid, line.lastSeq);
        if (line.rewound) {
          read = 0;
          continue;
        }
        if (!m) {
          // live messages overflowed the hold meanwhile and were let go: they are stored, read on
          if (!line.lagging) return true;
          line.lagging = false;
          continue;
        }
        if (!(await this.unbroken(line)) || line.rewound) continue;
        if (!this.fromHistory(line, [m])) return true;
        read++;
      }
      return true;
    } catch {
      return false; // HISTORY unreachable right now
    }
  }

  /**
   * Whether what was just read follows on from the last message handed on
   * (see the top of this file). If not, every sink is told, and for those
   * that carry on the line starts again at the oldest message still stored;
   * false then: read again.
   */
  private async unbroken(line: Line): Promise<boolean> {
    if (line.lastSeq === 0 || (await this.history.holds(line.sid, line.lastSeq))) return true;
    if (line.closed) return false;
    metrics.historyLost.inc();
    const after = endOf(line.lastSeq);
    if (line.stream && !line.stream.historyLost(after)) {
      line.stream = undefined;
      this.dropIfIdle(line);
    }
    for (const [rid, e] of [...(line.requests ?? [])]) if (!e.sink.historyLost(after)) this.detach(line, rid, e);
    if (line.closed) return false;
    const first = await this.history.next(line.sid, 0);
    if (first) this.fromHistory(line, [first]);
    else line.lastSeq = 0; // nothing stored at all: whatever comes next follows on
    return false;
  }

  private detach(line: Line, rid: string, e: RequestEntry): void {
    if (line.requests?.get(rid) === e) line.requests.delete(rid);
    this.dropIfIdle(line);
  }

  /** Messages read back from HISTORY; false when a sink is full (stop reading: its drain brings us back). */
  private fromHistory(line: Line, batch: Stored[]): boolean {
    const stream = line.stream;
    if (batch.length === 1 || !stream?.corked) return this.handAll(line, batch);
    // one write per socket buffer, not one per frame: a replay of small messages was bound by write calls
    let ok = true;
    stream.corked(() => (ok = this.handAll(line, batch)));
    return ok;
  }

  private handAll(line: Line, batch: Stored[]): boolean {
    for (const m of batch) {
      if (line.closed) return false;
      if (m.seq <= line.lastSeq) continue;
      if (!this.handOn(line, m)) return false;
      metrics.historyReads.inc();
    }
    return true;
  }

  /** Hand one message on to whoever it goes to (hot path); false if its sink is over its bound. */
  private handOn(line: Line, m: Stored): boolean {
    const rid = m.reply.rid;
    const request = rid !== undefined ? line.requests?.get(rid) : undefined;
    const sink = request ? request.sink : line.stream;
    if (sink === undefined || m.seq <= (request ? request.upTo : line.streamUpTo) || sink.closed) {
      // nobody's here (it stays in HISTORY), or this sink had it before a rewind
      line.lastSeq = m.seq;
      return true;
    }
    if (sink.bufferedAmount() > this.o.maxBackpressure) {
      // stop writing, keep nothing (it is all in HISTORY); the sink's drain brings catchUp back
      if (!line.lagging) metrics.slowConsumerPauses.inc();
      line.lagging = true;
      line.held = undefined;
      return false;
    }
    line.lastSeq = m.seq;
    if (request) request.upTo = m.seq;
    else line.streamUpTo = m.seq;
    sink.deliver(m);
    if (request?.share && line.stream && m.seq > line.streamUpTo) {
      line.streamUpTo = m.seq;
      line.stream.deliver(m);
    }
    if (m.ts > 0) metrics.ingressToEgress.observe((Date.now() - m.ts) / 1000);
    if (request && m.reply.end) {
      line.requests!.delete(rid!);
      this.dropIfIdle(line);
    }
    return true;
  }

  private anyOverHalf(line: Line): boolean {
    const half = this.o.maxBackpressure / 2;
    if (line.stream && line.stream.bufferedAmount() > half) return true;
    for (const r of line.requests?.values() ?? []) if (r.sink.bufferedAmount() > half) return true;
    return false;
  }
}

/** HISTORY could not be read for a resume: the client should try again shortly with the same token. */
export class HistoryUnavailable extends Error {
  constructor() {
    super("history unavailable");
  }
}

/** A message from NATS as delivery hands it on (its headers read once). */
export function stored(seq: number, data: Uint8Array, h: MsgHdrs | undefined): Stored {
  return { seq, data, reply: readReply(h, data.length), ts: Number(headerOf(h, headers.ingressTs)) || 0 };
}
