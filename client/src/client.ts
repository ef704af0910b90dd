// A RADIANT client for Node (pass `ws`'s WebSocket) and browsers (the global
// one). It reconnects with jittered exponential backoff, resumes with its
// token and last seq_num, drops frames it has already seen, and says so
// plainly when the gateway refused a resume.

/** A frame from the gateway (default framing). */
export type Frame = Record<string, unknown> & { seq_num?: number; resume_token?: string };

/** The subset of the WHATWG WebSocket this client uses. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketCtor = new (url: string) => WebSocketLike;

export interface ClientOptions {
  /** e.g. ws://localhost:8443/ws */
  url: string;
  /** defaults to globalThis.WebSocket */
  WebSocket?: WebSocketCtor;
  /** first reconnect delay, ms (then doubled each try, with jitter) */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** frames kept while disconnected, sent on reconnect */
  maxQueued?: number;
}

export interface ClientEvents {
  /** every frame once, in order (session frames excluded) */
  message: (f: Frame) => void;
  /** a session frame: `resumed` is true after a successful resume */
  session: (s: { sid: string; resumed: boolean }) => void;
  /** the gateway could not resume (reason given); the client continues on a fresh session */
  resumeRefused: (reason: string) => void;
  reconnecting: (attempt: number, delayMs: number) => void;
  /** a newer connection took the session over: this client stops */
  takenOver: () => void;
  close: (code: number, reason: string) => void;
}

const OPEN = 1;
/** close codes after which reconnecting would only repeat the failure, or someone else has the session */
const FINAL = new Set([1003, 1009, 4001]);

export class RadiantClient {
  sid: string | undefined;
  token: string | undefined;
  /** the highest seq_num received */
  lastSeq = 0;
  private ws: WebSocketLike | undefined;
  private attempt = 0;
  private closedByUser = false;
  private resuming = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly queued: string[] = [];
  private readonly listeners = new Map<keyof ClientEvents, ((...a: never[]) => void)[]>();
  private readonly inbox: Frame[] = [];
  private wake: (() => void) | undefined;
  private ended = false;

  constructor(private readonly o: ClientOptions) {
    this.connect();
  }

  on<K extends keyof ClientEvents>(event: K, f: ClientEvents[K]): this {
    const list = this.listeners.get(event) ?? [];
    list.push(f as (...a: never[]) => void);
    this.listeners.set(event, list);
    return this;
  }

  private emit<K extends keyof ClientEvents>(event: K, ...args: Parameters<ClientEvents[K]>): void {
    for (const f of this.listeners.get(event) ?? []) (f as unknown as (...a: Parameters<ClientEvents[K]>) => void)(...args);
  }

  /** Send a frame now, or when the connection is back. */
  send(frame: unknown): void {
    const text = typeof frame === "string" ? frame : JSON.stringify(frame);
    if (this.ws?.readyState === OPEN && this.sid) this.ws.send(text);
    else if (this.queued.length < (this.o.maxQueued ?? 1000)) this.queued.push(text);
    else throw new Error("RadiantClient: disconnected and the send queue is full");
  }

  close(): void {
    this.closedByUser = true;
    clearTimeout(this.timer);
    this.ws?.close(1000, "client closed");
    this.finish();
  }

  /** Frames as an async iterator (ends when the client stops). */
  async *[Symbol.asyncIterator](): AsyncIterator<Frame> {
    for (;;) {
      const f = this.inbox.shift();
      if (f) yield f;
      else if (this.ended) return;
      else await new Promise<void>((r) => (this.wake = r));
    }
  }

  private connect(): void {
    const Ctor = this.o.WebSocket ?? (globalThis as unknown as { WebSocket?: WebSocketCtor }).WebSocket;
    if (!Ctor) throw new Error("RadiantClient: no WebSocket implementation (pass options.WebSocket)");
    this.resuming = this.token !== undefined;
    const url = this.resuming
      ? `${this.o.url}${this.o.url.includes("?") ? "&" : "?"}resume=${encodeURIComponent(this.token!)}&last_seq=${this.lastSeq}`
      : this.o.url;
    const ws = new Ctor(url);
    this.ws = ws;
    ws.onmessage = (ev) => this.onFrame(String(ev.data));
    ws.onclose = (ev) => this.onClose(ev.code, ev.reason);
    ws.onerror = () => {};
  }

  private onFrame(text: string): void {
    const f = JSON.parse(text) as Frame;
    if (f.type === "session") {
      const resumed = f.resumed === true;
      if (this.resuming && !resumed) {
        // a fresh session: its seq_nums start over from the gateway's point of view
        this.lastSeq = 0;
        this.emit("resumeRefused", String(f.reason ?? "refused"));
      }
      this.sid = String(f.sid);
      this.token = String(f.resume_token);
      this.attempt = 0;
      this.emit("session", { sid: this.sid, resumed });
      for (const q of this.queued.splice(0)) this.ws?.send(q);
      return;
    }
    if (typeof f.resume_token === "string") this.token = f.resume_token;
    const seq = typeof f.seq_num === "number" ? f.seq_num : 0;
    if (seq > 0) {
      if (seq <= this.lastSeq) return; // seen already
      this.lastSeq = seq;
    }
    this.inbox.push(f);
    this.wake?.();
    this.emit("message", f);
  }

  private onClose(code: number, reason: string): void {
    this.emit("close", code, reason);
    if (this.closedByUser) return;
    if (code === 4001) {
      this.emit("takenOver");
      this.finish();
      return;
    }
    if (FINAL.has(code)) {
      this.finish();
      return;
    }
    const base = this.o.backoffMs ?? 100;
    const delay = Math.min(this.o.maxBackoffMs ?? 10_000, base * 2 ** this.attempt) * (0.5 + Math.random() / 2);
    this.attempt++;
    this.emit("reconnecting", this.attempt, delay);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  private finish(): void {
    this.ended = true;
    this.wake?.();
  }
}
