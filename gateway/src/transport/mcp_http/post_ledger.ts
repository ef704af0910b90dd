// MCP sends a request's replies on that request's own POST response ("each
// message goes out on exactly one stream"). Delivery routes them there by
// request id while the POST is open; this ledger remembers, for the session's
// GET streams, what became of each POST of this process:
// - the standalone GET (opened without Last-Event-ID) carries what belongs to
//   no request, and what a JSON-only POST had no room for (messages sent while
//   working); never a response (the spec forbids it), nor what belongs to a
//   POST stream, open or cut;
// - a GET with Last-Event-ID resumes a cut stream: it carries what no POST
//   delivered, the cut POST's replies included.
// A GET resuming from an event id a POST stream sent means that POST's client
// is gone, even if its connection looks open: the POST is abandoned (here, and
// on other gateway processes by a resumed-from notice) so its replies go to
// the GET instead of into a socket nobody reads.
import { controlHeaders, subjects, type FrameInfo, type SessionId } from "@radiant/wire";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Stored } from "../../delivery.js";

/** What became of a POST's request: its answer streamed (SSE), answered as JSON, or a stream cut before its end. */
export type Fate = "stream" | "json" | "orphaned";

/** How long a finished POST's fate is remembered (to keep GET streams from repeating it). */
const MEMORY_MS = 120_000;

/** An open POST answer, as the ledger needs it. */
export interface OpenPost {
  /** whether its stream sent an event with this id */
  sent(eventId: number): boolean;
  /** its client is gone: end the response; what it waited for goes to the resumed GET */
  abandon(): void;
  /** the session was ended */
  sessionEnded(): void;
}

interface SessionPosts {
  open: Map<string, OpenPost>;
  /** rid → what became of it, until when it is remembered, and (a stream) what it sent */
  fates: Map<string, [Fate, number, OpenPost | undefined]>;
}

export class PostLedger {
  private readonly bySid = new Map<SessionId, SessionPosts>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly nc: Pick<NatsConnection, "publish">) {
    this.sweeper = setInterval(() => this.sweep(), 30_000);
    this.sweeper.unref();
  }

  private of(sid: SessionId): SessionPosts {
    let p = this.bySid.get(sid);
    if (!p) this.bySid.set(sid, (p = { open: new Map(), fates: new Map() }));
    return p;
  }

  opened(sid: SessionId, rid: string, post: OpenPost, fate: "stream" | "json"): void {
    const p = this.of(sid);
    p.open.set(rid, post);
    p.fates.set(rid, [fate, Number.MAX_SAFE_INTEGER, undefined]);
  }

  /** The POST is over; `cut`: its stream ended before its reply did. */
  closed(sid: SessionId, rid: string, post: OpenPost, cut: boolean): void {
    const p = this.bySid.get(sid);
    if (!p || p.open.get(rid) !== post) return;
    p.open.delete(rid);
    const fate = p.fates.get(rid)?.[0] ?? "json";
    // a finished stream is kept: a GET resuming from one of its events proves its client never read the rest
    p.fates.set(rid, [cut && fate === "stream" ? "orphaned" : fate, Date.now() + MEMORY_MS, fate === "stream" ? post : undefined]);
  }

  fate(sid: SessionId, rid: string): Fate | undefined {
    return this.bySid.get(sid)?.fates.get(rid)?.[0];
  }

  /** Frames the standalone GET stream carries. */
  standalone(sid: SessionId): (m: Stored, f: FrameInfo | undefined) => boolean {
    return (m, f) => {
      const rid = m.reply.rid;
      if (rid === undefined) return true;
      const fate = this.fate(sid, rid);
      return (fate === undefined || fate === "json") && !f?.response;
    };
  }

  /** Frames a GET resuming from Last-Event-ID carries. */
  resumed(sid: SessionId): (m: Stored, f: FrameInfo | undefined) => boolean {
    return (m, f) => {
      const rid = m.reply.rid;
      if (rid === undefined) return true;
      const fate = this.fate(sid, rid);
      return fate === "json" ? !f?.response : fate !== "stream";
    };
  }

  /**
   * A client resumes, on a GET, from `eventId`: the POST stream that sent it
   * is dead. End it here and tell the other gateway processes. Call before
   * the GET reads HISTORY.
   */
  resumedFrom(sid: SessionId, eventId: number): void {
    this.abandonSent(sid, eventId);
    this.nc.publish(subjects.live(sid), undefined, { headers: controlHeaders({ kind: "resumedFrom", eventId }) });
  }

  abandonSent(sid: SessionId, eventId: number): void {
    const p = this.bySid.get(sid);
    if (!p) return;
    for (const post of [...p.open.values()]) if (post.sent(eventId)) post.abandon();
    // one that finished, as far as the gateway could tell (all written to a socket nobody read)
    for (const f of p.fates.values()) if (f[0] === "stream" && f[2]?.sent(eventId)) f[0] = "orphaned";
  }

  sessionEnded(sid: SessionId): void {
    const p = this.bySid.get(sid);
    if (!p) return;
    for (const post of [...p.open.values()]) post.sessionEnded();
    this.bySid.delete(sid);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [sid, p] of this.bySid) {
      for (const [rid, [, until]] of p.fates) if (until <= now) p.fates.delete(rid);
      if (p.open.size === 0 && p.fates.size === 0) this.bySid.delete(sid);
    }
  }
}
