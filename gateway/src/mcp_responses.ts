// MCP Streamable HTTP sends a request's replies on that request's own POST
// response (PROTOCOLS.md §1: "each message goes out on exactly one stream").
// A POST waiting for replies registers the ids it waits for here; the router
// listens on the session's live subject (one subscription per session per
// process, however many POSTs wait) and hands each stored reply to the POST
// whose request it answers or was sent for.
//
// The session's GET streams ask `route` what else is theirs:
// - the standalone GET (opened without Last-Event-ID) carries what is related
//   to no request: never a response (the spec forbids it), nor what belongs
//   to a POST stream, open or cut;
// - a GET with Last-Event-ID resumes a cut stream: it carries what no POST
//   delivered, the cut POST's remaining replies included.
// Workers mark each reply with the request it answers or was sent for
// (wire.ts: Radiant-Response-To, Radiant-Related-To).
import { headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/nats-core";
import { headers, subjects, type SessionId } from "@radiant/infra/wire";
import type { StoredReply } from "./history.js";
import { metrics } from "./metrics.js";

/** How long the fate of a finished POST's ids is remembered (to keep GET streams from repeating it). */
const MEMORY_MS = 120_000;

export interface ReplySink {
  /** a stored message for this POST: a reply to one of its requests, or a message sent while working on one */
  deliver(seq: number, data: Uint8Array, isResponse: boolean): void;
  /** every request has its response */
  finish(): void;
  /** whether this POST's stream sent an event with this id (a client resuming from it has lost the stream) */
  sent(eventId: number): boolean;
  /** the client resumed elsewhere: end this response, whatever it waited for goes to the resumed stream */
  abandon(): void;
}

export class PendingPost {
  /** ids (as JSON) still without a response */
  readonly waiting: Set<string>;
  /** for a re-sent request: what was handed over, so live and replay never both do */
  given: Set<number> | undefined;
  /** live messages that came while HISTORY was read: they follow the replay, in order */
  held: [number, Uint8Array, string, string][] | undefined;

  constructor(
    readonly sid: SessionId,
    /** every request id (as JSON) the POST carried */
    readonly ids: ReadonlySet<string>,
    readonly sink: ReplySink,
    /** an SSE answer: it also carries what was sent while working (a JSON answer leaves that to the GET stream) */
    readonly streaming: boolean,
  ) {
    this.waiting = new Set(ids);
  }
}

/** Where a stored message belongs. */
export type Route =
  /** on an open POST stream */
  | "post"
  /** a POST stream delivered it already */
  | "delivered"
  /** a POST stream was cut before it: a GET resuming that stream takes it */
  | "orphaned"
  /** no POST's business */
  | "free";

/** What became of a finished POST's id. */
const enum Fate {
  /** its response, and what came while working, went out on the POST (SSE) */
  AllDelivered,
  /** its response went out on the POST (JSON); what came while working is free */
  ResponseDelivered,
  /** the POST stream was cut before its response */
  Orphaned,
}

interface SessionEntry {
  sub: Subscription | undefined;
  posts: Set<PendingPost>;
  /** id → [fate, until when remembered] */
  memory: Map<string, [Fate, number]>;
  sweep: NodeJS.Timeout | undefined;
}

/** Whether a stored message answering `to` (or sent while working on `related`) goes out on this POST. */
const owns = (p: PendingPost, to: string, related: string): boolean =>
  (to !== "" && p.waiting.has(to)) || (related !== "" && p.streaming && p.waiting.has(related));

export class ResponseRouter {
  private readonly bySid = new Map<string, SessionEntry>();
  /** the newest HISTORY sequence this process has seen on a live subject */
  newestSeq = 0;

  constructor(private readonly nc: NatsConnection) {}

  /**
   * Wait for replies to `ids` on session `sid`. Call before the request is
   * published: the subscription goes out first on the same connection, so no
   * reply can pass it by.
   */
  open(sid: SessionId, ids: ReadonlySet<string>, sink: ReplySink, streaming: boolean): PendingPost {
    let e = this.bySid.get(sid);
    if (!e) {
      e = { sub: undefined, posts: new Set(), memory: new Map(), sweep: undefined };
      this.bySid.set(sid, e);
    }
    if (!e.sub) {
      const entry = e;
      e.sub = this.nc.subscribe(subjects.live(sid), {
        callback: (err, msg) => {
          if (!err) this.onMessage(entry, msg);
        },
      });
    }
    const post = new PendingPost(sid, ids, sink, streaming);
    e.posts.add(post);
    return post;
  }

  /** The POST is over (answered, timed out, or its client left). */
  close(post: PendingPost): void {
    const e = this.bySid.get(post.sid);
    if (!e || !e.posts.delete(post)) return;
    const until = Date.now() + MEMORY_MS;
    for (const id of post.ids) {
      const answered = !post.waiting.has(id);
      if (answered) e.memory.set(id, [post.streaming ? Fate.AllDelivered : Fate.ResponseDelivered, until]);
      else if (post.streaming) e.memory.set(id, [Fate.Orphaned, until]);
    }
    if (e.posts.size === 0) {
      e.sub?.unsubscribe();
      e.sub = undefined;
    }
    e.sweep ??= setTimeout(() => this.sweep(post.sid, e), MEMORY_MS + 100);
  }

  /**
   * A client resumes a stream from `eventId` on a GET: the POST stream that
   * sent that id is dead even if its connection looks open (a client whose
   * network changed leaves no FIN behind). End it here, and tell the other
   * gateway processes, so its replies go to the resumed GET instead of into
   * a socket nobody reads. Call before the GET reads HISTORY.
   */
  resumedFrom(sid: SessionId, eventId: number): void {
    this.abandonSent(sid, eventId);
    const h = natsHeaders();
    h.set(headers.resumedFrom, String(eventId));
    this.nc.publish(subjects.live(sid), undefined, { headers: h });
  }

  private abandonSent(sid: SessionId, eventId: number): void {
    const e = this.bySid.get(sid);
    if (!e) return;
    for (const p of [...e.posts]) {
      if (!p.sink.sent(eventId)) continue;
      this.close(p);
      p.sink.abandon();
    }
  }

  route(sid: SessionId, h: MsgHdrs | undefined): Route {
    const e = this.bySid.get(sid);
    if (!e || !h) return "free";
    const to = h.get(headers.responseTo);
    const id = to || h.get(headers.relatedTo);
    if (id === "") return "free";
    for (const p of e.posts) if (p.ids.has(id) && (to !== "" || p.streaming)) return "post";
    const m = e.memory.get(id);
    if (!m || m[1] < Date.now()) return "free";
    if (m[0] === Fate.Orphaned) return "orphaned";
    return m[0] === Fate.AllDelivered || to !== "" ? "delivered" : "free";
  }

  /** What the session's standalone GET stream carries. */
  forStandalone(sid: SessionId, h: MsgHdrs | undefined): boolean {
    return !h?.has(headers.responseTo) && this.route(sid, h) === "free";
  }

  /** What a GET stream resumed with Last-Event-ID carries. */
  forResumed(sid: SessionId, h: MsgHdrs | undefined): boolean {
    const r = this.route(sid, h);
    return r === "free" || r === "orphaned";
  }

  private sweep(sid: SessionId, e: SessionEntry): void {
    e.sweep = undefined;
    const now = Date.now();
    for (const [id, [, until]] of e.memory) if (until <= now) e.memory.delete(id);
    if (e.posts.size === 0 && e.memory.size === 0) this.bySid.delete(sid);
    else e.sweep = setTimeout(() => this.sweep(sid, e), MEMORY_MS);
  }

  private onMessage(e: SessionEntry, msg: Msg): void {
    const h = msg.headers;
    const seq = Number(h?.get(headers.sequence));
    if (!h) return;
    if (Number.isNaN(seq)) {
      // a control notice, not a stored message
      const from = h.get(headers.resumedFrom);
      const sid = subjects.sidOfLive(msg.subject);
      if (from !== "" && sid) this.abandonSent(sid, Number(from));
      return;
    }
    if (seq > this.newestSeq) this.newestSeq = seq;
    const to = h.get(headers.responseTo);
    const related = to === "" ? h.get(headers.relatedTo) : "";
    if (to === "" && related === "") return;
    for (const p of e.posts) {
      if (!owns(p, to, related)) continue;
      if (p.held) p.held.push([seq, msg.data, to, related]);
      else this.offer(p, seq, msg.data, to, related);
      return;
    }
  }

  /** Hand a stored message to a POST if it is the POST's; true if it was. */
  private offer(p: PendingPost, seq: number, data: Uint8Array, to: string, related: string): boolean {
    if (!owns(p, to, related)) return false;
    if (p.given) {
      if (p.given.has(seq)) return true;
      p.given.add(seq);
    }
    if (to !== "") p.waiting.delete(to);
    p.sink.deliver(seq, data, to !== "");
    if (to !== "" || p.streaming) metrics.messagesOut.inc(); // a JSON answer carries responses only
    if (p.waiting.size === 0) p.sink.finish();
    return true;
  }

  /**
   * A request re-sent with an id JetStream had seen (a client's retry): it
   * will not run again, so its replies are read from the session's HISTORY —
   * those stored already; the rest, if it is still running, come live.
   */
  async replay(p: PendingPost, stored: AsyncIterable<StoredReply>): Promise<void> {
    p.given = new Set();
    p.held = [];
    try {
      for await (const m of stored) {
        if (p.waiting.size === 0 || !this.bySid.get(p.sid)?.posts.has(p)) return;
        const to = m.headers?.get(headers.responseTo) ?? "";
        this.offer(p, m.seq, m.data, to, to === "" ? (m.headers?.get(headers.relatedTo) ?? "") : "");
      }
    } finally {
      const held = p.held;
      p.held = undefined;
      for (const [seq, data, to, related] of held) if (p.waiting.size > 0) this.offer(p, seq, data, to, related);
    }
  }
}
