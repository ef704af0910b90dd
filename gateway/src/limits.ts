// Per-principal and per-key limits: connections at once, requests per minute,
// LLM tokens per minute. Each gateway process counts what it admits and, every
// second, tells the others (wire/usage.ts); workers report the tokens each
// answer used. So a limit holds across processes and machines within what
// one report interval lets through elsewhere before it is heard: at most one
// second of the other processes' traffic over the limit (README: Limits).
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { keyScope, principalScope, type Scope, type UsageEntry, type UsageReport } from "@radiant/wire";
import type { PrincipalLimits } from "./auth/auth_config.js";
import type { Identity } from "./auth/authenticator.js";
import { metrics, principalRequestCounts } from "./metrics.js";

const WINDOW_MS = 60_000;
/** a process's connection count is forgotten when it stops reporting (it died) */
const REMOTE_STALE_MS = 5000;

/** Counts in a sliding minute, kept as this minute and the last (weighted by how much of it still lies in the window). */
class Window {
  private start = 0;
  private cur = 0;
  private prev = 0;

  private roll(now: number): void {
    const n = Math.floor(now / WINDOW_MS) * WINDOW_MS;
    if (n === this.start) return;
    this.prev = n - this.start === WINDOW_MS ? this.cur : 0;
    this.cur = 0;
    this.start = n;
  }

  add(v: number, now: number): void {
    this.roll(now);
    this.cur += v;
  }

  count(now: number): number {
    this.roll(now);
    return this.prev * (1 - (now - this.start) / WINDOW_MS) + this.cur;
  }

  /** seconds until the count falls under `limit`, at least 1 */
  retryAfterS(limit: number, now: number): number {
    this.roll(now);
    const elapsed = now - this.start;
    let ms: number;
    if (this.cur >= limit || this.prev === 0) ms = WINDOW_MS - elapsed + 1;
    else ms = WINDOW_MS * (1 - (limit - this.cur) / this.prev) - elapsed + 1;
    return Math.max(1, Math.ceil(Math.min(ms, 2 * WINDOW_MS) / 1000));
  }

  get idle(): boolean {
    return this.cur === 0 && this.prev === 0;
  }
}

class Counts {
  requests = new Window();
  tokens = new Window();
  /** connections held by this process */
  connections = 0;
  /** connections other processes said they hold: by process, with when they said it */
  remote = new Map<string, { n: number; at: number }>();
  /** admitted here and not yet reported (tokens are the workers' to report) */
  newRequests = 0;
  /** the connection count changed since the last report (a zero is reported once) */
  connectionsChanged = false;

  allConnections(now: number): number {
    let n = this.connections;
    for (const [from, r] of this.remote) {
      if (now - r.at > REMOTE_STALE_MS) this.remote.delete(from);
      else n += r.n;
    }
    return n;
  }
}

export interface Refusal {
  /** a sentence for the client */
  reason: string;
  retryAfterS: number;
}

interface Limit {
  scope: Scope;
  connections: number;
  rpm: number;
  tpm: number;
  /** how it is named to the client */
  what: string;
}

const NO_LIMITS: readonly Limit[] = [];

export class Limits {
  private readonly counts = new Map<Scope, Counts>();
  /** this process, among the reporters */
  readonly id = `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;

  constructor(
    private readonly defaults: PrincipalLimits,
    /** this process's session home: the tokens of its sessions' answers are its to count in metrics */
    private readonly home: string,
    private readonly now: () => number = Date.now,
  ) {
    this.principalsLimited = defaults.connections > 0 || defaults.rpm > 0 || defaults.tpm > 0;
  }

  /** an identity's limits, worked out once: the socket path asks for every frame */
  private readonly limitsCache = new WeakMap<Identity, readonly Limit[]>();
  /** whether every principal has limits (else only keys with limits of their own do) */
  private readonly principalsLimited: boolean;

  /** the limits that apply to `who`: its principal's, and its key's own */
  private limitsOf(who: Identity): readonly Limit[] {
    // the common case — no principal limits, no key — without a lookup
    if (!this.principalsLimited && who.key === undefined) return NO_LIMITS;
    let l = this.limitsCache.get(who);
    if (!l) this.limitsCache.set(who, (l = this.computeLimits(who)));
    return l;
  }

  private computeLimits(who: Identity): readonly Limit[] {
    const out: Limit[] = [];
    const d = this.defaults;
    if (this.principalsLimited) out.push({ scope: principalScope(who.principal), ...d, what: `principal ${who.principal}` });
    const k = who.key;
    if (k && (k.rpm !== undefined || k.tpm !== undefined || k.connections !== undefined)) {
      out.push({ scope: keyScope(k.id), connections: k.connections ?? 0, rpm: k.rpm ?? 0, tpm: k.tpm ?? 0, what: `API key ${k.id}` });
    }
    return out;
  }

  private of(scope: Scope): Counts {
    let c = this.counts.get(scope);
    if (!c) this.counts.set(scope, (c = new Counts()));
    return c;
  }

  /** Whether `who` may open one more connection (nothing is counted: `opened` does). */
  mayConnect(who: Identity): Refusal | undefined {
    const now = this.now();
    for (const l of this.limitsOf(who)) {
      if (l.connections > 0 && this.of(l.scope).allConnections(now) >= l.connections) {
        return this.refused(who, "connections", { reason: `too many connections for ${l.what}: the limit is ${l.connections} at once`, retryAfterS: 5 });
      }
    }
    return undefined;
  }

  opened(who: Identity): void {
    for (const l of this.limitsOf(who)) {
      const c = this.of(l.scope);
      c.connections++;
      c.connectionsChanged = true;
    }
  }

  closed(who: Identity): void {
    for (const l of this.limitsOf(who)) {
      const c = this.counts.get(l.scope);
      if (!c || c.connections === 0) continue;
      c.connections--;
      c.connectionsChanged = true;
    }
  }

  /** Admit one request of `who` (counted) or say why not; `llm`: token limits apply too. */
  admit(who: Identity, llm: boolean, cost = 1): Refusal | undefined {
    const limits = this.limitsOf(who);
    if (limits.length === 0) {
      this.counted(who, cost);
      return undefined;
    }
    const now = this.now();
    for (const l of limits) {
      const c = this.of(l.scope);
      if (l.rpm > 0 && c.requests.count(now) + cost > l.rpm) {
        return this.refused(who, "requests", {
          reason: `rate limit reached for ${l.what}: ${l.rpm} requests per minute`,
          retryAfterS: c.requests.retryAfterS(l.rpm, now),
        });
      }
      if (llm && l.tpm > 0 && c.tokens.count(now) >= l.tpm) {
        return this.refused(who, "tokens", {
          reason: `token limit reached for ${l.what}: ${l.tpm} tokens per minute`,
          retryAfterS: c.tokens.retryAfterS(l.tpm, now),
        });
      }
    }
    for (const l of limits) {
      const c = this.of(l.scope);
      c.requests.add(cost, now);
      c.newRequests += cost;
    }
    this.counted(who, cost);
    return undefined;
  }

  /** Requests of `who` let in: counted plainly, handed to the metric when it is read (no labels object per request). */
  private counted(who: Identity, n: number): void {
    const p = principalLabel(who.principal);
    principalRequestCounts.set(p, (principalRequestCounts.get(p) ?? 0) + n);
  }

  private refused(who: Identity, limit: string, r: Refusal): Refusal {
    metrics.principalRejections.inc({ principal: principalLabel(who.principal), limit });
    return r;
  }

  /** Another process's report (or a worker's tokens). */
  heard(r: UsageReport): void {
    if (r.from === this.id) return;
    const now = this.now();
    for (const e of r.entries) {
      const principal = e.scope.startsWith("p:");
      if (e.tokens > 0 && r.home === this.home && principal) metrics.principalTokens.inc({ principal: principalLabel(e.scope.slice(2)) }, e.tokens);
      // a gateway reports only scopes with limits: kept, so a first request here already counts the others';
      // a worker reports every answer's principal: kept only where a principal limit could use it
      const keep = r.home === undefined || !principal || this.defaults.tpm > 0;
      const c = keep ? this.of(e.scope) : this.counts.get(e.scope);
      if (!c) continue;
      if (e.requests > 0) c.requests.add(e.requests, now);
      if (e.tokens > 0) c.tokens.add(e.tokens, now);
      if (e.connections !== undefined) c.remote.set(r.from, { n: e.connections, at: now });
    }
  }

  /** What this process counted since its last report; undefined if nothing. Forgets scopes gone quiet. */
  report(): UsageReport | undefined {
    const now = this.now();
    const entries: UsageEntry[] = [];
    for (const [scope, c] of this.counts) {
      if (c.newRequests > 0 || c.connectionsChanged || c.connections > 0) {
        entries.push({ scope, requests: c.newRequests, tokens: 0, connections: c.connections });
        c.newRequests = 0;
        c.connectionsChanged = false;
      } else if (c.requests.idle && c.tokens.idle && c.allConnections(now) === 0) {
        this.counts.delete(scope);
      } else {
        // keep the windows rolling so an idle scope empties
        c.requests.count(now);
        c.tokens.count(now);
      }
    }
    return entries.length > 0 ? { from: this.id, entries } : undefined;
  }
}

/** metrics label values are bounded: the first principals seen keep their own, the rest share one */
const MAX_LABELLED_PRINCIPALS = 1000;
const labelled = new Set<string>();
export function principalLabel(p: string): string {
  if (labelled.has(p)) return p;
  if (labelled.size >= MAX_LABELLED_PRINCIPALS) return "_other";
  labelled.add(p);
  return p;
}
