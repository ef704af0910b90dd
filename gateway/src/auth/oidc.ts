// OIDC bearer tokens: finds the issuer's signing keys (discovery, then its
// JWKS), keeps them fresh in the background, and verifies tokens against them
// synchronously (see jwt.ts for why). Fetching never blocks a verify: a token
// signed with a key not loaded yet is refused, and the refresh it triggers lets
// the next attempt (or an HTTP caller that waits on refreshed()) succeed.
import type { Logger } from "pino";
import { emptyJwkSet, type JwkSet, type JwtResult, parseJwks, verifyJwt } from "./jwt.js";

/** verified tokens remembered at most (oldest forgotten first) */
const VERIFIED_CACHE = 10_000;

export type { JwtFailure, JwtResult } from "./jwt.js";

export interface OidcOptions {
  /** OIDC_ISSUER_URL */
  issuerUrl: string;
  /** OIDC_AUDIENCE */
  audience: string;
  /** OIDC_TENANT_CLAIM: claim whose string value is the tenant */
  tenantClaim?: string;
  /** default 60 */
  clockSkewS?: number;
  log: Logger;
  /** default 5000 */
  fetchTimeoutMs?: number;
  /** unknown-kid refreshes at most this often, default 10_000 */
  minRefreshIntervalMs?: number;
  /** routine JWKS refresh, default 10 min */
  refreshEveryMs?: number;
}

/** Discovery documents and JWKS are small; a bigger answer is a misconfiguration or hostile, and is not buffered. */
const MAX_BODY_BYTES = 1024 * 1024;
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30_000;

const noSlash = (u: string) => u.replace(/\/$/, "");

export class OidcVerifier {
  private readonly o: Required<Omit<OidcOptions, "tenantClaim">> & { tenantClaim: string | undefined };
  private readonly log: Logger;
  private keys: JwkSet = emptyJwkSet();
  /** tokens whose signature checked out, until they expire (cleared when the keys change: a key withdrawn takes its tokens with it) */
  private readonly verified = new Map<string, JwtResult & { ok: true }>();
  /** `issuer` of the discovery document: the exact `iss` tokens must carry */
  private issuer: string | undefined;
  private jwksUri: string | undefined;
  private refreshing: Promise<void> | undefined;
  /** when the last unknown-kid refresh started (ms since epoch) */
  private lastKickMs = Number.NEGATIVE_INFINITY;
  private retryMs = RETRY_FIRST_MS;
  private retryTimer: NodeJS.Timeout | undefined;
  private routineTimer: NodeJS.Timeout | undefined;
  private starting: Promise<void> | undefined;
  private stopped = false;
  /** aborts the fetches in flight on stop() */
  private readonly abort = new AbortController();

  constructor(o: OidcOptions) {
    this.o = {
      issuerUrl: o.issuerUrl,
      audience: o.audience,
      tenantClaim: o.tenantClaim,
      clockSkewS: o.clockSkewS ?? 60,
      log: o.log,
      fetchTimeoutMs: o.fetchTimeoutMs ?? 5000,
      minRefreshIntervalMs: o.minRefreshIntervalMs ?? 10_000,
      refreshEveryMs: o.refreshEveryMs ?? 10 * 60_000,
    };
    this.log = o.log;
  }

  /**
   * Discovery, then the JWKS; retries in the background (1 s doubling to
   * 30 s) until there are keys. Resolves after the first attempt, keys or not,
   * and never throws: the gateway serves (and refuses tokens) meanwhile.
   */
  start(): Promise<void> {
    if (this.starting) return this.starting;
    if (this.stopped) return Promise.resolve();
    this.routineTimer = setInterval(() => void this.refresh(), this.o.refreshEveryMs);
    this.routineTimer.unref();
    this.starting = this.refresh();
    return this.starting;
  }

  /** Synchronous. unknown_kid and no_keys start a background refresh (rate-limited), which refreshed() waits for. */
  verify(token: string, nowS = Math.floor(Date.now() / 1000)): JwtResult {
    // an HTTP client sends the same token with every request: its signature is checked once (bench:auth)
    const known = this.verified.get(token);
    if (known && known.expS !== undefined && known.expS + this.o.clockSkewS > nowS) return known;
    const r = verifyJwt(token, this.keys, {
      issuer: this.issuer ?? "",
      audience: this.o.audience,
      tenantClaim: this.o.tenantClaim,
      clockSkewS: this.o.clockSkewS,
      nowS,
    });
    if (!r.ok && (r.code === "unknown_kid" || r.code === "no_keys")) this.kick();
    if (r.ok && r.expS !== undefined && token.length <= 4096) {
      if (this.verified.size >= VERIFIED_CACHE) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(token, r);
    }
    return r;
  }

  /** Resolves when the running refresh ends, or at once if none runs (rate-limited, or not started). Never rejects. */
  refreshed(): Promise<void> {
    return this.refreshing ?? Promise.resolve();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.routineTimer);
    clearTimeout(this.retryTimer);
    this.retryTimer = this.routineTimer = undefined;
    this.abort.abort();
  }

  /** how many keys are loaded */
  get keyCount(): number {
    return this.keys.keys.length;
  }

  /** A refresh for a key we may not have yet: a rotation the issuer made since the last fetch. Rate-limited, since any client can send any kid. */
  private kick(): void {
    if (!this.starting || this.stopped || this.refreshing) return;
    const now = Date.now();
    if (now - this.lastKickMs < this.o.minRefreshIntervalMs) return;
    this.lastKickMs = now;
    void this.refresh();
  }

  /** One refresh at a time: a caller while one runs gets that one. */
  private refresh(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.refreshing ??= this.load().finally(() => {
      this.refreshing = undefined;
      this.scheduleRetry();
    });
    return this.refreshing;
  }

  private scheduleRetry(): void {
    if (this.stopped || this.keys.keys.length > 0) {
      this.retryMs = RETRY_FIRST_MS;
      return;
    }
    if (this.retryTimer) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    this.log.info({ retryInMs: delay }, "no OIDC signing keys yet; retrying");
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.refresh();
    }, delay);
    this.retryTimer.unref();
  }

  /** Discovery (until it has succeeded once), then the JWKS. A failure keeps the keys we have. */
  private async load(): Promise<void> {
    try {
      if (this.jwksUri === undefined) await this.discover();
      const uri = this.jwksUri!;
      const doc = await this.getJson(uri);
      const set = parseJwks(doc, (why) => this.log.warn({ jwksUri: uri, why }, "OIDC JWKS entry skipped"));
      // an issuer briefly serving an empty or broken set should not lock every client out
      if (set.keys.length === 0) throw new Error("the JWKS has no usable signing keys");
      const before = this.kids(this.keys);
      this.keys = set;
      const after = this.kids(set);
      // a withdrawn (or replaced) key takes the tokens it signed with it: every load checks them afresh
      this.verified.clear();
      if (before !== after) this.log.info({ jwksUri: uri, keys: set.keys.length, kids: after }, "OIDC signing keys loaded");
    } catch (e) {
      if (this.stopped) return;
      const have = this.keys.keys.length;
      this.log.warn({ issuer: this.o.issuerUrl, err: (e as Error).message, keptKeys: have }, "could not refresh the OIDC signing keys");
    }
  }

  private kids(s: JwkSet): string {
    return s.keys.map((k) => k.kid ?? "(no kid)").join(",");
  }

  private async discover(): Promise<void> {
    const url = `${noSlash(this.o.issuerUrl)}/.well-known/openid-configuration`;
    const doc = await this.getJson(url);
    const { issuer, jwks_uri } = (typeof doc === "object" && doc !== null ? doc : {}) as Record<string, unknown>;
    if (typeof issuer !== "string" || noSlash(issuer) !== noSlash(this.o.issuerUrl)) {
      // a configuration error, not a transient one: say exactly what differs
      this.log.error(
        { discovery: url, issuer, configured: this.o.issuerUrl },
        "OIDC discovery names another issuer than OIDC_ISSUER_URL; its keys are not used and every token is refused",
      );
      throw new Error(`discovery issuer ${JSON.stringify(issuer)} is not ${this.o.issuerUrl}`);
    }
    if (typeof jwks_uri !== "string" || !/^https?:\/\//.test(jwks_uri) || !URL.canParse(jwks_uri)) {
      throw new Error(`discovery at ${url} has no valid jwks_uri`);
    }
    // the keys are what every token is trusted by: never fetched over less than the issuer itself
    if (this.o.issuerUrl.startsWith("https:") && !jwks_uri.startsWith("https:")) {
      this.log.error({ discovery: url, jwks_uri }, "OIDC discovery names a jwks_uri that is not https for an https issuer; refused");
      throw new Error(`jwks_uri ${jwks_uri} is not https`);
    }
    this.issuer = issuer;
    this.jwksUri = jwks_uri;
  }

  /** GET a JSON document, within the timeout and the size cap. */
  private async getJson(url: string): Promise<unknown> {
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.o.fetchTimeoutMs)]);
    // no redirects: a redirect is where a man in the middle would hand out keys of his own
    const res = await fetch(url, { signal, redirect: "error", headers: { accept: "application/json" } });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`GET ${url}: HTTP ${res.status}`);
    }
    if (Number(res.headers.get("content-length") ?? 0) > MAX_BODY_BYTES) {
      await res.body?.cancel();
      throw new Error(`GET ${url}: larger than ${MAX_BODY_BYTES} bytes`);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (res.body) {
      for await (const chunk of res.body) {
        size += chunk.byteLength;
        // leaving the loop early cancels the stream
        if (size > MAX_BODY_BYTES) throw new Error(`GET ${url}: larger than ${MAX_BODY_BYTES} bytes`);
        chunks.push(chunk);
      }
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      throw new Error(`GET ${url}: not JSON`);
    }
  }
}
