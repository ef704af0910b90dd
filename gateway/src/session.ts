// A client's session stream in this process — a WebSocket, a GET /sse
// stream, an MCP GET stream — over whatever transport: who it is, the token
// spliced into its frames, the frames it sent while its resume was decided.
// Delivery hands it the session's stored messages (it is a Sink); the hub
// opens, resumes and closes it; ingress counts what it has in flight.
import type { Identity } from "./auth/authenticator.js";
import { randomBytes } from "node:crypto";
import { closeCodes, historyLostReason, position, subjects, type FrameInfo, type Protocol, type SessionId } from "@radiant/wire";
import type { Sink, Stored } from "./delivery.js";
import { liveFrame } from "./frames.js";
import { metrics } from "./metrics.js";
import type { Framing } from "./protocol.js";
import type { ResumeTokens } from "./resume_token.js";

/** What a session's resume token is made from: one per HISTORY epoch, shared by its sessions. */
export interface TokenIssuer {
  readonly tokens: ResumeTokens;
  readonly epoch: string;
}

/**
 * The resume tokens of sessions that sent or received frames lately, in two
 * generations: a token is ~250 bytes, and an idle session need not hold one —
 * made again from its claims and issue time, it is the same string (HS256 is
 * deterministic). An active session finds it here with one map lookup.
 */
class RecentTokens {
  private young = new Map<Session, string>();
  private old = new Map<Session, string>();
  constructor(private readonly cap: number) {}

  get(s: Session): string | undefined {
    const t = this.young.get(s);
    if (t !== undefined) return t;
    const o = this.old.get(s);
    if (o !== undefined) this.set(s, o);
    return o;
  }

  set(s: Session, token: string): void {
    if (this.young.size >= this.cap) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(s, token);
  }

  delete(s: Session): void {
    this.young.delete(s);
    this.old.delete(s);
  }
}

const recentTokens = new RecentTokens(4096);

/** What a transport (WebSocket, SSE, MCP's GET stream) offers the session core. */
export interface Transport {
  readonly framing: Framing;
  /** bytes queued in user space for this client */
  bufferedAmount(): number;
  /**
   * Write one frame (corked). `eventId`: the SSE event id it carries, its
   * position (0: a frame not stored); `event`: an SSE event name. False if refused.
   */
  send(frame: Uint8Array | string, eventId: number, event?: string): boolean;
  /** end the connection with a close code a client can act on */
  close(code: number, reason: string): void;
  /**
   * A newer connection took the session: instead of closing (4001), go quiet.
   * MCP clients reconnect every GET stream the server ends, so two of them
   * closing each other would never stop.
   */
  takenOver?(): void;
  /** the session is settled at `lastSeq` (MCP's GET announces a resume point instead of a session frame) */
  prime?(lastSeq: number): void;
  /** which frames of a stored message are this stream's (MCP: each message goes out on one stream); absent: all */
  accepts?(m: Stored, f: FrameInfo | undefined): boolean;
  /** HISTORY lost messages after `afterSeq` before this client read them; true: it told its client and carries on (default: close 4003) */
  historyLost?(afterSeq: number): boolean;
  /** run `run`, its sends gathered into as few writes as they fit */
  corked?(run: () => void): void;
}

// Held per open connection, possibly a million per fleet: fields are made lazily where they can be.
export class Session implements Sink {
  /** set while a resume is being decided: the client's frames wait here (hub) */
  starting: Buffer[] | undefined;
  /** client frames published to INBOX and not yet acked, and their bytes (ingress) */
  inflight = 0;
  inflightBytes = 0;
  closed = false;
  /** the position (seq_num) of the last frame written */
  lastPosition = 0;
  private inboxSubjects: Partial<Record<Protocol, string>> | undefined;
  private id: string | undefined;
  /** when its resume token was issued (s since epoch): the token is made from it when needed */
  private iat: number;

  constructor(
    public sid: SessionId,
    /** who the session belongs to (auth/authenticator.ts) */
    readonly who: Identity,
    private issuer: TokenIssuer,
    readonly transport: Transport,
  ) {
    this.iat = Math.floor(Date.now() / 1000);
  }

  /** the resume token, spliced into every frame (hot path: a map lookup while the session is active) */
  get token(): string {
    let t = recentTokens.get(this);
    if (t === undefined) {
      t = this.tokenOnce();
      recentTokens.set(this, t);
    }
    return t;
  }

  /** the resume token for a frame that comes once (the session frame): a session that stays quiet after it holds none */
  tokenOnce(): string {
    return recentTokens.get(this) ?? this.issuer.tokens.issue({ sid: this.sid, principal: this.who.principal, epoch: this.issuer.epoch }, this.iat);
  }

  /** the session is over here: its token need not be remembered */
  forgetToken(): void {
    recentTokens.delete(this);
  }

  get principal(): string {
    return this.who.principal;
  }

  /** this connection, among all that ever hold the session (takeover) */
  get connId(): string {
    return (this.id ??= randomBytes(8).toString("base64url"));
  }

  get framing(): Framing {
    return this.transport.framing;
  }

  /** A refused resume becomes a fresh session on the same connection. */
  rebind(sid: SessionId, issuer: TokenIssuer): void {
    this.sid = sid;
    this.issuer = issuer;
    this.iat = Math.floor(Date.now() / 1000);
    recentTokens.delete(this);
    this.inboxSubjects = undefined;
  }

  /** the INBOX subject for a protocol, made once per session */
  inboxSubject(p: Protocol): string {
    return ((this.inboxSubjects ??= {})[p] ??= subjects.inbox(p, this.sid));
  }

  bufferedAmount(): number {
    return this.transport.bufferedAmount();
  }

  corked(run: () => void): void {
    // closed: uWS throws on a closed socket's cork (and deliver() writes nothing then)
    if (this.closed || !this.transport.corked) run();
    else this.transport.corked(run);
  }

  /**
   * A stored message: each of its frames from `fromFrame` on, as this
   * connection's framing has it, each with its own position (hot path).
   */
  deliver(m: Stored, fromFrame = 0): void {
    if (this.closed) return;
    const frames = m.reply.frames;
    const t = this.transport;
    if (frames === undefined) {
      if (fromFrame > 0 || (t.accepts && !t.accepts(m, undefined))) return;
      this.write(position(m.seq, 0), m.data, undefined, undefined);
      return;
    }
    let at = 0;
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i]!;
      const body = m.data.subarray(at, at + f.length);
      at += f.length;
      if (i < fromFrame || (t.accepts && !t.accepts(m, f))) continue;
      this.write(position(m.seq, i), body, f.slot, f.event);
    }
  }

  private write(p: number, body: Uint8Array, slot: FrameInfo["slot"], event: string | undefined): void {
    this.transport.send(liveFrame(this.framing, p, this.token, body, slot), p, event);
    this.lastPosition = p;
    metrics.messagesOut.inc();
  }

  /** Retention took what this client had not read: say after which seq_num (its own last one). */
  historyLost(afterSeq: number): boolean {
    const after = this.lastPosition || afterSeq;
    if (this.transport.historyLost) return this.transport.historyLost(after);
    this.transport.close(closeCodes.historyLost, historyLostReason(after));
    return false;
  }
}
