// Traffic from many sessions, counted. Each session (the client library, as
// users run it) sends requests one after another — a stream of `chunks`
// notifications and its result, then an echo, and again — and the tally holds,
// for every request, that it was answered whole (every chunk once, in order,
// then its result), once; a clear "retry" error along the way is counted and
// the request sent again with the same id, as the error says (the gateway
// stores a request once per id: it runs once). Anything else is an anomaly, named:
// a chunk out of order or twice, an answer to a request already answered or
// refused, a resume refused, a session taken over, a request never answered.
import WebSocket from "ws";
import { RadiantClient, type Frame, type WebSocketCtor } from "@radiant/client";

export interface TrafficOptions {
  /** the gateway (or a balancer in front of a fleet) */
  url: string;
  sessions: number;
  /** notifications in each streamed answer */
  chunks: number;
  /** the worker's pause between them */
  chunkDelayMs: number;
  /** how long a request may go unanswered before it counts as lost (default 120 s) */
  answerTimeoutMs?: number;
  /** the client library's reconnect backoff (default 100 ms, at most 2 s) */
  backoffMs?: number;
  /** this many sessions (the last ones) send only echoes, a pause of `echoPauseMs` (default 100) between: requests made at any moment */
  echoSessions?: number;
  echoPauseMs?: number;
}

interface Pending {
  id: string;
  frame: Record<string, unknown>;
  stream: boolean;
  chunks: number;
  settle: () => void;
}

const CHUNK = "notifications/radiant.test/chunk";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One session of the traffic: the client, its sockets (the last is the one in use), what it saw. */
export class TrafficSession {
  readonly client: RadiantClient;
  readonly sockets: WebSocket[] = [];
  pending: Pending | undefined;
  /** ids answered or refused: a frame for one of them afterwards is an anomaly */
  private readonly settled = new Set<string>();
  sessions = 0;
  resumes = 0;
  /** its sockets' close codes, in order */
  readonly closeCodes: number[] = [];
  answered = 0;
  stopped = false;
  private n = 0;

  constructor(
    private readonly k: number,
    private readonly o: TrafficOptions,
    private readonly tally: Traffic,
  ) {
    const sockets = this.sockets;
    // the client library's sockets, kept so a test can drop one the way a network does
    const Tracked = class extends WebSocket {
      constructor(url: string) {
        super(url);
        sockets.push(this);
      }
    };
    this.client = new RadiantClient({
      url: o.url,
      WebSocket: Tracked as unknown as WebSocketCtor,
      backoffMs: o.backoffMs ?? 100,
      maxBackoffMs: 2000,
    });
    this.client.on("message", (f) => this.frame(f));
    this.client.on("session", (s) => {
      this.sessions++;
      if (s.resumed) this.resumes++;
    });
    this.client.on("close", (code) => {
      this.closeCodes.push(code);
      tally.closed(code);
    });
    this.client.on("resumeRefused", (reason) => tally.anomaly(`session ${k}: resume refused (${reason})`));
    this.client.on("takenOver", () => tally.anomaly(`session ${k}: taken over`));
    this.client.on("historyLost", ({ reason }) => tally.anomaly(`session ${k}: history lost (${reason})`));
    this.client.on("ended", (reason) => tally.anomaly(`session ${k}: ended (${reason})`));
  }

  /** request after request until stopped */
  async run(): Promise<void> {
    const echoOnly = this.k >= this.o.sessions - (this.o.echoSessions ?? 0);
    while (!this.stopped) {
      const stream = !echoOnly && this.n % 2 === 0;
      const id = `${this.k}.${this.n++}`;
      const timeoutMs = this.o.answerTimeoutMs ?? 120_000;
      const frame = stream
        ? { jsonrpc: "2.0", id, method: "radiant.test/stream", params: { count: this.o.chunks, delayMs: this.o.chunkDelayMs } }
        : { jsonrpc: "2.0", id, method: "radiant.test/echo", params: { id } };
      const answered = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        this.pending = {
          id,
          frame,
          stream,
          chunks: 0,
          settle: () => {
            clearTimeout(timer);
            resolve(true);
          },
        };
        this.client.send(frame);
      });
      this.pending = undefined;
      this.settled.add(id);
      if (!answered) this.tally.anomaly(`request ${id} (session ${this.client.sid}): no answer in ${timeoutMs} ms`);
      else this.answered++;
      if (echoOnly) await sleep(this.o.echoPauseMs ?? 100);
    }
  }

  private frame(f: Frame): void {
    const p = this.pending;
    if (f.method === CHUNK) {
      const i = (f.params as { i?: unknown } | undefined)?.i;
      if (!p?.stream) return this.tally.anomaly(`session ${this.k}: chunk ${String(i)} with no stream running`);
      if (i !== p.chunks) return this.tally.anomaly(`request ${p.id}: chunk ${String(i)} where ${p.chunks} was due`);
      p.chunks++;
      this.tally.chunks++;
      return;
    }
    if (f.id === undefined) return;
    const id = String(f.id);
    if (this.settled.has(id) || p?.id !== id)
      return this.tally.anomaly(`${id}: an answer to a request that is not waiting for one: ${JSON.stringify(f).slice(0, 200)}`);
    if ("error" in f) {
      const message = String((f.error as { message?: unknown }).message);
      if (p.chunks > 0) this.tally.anomaly(`request ${id}: error after ${p.chunks} chunks: ${message}`);
      else if (!/retry/.test(message)) this.tally.anomaly(`request ${id}: ${message}`);
      else {
        // as the error says: the same request again (the same id: it runs once), after a pause
        this.tally.refused(message);
        setTimeout(() => {
          if (this.pending === p) this.client.send(p.frame);
        }, 200);
        return;
      }
      return p.settle();
    }
    const result = f.result as Record<string, unknown>;
    if (p.stream) {
      if (p.chunks !== this.o.chunks || result.count !== this.o.chunks)
        this.tally.anomaly(`request ${id}: result after ${p.chunks} of ${this.o.chunks} chunks`);
      else this.tally.streams++;
    } else if (result.id !== id) this.tally.anomaly(`request ${id}: echo of ${JSON.stringify(result)}`);
    else this.tally.echoes++;
    p.settle();
  }
}

export class Traffic {
  readonly sessions: TrafficSession[];
  private runs: Promise<void>[] = [];
  streams = 0;
  echoes = 0;
  chunks = 0;
  readonly anomalies: string[] = [];
  /** the messages of the "retry" errors, each once with how often */
  readonly refusals = new Map<string, number>();
  /** socket closes by code */
  readonly closes = new Map<number, number>();

  constructor(readonly o: TrafficOptions) {
    this.sessions = Array.from({ length: o.sessions }, (_, k) => new TrafficSession(k, o, this));
  }

  /** every session open, then each starts its requests */
  async start(timeoutMs = 60_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.sessions.some((s) => s.sessions === 0)) {
      if (Date.now() > until) throw new Error(`${this.sessions.filter((s) => s.sessions === 0).length} sessions never opened`);
      await sleep(50);
    }
    this.runs = this.sessions.map((s) => s.run());
  }

  anomaly(what: string): void {
    if (this.anomalies.length < 1000) this.anomalies.push(what);
  }
  refused(message: string): void {
    this.refusals.set(message, (this.refusals.get(message) ?? 0) + 1);
  }
  closed(code: number): void {
    this.closes.set(code, (this.closes.get(code) ?? 0) + 1);
  }

  get answered(): number {
    return this.streams + this.echoes;
  }
  get refusedCount(): number {
    return [...this.refusals.values()].reduce((a, b) => a + b, 0);
  }
  get resumes(): number {
    return this.sessions.reduce((a, s) => a + s.resumes, 0);
  }

  /** resolves once `n` more requests have been answered */
  async answeredMore(n: number, timeoutMs = 120_000): Promise<void> {
    const target = this.answered + n;
    const until = Date.now() + timeoutMs;
    while (this.answered < target) {
      if (Date.now() > until) throw new Error(`${target - this.answered} of ${n} answers missing after ${timeoutMs} ms (${this.summary()})`);
      await sleep(50);
    }
  }

  /**
   * Cut the sockets of these sessions without a close frame (a network drop, 1006), whatever is on
   * its way: each resumes, and the client library sends again what it had sent and not seen answered.
   */
  drop(sessions: TrafficSession[]): void {
    for (const s of sessions) s.sockets.at(-1)?.terminate();
  }

  /** no new requests; the ones under way answered (or counted lost); the clients closed */
  async stop(): Promise<void> {
    for (const s of this.sessions) s.stopped = true;
    await Promise.all(this.runs);
    // anything that comes late for a settled request is still an anomaly
    await sleep(500);
    for (const s of this.sessions) s.client.close();
  }

  summary(): string {
    const closes = [...this.closes].map(([c, n]) => `${c}×${n}`).join(" ");
    return `${this.streams} streams (${this.chunks} chunks), ${this.echoes} echoes, ${this.refusedCount} refused with "retry", ${this.resumes} resumes, closes ${closes || "none"}, ${this.anomalies.length} anomalies`;
  }
}
