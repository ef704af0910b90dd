// A RADIANT client for Node (pass `ws`'s WebSocket) and browsers (the global
// one). It reconnects with jittered exponential backoff, resumes with its
// token and last seq_num, drops frames it has already seen, and says so
// plainly when the gateway refused a resume, ended the session, or lost
// messages before this client read them.

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
  /**
   * After a resume, send again the JSON-RPC requests (a `method` and a non-null `id`) written to an
   * earlier socket and not answered yet, sent at most this long ago (default 60 s; 0: never). The
   * gateway stores a request once per session and id within its 2-minute de-duplication window, so
   * one it had runs once and its answer comes in the replay; one lost with the socket (or refused
   * on a socket that was already gone) runs now.
   */
  resendWithinMs?: number;
}

export interface ClientEvents {
  /** every frame once, in order (session frames excluded) */
  message: (f: Frame) => void;
  /** a session frame: `resumed` is true after a successful resume */
  session: (s: { sid: string; resumed: boolean }) => void;
  /** the gateway could not resume (reason given); the client continues on a fresh session */
  resumeRefused: (reason: string) => void;
  reconnecting: (attempt: number, delayMs: number) => void;
  /** a newer connection took the session over (close 4001): this client stops */
  takenOver: () => void;
  /** the session was ended by its client, e.g. `DELETE /mcp` (close 4002): it can never be resumed; this client stops */
  ended: (reason: string) => void;
  /**
   * HISTORY dropped messages (retention) before this client read them (close 4003): the messages
   * after seq_num `afterSeq` are gone. The old token is forgotten and the client carries on in a
   * fresh session (the next `session` event says `resumed: false`).
   */
  historyLost: (loss: { afterSeq: number; reason: string }) => void;
  /** every socket close; after `takenOver`, `ended` or `historyLost` when the code calls for one */
  close: (code: number, reason: string) => void;
}

const OPEN = 1;

/** A request sent and not answered yet. */
interface Unanswered {
  text: string;
  /** when it first went to a socket (0: queued, not yet) */
  firstWrittenAt: number;
  /** sent again after a resume */
  resent: boolean;
  /** times the gateway refused a copy sent again */
  refused: number;
}
/** the gateway's de-duplication window (2 min) less what a copy may wait in a gateway (2 × its 15 s publish timeout), with room */
const DEFAULT_RESEND_WITHIN_MS = 60_000;
/** requests tracked for resending (and resent ones answered), at most (the oldest is forgotten first) */
const MAX_UNANSWERED = 10_000;

/** Set `key` in a map of at most MAX_UNANSWERED entries: the oldest is forgotten first. */
function putBounded<V>(m: Map<string, V>, key: string, v: V): void {
  if (!m.has(key) && m.size >= MAX_UNANSWERED) m.delete(m.keys().next().value!);
  m.set(key, v);
}

/** The JSON id of a JSON-RPC request (a `method`, a non-null `id`), or undefined for anything else. */
function requestKey(frame: unknown, text: string): string | undefined {
  let f = frame;
  if (f === undefined) {
    if (!text.includes('"method"')) return undefined;
    try {
      f = JSON.parse(text);
    } catch {
      return undefined;
    }
  }
  if (typeof f !== "object" || f === null || Array.isArray(f)) return undefined;
  const r = f as { method?: unknown; id?: unknown };
  return typeof r.method === "string" && r.id !== undefined && r.id !== null ? JSON.stringify(r.id) : undefined;
}
const TAKEN_OVER = 4001;
const ENDED = 4002;
const HISTORY_LOST = 4003;
/** close codes after which reconnecting would only repeat the failure, someone else has the session, or it is gone */
const FINAL = new Set([1003, 1009, TAKEN_OVER, ENDED]);

/** N of the 4003 reason `history lost: messages after seq_num <N> expired before delivery` */
function lostAfter(reason: string): number | undefined {
  const m = /after seq_num (\d+)/.exec(reason);
  const n = m ? Number(m[1]) : NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

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
  /** requests not answered yet, by JSON id */
  private readonly unanswered = new Map<string, Unanswered>();
  /** requests sent again and answered since, by JSON id: when first sent (a copy's late refusal is dropped) */
  private readonly resentAnswered = new Map<string, number>();
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
    const open = this.ws?.readyState === OPEN && this.sid;
    if (!open && this.queued.length >= (this.o.maxQueued ?? 1000)) throw new Error("RadiantClient: disconnected and the send queue is full");
    const key = requestKey(typeof frame === "string" ? undefined : frame, text);
    if (key !== undefined && (this.o.resendWithinMs ?? DEFAULT_RESEND_WITHIN_MS) > 0) {
      putBounded(this.unanswered, key, { text, firstWrittenAt: 0, resent: false, refused: 0 });
    }
    if (open) this.write(text, key);
    else this.queued.push(text);
  }

  private write(text: string, key = requestKey(undefined, text)): void {
    this.ws?.send(text);
    const u = key === undefined ? undefined : this.unanswered.get(key);
    if (u && u.firstWrittenAt === 0) u.firstWrittenAt = Date.now();
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
      // a fresh session: nothing of it has been seen yet (and HISTORY may have been recreated)
      if (!resumed) this.lastSeq = 0;
      if (this.resuming && !resumed) this.emit("resumeRefused", String(f.reason ?? "refused"));
      this.sid = String(f.sid);
      this.token = String(f.resume_token);
      this.attempt = 0;
      this.emit("session", { sid: this.sid, resumed });
      // what was written to the last socket and not answered: sent again (a fresh session knows nothing of it)
      const within = this.o.resendWithinMs ?? DEFAULT_RESEND_WITHIN_MS;
      for (const [key, u] of this.unanswered) {
        if (u.firstWrittenAt === 0) continue;
        if (resumed && Date.now() - u.firstWrittenAt < within) {
          u.resent = true;
          this.write(u.text, key);
        } else this.unanswered.delete(key);
      }
      for (const q of this.queued.splice(0)) this.write(q);
      return;
    }
    if (typeof f.resume_token === "string") this.token = f.resume_token;
    if (f.id !== undefined && f.method === undefined && ("result" in f || "error" in f) && this.answered(JSON.stringify(f.id), f)) return;
    const seq = typeof f.seq_num === "number" ? f.seq_num : 0;
    if (seq > 0) {
      if (seq <= this.lastSeq) return; // seen already
      this.lastSeq = seq;
    }
    this.inbox.push(f);
    this.wake?.();
    this.emit("message", f);
  }

  /**
   * An answer to one of our requests: forgotten. True when it is not the
   * request's answer but the gateway refusing the copy sent again after a
   * resume (its own error, never stored, saying retry): the first one may still
   * be answered (it went to a gateway before), so the copy is sent again shortly
   * and the refusal kept from the app.
   */
  private answered(key: string, f: Frame): boolean {
    const message = (f.error as { message?: unknown } | undefined)?.message;
    // only "Service unavailable" (NATS away), the gateway's own (not stored): a rate limit or a full session is the app's to see
    const unavailable = !(Number(f.seq_num) > 0) && typeof message === "string" && /^Service unavailable/.test(message);
    const within = this.o.resendWithinMs ?? DEFAULT_RESEND_WITHIN_MS;
    const u = this.unanswered.get(key);
    if (!u) {
      // the refusal of a copy sent again, coming after the request's own answer: not the app's
      const at = this.resentAnswered.get(key);
      return at !== undefined && unavailable && Date.now() - at < within;
    }
    if (u.resent && unavailable && Date.now() - u.firstWrittenAt < within) {
      const delay = Math.min(this.o.maxBackoffMs ?? 10_000, (this.o.backoffMs ?? 100) * 2 ** u.refused++) * (0.5 + Math.random() / 2);
      setTimeout(() => {
        if (this.unanswered.get(key) === u && this.ws?.readyState === OPEN && this.sid) this.write(u.text, key);
      }, delay);
      return true;
    }
    this.unanswered.delete(key);
    if (u.resent) {
      putBounded(this.resentAnswered, key, u.firstWrittenAt);
    }
    return false;
  }

  private onClose(code: number, reason: string): void {
    if (this.closedByUser) {
      this.emit("close", code, reason);
      return;
    }
    const final = FINAL.has(code);
    if (final) this.finish();
    if (code === TAKEN_OVER) this.emit("takenOver");
    else if (code === ENDED) this.emit("ended", reason);
    else if (code === HISTORY_LOST) {
      // a resume from here would be refused: start over in a fresh session. What was delivered
      // stays delivered; the fresh session replays nothing of the old one.
      const afterSeq = lostAfter(reason) ?? this.lastSeq;
      this.token = undefined;
      this.sid = undefined;
      this.emit("historyLost", { afterSeq, reason });
    }
    this.emit("close", code, reason);
    if (final || this.closedByUser) return; // a listener may have closed the client
    const base = this.o.backoffMs ?? 100;
    const delay = Math.min(this.o.maxBackoffMs ?? 10_000, base * 2 ** this.attempt) * (0.5 + Math.random() / 2);
    this.attempt++;
    this.timer = setTimeout(() => this.connect(), delay); // before the event: a listener may close()
    this.emit("reconnecting", this.attempt, delay);
  }

  private finish(): void {
    this.ended = true;
    this.wake?.();
  }
}
