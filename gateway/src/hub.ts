// The sessions of one gateway process, over whatever transport they arrived:
// open (token, live subscription, session frame), close (subscription gone at
// once), and the shutdown that asks every client to reconnect elsewhere.
import { randomBytes } from "node:crypto";
import { closeCodes } from "@radiant/infra/wire";
import { principalOf, type HeaderGetter } from "./auth.js";
import type { Egress } from "./egress.js";
import { sessionFrame } from "./frames.js";
import type { Ingress } from "./ingress.js";
import { metrics } from "./metrics.js";
import type { ResumeTokens } from "./resume.js";
import { Session, type Transport } from "./session.js";

export class Hub {
  readonly sessions = new Map<string, Session>();
  stopping = false;

  constructor(
    readonly ingress: Ingress,
    private readonly egress: Egress,
    private readonly tokens: ResumeTokens,
  ) {}

  principalOf(h: HeaderGetter): string {
    return principalOf(h);
  }

  /** A new session id and its resume token. */
  newSession(principal: string): { sid: string; token: string } {
    const sid = randomBytes(16).toString("base64url");
    return { sid, token: this.tokens.issue({ sid, principal }) };
  }

  open(sid: string, principal: string, token: string, t: Transport): Session {
    const s = new Session(sid, principal, token, t);
    this.sessions.set(sid, s);
    // subscribed before the client can send anything: its replies cannot miss the subscription
    void this.egress.subscribe(s);
    t.send(sessionFrame(t.framing, { sid, token }));
    metrics.activeConnections.inc();
    metrics.totalConnections.inc();
    return s;
  }

  close(s: Session): void {
    if (s.closed) return;
    s.closed = true;
    this.egress.unsubscribe(s);
    this.sessions.delete(s.sid);
    metrics.activeConnections.dec();
  }

  /** The socket's send buffer drained. */
  drain(s: Session): void {
    this.egress.onDrain(s);
  }

  /** Stop taking sessions and tell every client to reconnect and resume elsewhere. */
  closeAll(): void {
    this.stopping = true;
    for (const s of [...this.sessions.values()]) s.transport.close(closeCodes.serviceRestart, "server restart: reconnect and resume");
  }
}
