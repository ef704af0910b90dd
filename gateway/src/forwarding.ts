// Sessions away from home, both ends (the wire: @radiant/wire forwarding.ts).
// As a home, this process keeps which of its sessions another process holds
// and forwards their live messages there; as a holder, it asks a session's
// home to forward instead of subscribing per session, and gives the session
// its own subscription again if the home goes quiet. Delivery owns the lines;
// this owns who forwards what to whom, and who is alive.
import {
  ALIVE_INTERVAL_MS,
  ALIVE_TIMEOUT_MS,
  controlHeaders,
  decodeAlive,
  decodeHold,
  encodeHold,
  HOLD_STALE,
  homeOf,
  subjects,
  type AliveState,
  type SessionId,
} from "@radiant/wire";
import type { LiveLink, LiveMsg } from "./delivery.js";

/** a holder silent this long is taken for gone by the homes forwarding to it (its clients' sockets have timed out long before) */
const HOLDER_GONE_MS = 10 * 60_000;

export interface ForwardingEvents {
  /** a home this process's lines depend on is gone, or quiet past ALIVE_TIMEOUT_MS: they must subscribe on their own */
  homeLost(home: string): void;
  /** a home's NATS link came back: what it forwarded while it was down did not arrive */
  homeBack(home: string): void;
}

/** What a home answered a hold: forwarding now, a newer claim holds the session, or no answer in time. */
export type HoldOutcome = "held" | "stale" | "unanswered";

/** Home side: who holds a session, since when (the claim's time: the newest wins). */
interface Claim {
  holder: string;
  at: number;
}

const STALE = Buffer.from(HOLD_STALE);

export class Forwarding {
  /** home side: sessions made here and held elsewhere, by whom and since when */
  private readonly table = new Map<SessionId, Claim>();
  /** home side: sessions forwarded to each holder (and the holder's id, one string per holder) */
  private readonly holders = new Map<string, { id: string; n: number }>();
  /** holder side: lines here that a home forwards to, by home */
  private readonly dependsOn = new Map<string, number>();
  /** when each other process was last heard */
  private readonly heard = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly link: LiveLink,
    readonly home: string,
    private readonly events: ForwardingEvents,
    /** whether this process's own NATS link is up: while it is down nobody is heard, and nobody is taken for gone */
    private readonly linkUp: () => boolean = () => true,
  ) {
    link.subscribe(subjects.hold(home), (m) => this.onHold(m));
    link.subscribe(subjects.aliveAll, (m) => this.onAlive(m));
    this.say("up");
    this.timer = setInterval(() => this.tick(), ALIVE_INTERVAL_MS);
    this.timer.unref();
  }

  /** sessions made here whose messages this process forwards */
  get forwarding(): number {
    return this.table.size;
  }

  /** Home side: a live message of a session made here, to whoever holds it elsewhere (hot path: one map lookup when nobody does). */
  forward(sid: SessionId, m: LiveMsg): void {
    if (this.table.size === 0) return;
    const to = this.table.get(sid);
    if (to !== undefined) this.link.publish(subjects.forwarded(to.holder, sid), m.data, m.headers);
  }

  /** Home side: the session's stream opened here again: whoever held it elsewhere lets go. */
  takeBack(sid: SessionId): void {
    const to = this.table.get(sid);
    if (to === undefined) return;
    this.unset(sid, to.holder);
    this.link.publish(subjects.forwarded(to.holder, sid), undefined, controlHeaders({ kind: "takeover", by: this.home }));
  }

  /**
   * Holder side: ask the session's home to forward its live messages here.
   * `at`: when this process took the session's connection. "stale": the home
   * forwards it for a newer connection elsewhere; "unanswered": gone, unreachable
   * or too busy (the caller subscribes on its own).
   */
  async hold(sid: SessionId, at: number): Promise<HoldOutcome> {
    const home = homeOf(sid);
    if (!this.linkUp()) return "unanswered";
    const answer = await this.link.ask(subjects.hold(home), encodeHold({ op: "hold", sid, holder: this.home, at }));
    if (answer === undefined) {
      // a home alive but too busy to answer in time may still take the hold later: this comes after it
      this.forget(sid);
      return "unanswered";
    }
    this.heard.set(home, Date.now());
    if (STALE.equals(answer)) return "stale";
    this.dependsOn.set(home, (this.dependsOn.get(home) ?? 0) + 1);
    return "held";
  }

  /** Holder side: the line is gone; its home stops forwarding. */
  release(sid: SessionId): void {
    const home = homeOf(sid);
    const n = this.dependsOn.get(home);
    if (n === undefined) return; // the home was lost meanwhile: nothing to tell it
    if (n <= 1) this.dependsOn.delete(home);
    else this.dependsOn.set(home, n - 1);
    this.forget(sid);
  }

  /** This process's NATS link is back: nobody was heard meanwhile (that says nothing about them); holders of its sessions read HISTORY. */
  reconnected(): void {
    const now = Date.now();
    for (const h of this.heard.keys()) this.heard.set(h, now);
    this.say("back");
  }

  /** Stopping: holders of this process's sessions subscribe on their own from now. */
  stop(): void {
    clearInterval(this.timer);
    this.say("gone");
  }

  private say(s: AliveState): void {
    if (this.linkUp()) this.link.publish(subjects.alive(this.home), Buffer.from(s));
  }

  private onHold(m: LiveMsg): void {
    const n = decodeHold(m.data);
    if (!n || homeOf(n.sid) !== this.home || n.holder === this.home) return;
    if (n.op === "release") {
      if (this.table.get(n.sid)?.holder === n.holder) this.unset(n.sid, n.holder);
      return;
    }
    this.heard.set(n.holder, Date.now());
    const prev = this.table.get(n.sid);
    if (prev !== undefined && prev.at > n.at) {
      // a newer connection holds it: this hold was sent earlier and arrives late (its process was
      // starved, or timed out waiting and let go); applying it would take forwarding from the newer
      if (m.reply) this.link.publish(m.reply, STALE);
      return;
    }
    if (prev?.holder !== n.holder) {
      if (prev !== undefined) {
        this.unset(n.sid, prev.holder);
        // the newer holder's own takeover notice may reach us after this: tell the older one now
        this.link.publish(subjects.forwarded(prev.holder, n.sid), undefined, controlHeaders({ kind: "takeover", by: n.holder }));
      }
      let h = this.holders.get(n.holder);
      if (!h) this.holders.set(n.holder, (h = { id: n.holder, n: 0 }));
      h.n++;
      this.table.set(n.sid, { holder: h.id, at: n.at });
    } else prev.at = n.at;
    if (m.reply) this.link.publish(m.reply, undefined);
  }

  private unset(sid: SessionId, holder: string): void {
    this.table.delete(sid);
    const h = this.holders.get(holder);
    if (h && --h.n <= 0) this.holders.delete(holder);
  }

  private onAlive(m: LiveMsg): void {
    const home = subjects.homeOfAlive(m.subject);
    const s = decodeAlive(m.data);
    if (home === undefined || s === undefined || home === this.home) return;
    if (s === "gone") return this.lost(home);
    this.heard.set(home, Date.now());
    if (s === "back" && this.dependsOn.has(home)) this.events.homeBack(home);
  }

  private tick(): void {
    this.say("up");
    if (!this.linkUp()) return;
    const now = Date.now();
    const quiet = (p: string, ms: number) => now - (this.heard.get(p) ?? 0) > ms;
    // a holder that stops hearing its home subscribes on its own at once: that is always safe
    for (const home of [...this.dependsOn.keys()]) if (quiet(home, ALIVE_TIMEOUT_MS)) this.lost(home);
    // a home stops forwarding only when a holder said it is going, or after a silence no live
    // process keeps (a holder merely starved of CPU for seconds would miss messages it cannot know of)
    for (const holder of [...this.holders.keys()]) if (quiet(holder, HOLDER_GONE_MS)) this.lost(holder);
  }

  /** Another process is gone: as a home it forwards nothing more to us; as a holder, we forward nothing more to it. */
  private lost(p: string): void {
    this.heard.delete(p);
    if (this.dependsOn.delete(p)) this.events.homeLost(p);
    if (this.holders.delete(p)) for (const [sid, to] of this.table) if (to.holder === p) this.table.delete(sid);
  }

  /** Holder side: tell the home to stop forwarding (a line gone, a hold given up, or a home taken for gone that was only slow). */
  forget(sid: SessionId): void {
    this.link.publish(subjects.hold(homeOf(sid)), encodeHold({ op: "release", sid, holder: this.home, at: 0 }));
  }
}
