// The session core every transport sits on: who the session is, the frames it
// was sent, its live subscription, and what it has in flight towards INBOX.
import type { MsgHdrs, Subscription } from "@nats-io/nats-core";
import { randomBytes } from "node:crypto";
import { subjects, type Protocol, type SessionId } from "@radiant/infra/wire";
import type { Framing } from "./protocol.js";

/** What a transport (WebSocket, SSE, MCP's HTTP stream) offers the session core. */
export interface Transport {
  readonly framing: Framing;
  /** bytes queued in user space for this client */
  bufferedAmount(): number;
  /** write one frame (corked); `seq` is its HISTORY sequence, 0 for a frame not stored; false if refused */
  send(frame: Uint8Array | string, seq: number): boolean;
  /** end the connection with a close code a client can act on */
  close(code: number, reason: string): void;
  /**
   * Whether a stored message is this connection's to deliver. MCP's HTTP
   * transport sends a request's replies on that request's own stream, so the
   * session's GET stream passes them over. Absent: everything is.
   */
  wants?(h: MsgHdrs | undefined): boolean;
  /** the session is settled at `lastSeq` (MCP's HTTP stream announces a resume point instead of a session frame) */
  prime?(lastSeq: number): void;
  /**
   * A newer connection took the session: instead of closing (4001), go quiet.
   * MCP clients reconnect every GET stream the server ends, so two of them
   * closing each other would never stop.
   */
  takenOver?(): void;
}

/** A live message that arrived before one it follows. */
export interface HeldMessage {
  seq: number;
  data: Uint8Array;
  headers: MsgHdrs | undefined;
}

// Held per open connection, possibly a million per fleet: fields are made lazily where they can be.
export class Session {
  /** set while a resume is being decided: the client's frames wait here */
  starting: Buffer[] | undefined;
  /** HISTORY sequence of the last frame delivered */
  lastSeq = 0;
  /** client frames published to INBOX and not yet acked, and their bytes */
  inflight = 0;
  inflightBytes = 0;
  live: Subscription | undefined;
  /** live messages that arrived ahead of one they follow, by their previous sequence (egress.ts) */
  held: Map<number, HeldMessage> | undefined;
  gapTimer: NodeJS.Timeout | undefined;
  /** reading HISTORY (gap, slow client, resume): live messages are held meanwhile */
  catchingUp = false;
  /** over the backpressure bound: live messages are left to HISTORY until the socket drains */
  lagging = false;
  closed = false;
  /** the resume token, as bytes only: the hot path splices it into every frame */
  tokenBytes: Buffer;
  private inboxSubjects: Partial<Record<Protocol, string>> | undefined;
  private id: string | undefined;

  constructor(
    public sid: SessionId,
    readonly principal: string,
    token: string,
    readonly transport: Transport,
  ) {
    this.tokenBytes = Buffer.from(token, "latin1");
  }

  get token(): string {
    return this.tokenBytes.toString("latin1");
  }

  /** this connection, among all that ever hold the session (takeover) */
  get connId(): string {
    return (this.id ??= randomBytes(8).toString("base64url"));
  }

  /** A refused resume becomes a fresh session on the same connection. */
  rebind(sid: SessionId, token: string): void {
    this.sid = sid;
    this.tokenBytes = Buffer.from(token, "latin1");
    this.inboxSubjects = undefined;
    this.lastSeq = 0;
    this.catchingUp = false;
    this.lagging = false;
    this.held = undefined;
  }

  get framing(): Framing {
    return this.transport.framing;
  }

  /** the INBOX subject for a protocol, made once per session */
  inboxSubject(p: Protocol): string {
    return ((this.inboxSubjects ??= {})[p] ??= subjects.inbox(p, this.sid));
  }
}
