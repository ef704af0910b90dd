// The session streams of one gateway process, over whatever transport they
// arrived: open (fresh or resumed), takeover, close, and the shutdown that
// asks every client to reconnect elsewhere. Where a stream's messages come
// from is delivery's business; whether a resume may replay is resume.ts's.
import { randomBytes } from "node:crypto";
import type { NatsConnection } from "@nats-io/nats-core";
import { closeCodes, controlHeaders, makeSessionId, seqOf, subjects, type Control, type SessionId } from "@radiant/wire";
import type { Identity } from "./auth/authenticator.js";
import { HistoryUnavailable, type Delivery } from "./delivery.js";
import type { EndedSessions } from "./ended.js";
import { sessionFrame, type SessionInfo } from "./frames.js";
import { internalError, settle } from "./guard.js";
import type { Ingress } from "./ingress.js";
import { metrics } from "./metrics.js";
import { prepare, refusal, type HistoryStateCache, type Prepared } from "./resume.js";
import { SessionEnded, type ResumeClaims, type ResumeTokens } from "./resume_token.js";
import { Session, type TokenIssuer, type Transport } from "./session.js";

/** frames a client may send while its resume is being decided */
const MAX_QUEUED_WHILE_STARTING = 256;

export class Hub {
  /** the session streams held here, by session: one at a time each */
  readonly sessions = new Map<SessionId, Session>();
  stopping = false;
  /** resumes whose replay is being decided or read now */
  resuming = 0;
  /** at most this many at once; the others wait their turn, in order */
  maxResuming = Number.POSITIVE_INFINITY;
  /** resumes waiting for a turn; past `maxWaiting` a resume is deferred (the client retries shortly) */
  private readonly waiting: (() => void)[] = [];
  maxWaiting = Number.POSITIVE_INFINITY;
  private issuing: TokenIssuer | undefined;
  /** who else wants a session's control notices (MCP's HTTP answers: resumed-from, ended) */
  private readonly noticeListeners: ((sid: SessionId, c: Control) => void)[] = [];

  constructor(
    private readonly nc: NatsConnection,
    readonly ingress: Ingress,
    readonly delivery: Delivery,
    private readonly tokens: ResumeTokens,
    private readonly history: HistoryStateCache,
    private readonly ended: EndedSessions,
  ) {}

  /** At the upgrade, synchronously: a fresh session, or a resume whose token checked out. */
  prepare(principal: string, query: { resume?: string; lastSeq?: string }): Prepared {
    return prepare((token) => this.claimsOf(token, principal), query, this.newSessionId);
  }

  /**
   * The session an HTTP request's token names (POST /sse/messages, MCP's
   * Mcp-Session-Id), or of a resume. Throws ResumeTokenError (SessionEnded among them) saying why not.
   */
  claimsOf(token: string, principal: string): ResumeClaims {
    const c = this.tokens.verify(token, principal);
    if (this.ended.has(c.sid)) throw new SessionEnded();
    return c;
  }

  /** A new session for a transport that starts one by request (MCP's initialize, GET /sse): its id and token. */
  newSession(principal: string): { sid: SessionId; token: string } {
    const sid = this.newSessionId();
    return { sid, token: this.tokens.issue({ sid, principal, epoch: this.history.epoch }) };
  }

  /** The connection is open: its session stream starts, fresh or resumed. */
  open(p: Prepared, who: Identity, t: Transport): Session {
    const s = new Session(p.sid, who, this.issuer(), t);
    this.ingress.limits.opened(who);
    if (p.kind === "fresh") this.start(s, p.reason);
    else {
      s.starting = [];
      const run = () => {
        // a client that left while it waited costs nothing more
        if (s.closed) return;
        this.resuming++;
        const done = () => {
          this.resuming--;
          this.nextResumes();
        };
        settle("resume", this.resume(s, p).finally(done), () => this.shut(s, closeCodes.internalError, "internal error: reconnect and resume"));
      };
      if (this.resuming < this.maxResuming) run();
      else this.waiting.push(run);
    }
    return s;
  }

  /** Start waiting resumes while there is room (a loop: thousands may have left while they waited). */
  private nextResumes(): void {
    while (this.resuming < this.maxResuming) {
      const next = this.waiting.shift();
      if (!next) return;
      next();
    }
  }

  /**
   * Whether one more resume may be taken now. In a reconnect storm every
   * client resumes at once, and each resume reads HISTORY and may subscribe:
   * at most `maxResuming` run at once, the rest wait their turn in order (the
   * socket is open, its frames held); only past `maxWaiting` waiting is a
   * resume told to come back in a moment — cheaply, before its socket exists.
   */
  mayResume(): boolean {
    if (this.resuming < this.maxResuming || this.waiting.length < this.maxWaiting) return true;
    metrics.resumes.inc({ outcome: "deferred" });
    return false;
  }

  /** A fresh session: live from now, then the session frame. */
  private start(s: Session, refusedBecause?: string): void {
    this.claim(s);
    this.delivery.startStream(s.sid, s);
    this.greet(s, 0, { epoch: this.history.epoch, ...(refusedBecause !== undefined ? { resumed: false, reason: refusedBecause } : {}) });
  }

  /** The session frame (or, on MCP's GET stream, the resume point); then the frames the client sent meanwhile. */
  private greet(s: Session, at: number, info: Omit<SessionInfo, "sid" | "token">): void {
    if (s.transport.prime) s.transport.prime(at);
    else s.transport.send(sessionFrame(s.framing, { sid: s.sid, token: s.tokenOnce(), ...info }), 0);
    const q = s.starting;
    s.starting = undefined;
    if (q) for (const f of q) this.ingress.frame(s, f);
  }

  private async resume(s: Session, p: Extract<Prepared, { kind: "resume" }>): Promise<void> {
    this.claim(s);
    this.announceTakeover(s);
    let why: string | undefined;
    // MCP's HTTP stream replays what is stored after its Last-Event-ID, as the spec allows: its
    // clients have no way to hear "refused"; every other transport gets all or a fresh session
    if (s.framing !== "plain" && p.lastSeq !== "end") {
      try {
        // the client's last_seq is a frame's position: its message is what HISTORY knows
        const lastSeq = seqOf(p.lastSeq);
        let h = await this.history.get();
        if (lastSeq > h.lastSeq) h = await this.history.get(true); // the cache may predate the client's last message
        why = await refusal({ sid: p.sid, lastSeq, epoch: p.epoch }, h, this.delivery.history);
      } catch {
        // HISTORY unreachable: the token is still good, so do not burn the session
        this.shut(s, closeCodes.tryAgainLater, "history unavailable: resume again shortly");
        return;
      }
    }
    if (s.closed) return;
    if (why !== undefined) {
      metrics.resumes.inc({ outcome: "refused" });
      if (this.sessions.get(s.sid) === s) this.sessions.delete(s.sid);
      const sid = this.newSessionId();
      s.rebind(sid, this.issuer());
      this.start(s, why);
      return;
    }
    metrics.resumes.inc({ outcome: "resumed" });
    try {
      // replay after last_seq, then live; the session frame goes out once the position is settled
      await this.delivery.openStream(s.sid, s, p.lastSeq, (at) => this.greet(s, at, { epoch: p.epoch, resumed: true }));
    } catch (e) {
      if (!(e instanceof HistoryUnavailable)) throw e;
      this.shut(s, closeCodes.tryAgainLater, "history unavailable: resume again shortly");
    }
  }

  /** What new sessions' tokens are made from (one object per HISTORY epoch, shared). */
  private issuer(): TokenIssuer {
    if (this.issuing?.epoch !== this.history.epoch) this.issuing = { tokens: this.tokens, epoch: this.history.epoch };
    return this.issuing;
  }

  /** Close a session's connection, unless its client left meanwhile (a closed uWS socket throws on any use). */
  private shut(s: Session, code: number, reason: string): void {
    if (!s.closed) s.transport.close(code, reason);
  }

  /** A new session id: this process's home, then 128 random bits. */
  private readonly newSessionId = (): SessionId => makeSessionId(this.delivery.home, randomBytes(16));

  /** This connection is the session's only stream in this process. */
  private claim(s: Session): void {
    const old = this.sessions.get(s.sid);
    if (old && old !== s) this.takenOver(old);
    this.sessions.set(s.sid, s);
  }

  /** Tell any other gateway process holding the session to let go (they hear it on the live subject). */
  private announceTakeover(s: Session): void {
    this.nc.publish(subjects.live(s.sid), undefined, { headers: controlHeaders({ kind: "takeover", by: s.connId }) });
  }

  /** A frame from the client. */
  frame(s: Session, frame: Buffer): void {
    if (s.starting) {
      // the sid is not settled yet: keep a copy (the socket's buffer is reused after this call)
      if (s.starting.length < MAX_QUEUED_WHILE_STARTING) s.starting.push(Buffer.from(frame));
      else this.ingress.refuseOverloaded(s, frame);
      return;
    }
    this.ingress.frame(s, frame);
  }

  /** Another connection holds the session now. */
  private takenOver(s: Session): void {
    if (!s.transport.takenOver) return s.transport.close(closeCodes.takenOver, "session taken over by a newer connection");
    // it stays open, delivering nothing: a session no more
    this.close(s);
    s.transport.takenOver();
  }

  /** The connection is gone. */
  close(s: Session): void {
    if (s.closed) return;
    s.closed = true;
    s.forgetToken();
    this.ingress.limits.closed(s.who);
    this.delivery.closeStream(s.sid, s);
    if (this.sessions.get(s.sid) === s) this.sessions.delete(s.sid);
  }

  /** The connection's send buffer drained. */
  drain(s: Session): void {
    if (!s.closed) this.delivery.drained(s.sid);
  }

  /** Hear a session's control notices (the hub acts on takeover and ended itself). */
  onNotice(f: (sid: SessionId, c: Control) => void): void {
    this.noticeListeners.push(f);
  }

  /** A control notice on a live subject of a session this process holds (delivery calls it). */
  notice(sid: SessionId, c: Control): void {
    const s = this.sessions.get(sid);
    if (c.kind === "ended") s?.transport.close(closeCodes.sessionEnded, "the session was ended (by its client or an admin)");
    else if (c.kind === "takeover" && s && c.by !== s.connId) this.takenOver(s);
    for (const f of this.noticeListeners) f(sid, c);
  }

  /** An API key was revoked: the connections it opened here close (its HTTP requests are refused from now on). */
  revokeKey(id: string): void {
    for (const s of [...this.sessions.values()]) {
      if (s.closed || s.who.key?.id !== id) continue;
      try {
        s.transport.close(closeCodes.credentialRevoked, "the API key this connection was opened with was revoked");
      } catch (e) {
        // one socket gone wrong must not keep the key's other sockets open
        internalError("revoke key", e);
      }
    }
  }

  /** Stop taking sessions and tell every client to reconnect and resume elsewhere. */
  closeAll(): void {
    this.stopping = true;
    for (const s of [...this.sessions.values()]) s.transport.close(closeCodes.serviceRestart, "server restart: reconnect and resume");
  }
}
