// The sessions of one gateway process, over whatever transport they arrived:
// open (fresh or resumed), close (subscription gone at once), takeover, and the
// shutdown that asks every client to reconnect elsewhere.
import { randomBytes } from "node:crypto";
import type { NatsConnection } from "@nats-io/nats-core";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { closeCodes, headers, makeSessionId, subjects, type SessionId } from "@radiant/infra/wire";
import { principalOf, type HeaderGetter } from "./auth.js";
import type { Egress } from "./egress.js";
import type { EndedSessions } from "./ended.js";
import type { History } from "./history.js";
import { sessionFrame, type SessionInfo } from "./frames.js";
import type { Ingress } from "./ingress.js";
import { settle } from "./guard.js";
import { metrics } from "./metrics.js";
import { prepare, refusal, type HistoryStateCache, type Prepared } from "./reconnect.js";
import { SessionEnded, type ResumeClaims, type ResumeTokens } from "./resume.js";
import { Session, type Transport } from "./session.js";



/** frames a client may send while its resume is being decided */
const MAX_QUEUED_WHILE_STARTING = 256;

export class Hub {
  readonly sessions = new Map<SessionId, Session>();
  stopping = false;

  constructor(
    private readonly nc: NatsConnection,
    readonly ingress: Ingress,
    private readonly egress: Egress,
    private readonly tokens: ResumeTokens,
    private readonly history: HistoryStateCache,
    private readonly historyReader: History,
    private readonly ended: EndedSessions,
  ) {}

  principalOf(h: HeaderGetter): string {
    return principalOf(h);
  }

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

  /** A new session for a transport that starts one by request (MCP's initialize): its id and token. */
  newSession(principal: string): { sid: SessionId; token: string } {
    const sid = this.newSessionId();
    return { sid, token: this.tokens.issue({ sid, principal, epoch: this.history.epoch }) };
  }

  /** The socket is open. */
  open(p: Prepared, principal: string, t: Transport): Session {
    const s = new Session(p.sid, principal, this.tokens.issue({ sid: p.sid, principal, epoch: this.history.epoch }), t);
    if (p.kind === "fresh") {
      this.start(s, p.reason);
    } else {
      s.starting = [];
      s.lastSeq = p.lastSeq === "end" ? 0 : p.lastSeq;
      s.catchingUp = true; // hold live messages until the replay has run
      settle("resume", this.resume(s, p), () => s.transport.close(closeCodes.internalError, "internal error: reconnect and resume"));
    }
    return s;
  }

  /** Begin a fresh session: subscribe, then the session frame. */
  private start(s: Session, refusedBecause?: string): void {
    this.claim(s);
    void this.egress.subscribe(s);
    this.greet(s, { epoch: this.history.epoch, ...(refusedBecause !== undefined ? { resumed: false, reason: refusedBecause } : {}) });
    this.flushQueued(s);
  }

  /** The session frame (or, on MCP's HTTP stream, the resume point). */
  private greet(s: Session, info: Omit<SessionInfo, "sid" | "token">): void {
    if (s.transport.prime) s.transport.prime(s.lastSeq);
    else s.transport.send(sessionFrame(s.framing, { sid: s.sid, token: s.token, ...info }), 0);
  }

  private async resume(s: Session, p: Extract<Prepared, { kind: "resume" }>): Promise<void> {
    this.claim(s);
    this.announceTakeover(s);
    await this.egress.subscribe(s, true);
    if (s.closed) return;
    let why: string | undefined;
    try {
      if (p.lastSeq === "end") s.lastSeq = await this.historyReader.last(s.sid);
      // MCP's HTTP stream replays what is stored after its Last-Event-ID, as the spec allows: its
      // clients have no way to hear "refused"; every other transport gets all or a fresh session
      else if (s.framing !== "plain") {
        let h = await this.history.get();
        if (p.lastSeq > h.lastSeq) h = await this.history.get(true); // the cache may predate the client's last message
        why = await refusal({ ...p, lastSeq: p.lastSeq }, h, this.historyReader);
      }
    } catch {
      // HISTORY unreachable: the token is still good, so do not burn the session
      s.transport.close(closeCodes.tryAgainLater, "history unavailable: resume again shortly");
      return;
    }
    if (s.closed) return;
    if (why !== undefined) {
      metrics.resumes.inc({ outcome: "refused" });
      this.egress.unsubscribe(s);
      this.sessions.delete(s.sid);
      const sid = this.newSessionId();
      s.rebind(sid, this.tokens.issue({ sid, principal: s.principal, epoch: this.history.epoch }));
      this.start(s, why);
      return;
    }
    metrics.resumes.inc({ outcome: "resumed" });
    this.greet(s, { epoch: p.epoch, resumed: true });
    this.flushQueued(s);
    s.catchingUp = false;
    await this.egress.catchUp(s); // replay after last_seq, then the live messages held meanwhile
  }

  /** A new session id: this process's home, then 128 random bits. */
  private readonly newSessionId = (): SessionId => makeSessionId(this.egress.home, randomBytes(16));

  /** This connection is the session's only one in this process. */
  private claim(s: Session): void {
    const old = this.sessions.get(s.sid);
    if (old && old !== s) this.takenOver(old);
    this.sessions.set(s.sid, s);
  }

  /** Tell any other gateway holding the session to let go (they receive it on the live subject). */
  private announceTakeover(s: Session): void {
    const h = natsHeaders();
    h.set(headers.takeover, s.connId);
    this.nc.publish(subjects.live(s.sid), undefined, { headers: h });
  }

  /** Frames the client sent while its resume was decided go in now, in order. */
  private flushQueued(s: Session): void {
    const q = s.starting;
    s.starting = undefined;
    if (q) for (const f of q) this.ingress.frame(s, f);
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
  takenOver(s: Session): void {
    if (!s.transport.takenOver) return s.transport.close(closeCodes.takenOver, "session taken over by a newer connection");
    // it stays open, delivering nothing: a session no more
    this.close(s);
    s.transport.takenOver();
  }

  close(s: Session): void {
    if (s.closed) return;
    s.closed = true;
    this.egress.unsubscribe(s);
    if (this.sessions.get(s.sid) === s) this.sessions.delete(s.sid);
  }

  /** The socket's send buffer drained. */
  drain(s: Session): void {
    if (!s.closed) this.egress.onDrain(s);
  }

  /** Stop taking sessions and tell every client to reconnect and resume elsewhere. */
  closeAll(): void {
    this.stopping = true;
    for (const s of [...this.sessions.values()]) s.transport.close(closeCodes.serviceRestart, "server restart: reconnect and resume");
  }
}
