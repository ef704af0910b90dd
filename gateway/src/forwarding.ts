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

export class Forwarding {
  /** home side: sessions made here and held elsewhere, and by whom */
  private readonly table = new Map<SessionId, string>();
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
    if (to !== undefined) this.link.publish(subjects.forwarded(to, sid), m.data, m.headers);
  }

  /** Home side: the session's stream opened here again: whoever held it elsewhere lets go. */
  takeBack(sid: SessionId): void {
    const to = this.table.get(sid);
    if (to === undefined) return;
    this.unset(sid, to);
    this.link.publish(subjects.forwarded(to, sid), undefined, controlHeaders({ kind: "takeover", by: this.home }));
  }

  /** Holder side: ask the session's home to forward its live messages here; false if it did not answer (gone, unreachable). */
  async hold(sid: SessionId): Promise<boolean> {
    const home = homeOf(sid);
    if (!this.linkUp()) return false;
    if (!(await this.link.ask(subjects.hold(home), encodeHold({ op: "hold", sid, holder: this.home })))) {
      // a home alive but too busy to answer in time may still take the hold later: this comes after it
      this.forget(sid);
      return false;
    }
    this.heard.set(home, Date.now());
    this.dependsOn.set(home, (this.dependsOn.get(home) ?? 0) + 1);
    return true;
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
      if (this.table.get(n.sid) === n.holder) this.unset(n.sid, n.holder);
      return;
    }
    const prev = this.table.get(n.sid);
    if (prev !== n.holder) {
      if (prev !== undefined) {
        this.unset(n.sid, prev);
        // the newer holder's own takeover notice may reach us after this: tell the older one now
        this.link.publish(subjects.forwarded(prev, n.sid), undefined, controlHeaders({ kind: "takeover", by: n.holder }));
      }
      let h = this.holders.get(n.holder);
      if (!h) this.holders.set(n.holder, (h = { id: n.holder, n: 0 }));
      h.n++;
      this.table.set(n.sid, h.id);
    }
    this.heard.set(n.holder, Date.now());
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
    if (this.holders.delete(p)) for (const [sid, to] of this.table) if (to === p) this.table.delete(sid);
  }

  /** Holder side: tell the home to stop forwarding (a line gone, a hold given up, or a home taken for gone that was only slow). */
  forget(sid: SessionId): void {
    this.link.publish(subjects.hold(homeOf(sid)), encodeHold({ op: "release", sid, holder: this.home }));
  }
}
