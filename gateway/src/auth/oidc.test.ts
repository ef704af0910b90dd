// OidcVerifier against a local issuer (node:http on 127.0.0.1 serving
// discovery and a JWKS made with jose): start-up, key rotation through an
// unknown kid, the refresh rate limit, a discovery naming another issuer, an
// issuer that is down at start, failing refreshes, and the tenant claim.
import t from "tap";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { OidcVerifier, type OidcOptions } from "./oidc.js";

const AUD = "radiant";
/** what these helpers need of a tap test */
type Teardown = { teardown(f: () => unknown): void };

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
async function makeKey(alg: "ES256" | "RS256" | "EdDSA", kid: string): Promise<{ kid: string; alg: string; pair: KeyPair; jwk: JWK }> {
  const pair = await generateKeyPair(alg);
  return { kid, alg, pair, jwk: { ...(await exportJWK(pair.publicKey)), kid, use: "sig" } };
}
const k1 = await makeKey("ES256", "k1");
const k2 = await makeKey("RS256", "k2");
const k3 = await makeKey("EdDSA", "k3");

/** A local OIDC issuer whose answers a test changes as it goes. */
class Issuer {
  readonly server: Server;
  hits = { discovery: 0, jwks: 0 };
  keys: unknown[] = [k1.jwk];
  /** what discovery says the issuer is (default: its own URL) */
  claimedIssuer: string | undefined;
  jwksMode: "ok" | "500" | "huge" | "huge, announced" | "not json" = "ok";
  port = 0;

  constructor() {
    this.server = createServer((req, res) => {
      const send = (status: number, body: string) => res.writeHead(status, { "content-type": "application/json" }).end(body);
      if (req.url === "/.well-known/openid-configuration") {
        this.hits.discovery++;
        return send(200, JSON.stringify({ issuer: this.claimedIssuer ?? this.url, jwks_uri: `${this.url}/jwks` }));
      }
      if (req.url === "/jwks") {
        this.hits.jwks++;
        if (this.jwksMode === "500") return send(500, "{}");
        if (this.jwksMode === "not json") return send(200, "<html>");
        const huge = JSON.stringify({ keys: [k1.jwk], pad: "x".repeat(2 * 1024 * 1024) });
        if (this.jwksMode === "huge, announced") return send(200, huge);
        if (this.jwksMode === "huge") {
          // chunked, no content-length: the cap must hold while reading
          res.writeHead(200, { "content-type": "application/json" });
          res.write(huge.slice(0, 1000));
          return res.end(huge.slice(1000));
        }
        return send(200, JSON.stringify({ keys: this.keys }));
      }
      send(404, "{}");
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async listen(port = 0): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, "127.0.0.1", () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // fetch keeps connections alive; without this close() waits for them
    this.server.closeAllConnections();
    await closed;
  }
}

async function issuer(t: Teardown): Promise<Issuer> {
  const i = await new Issuer().listen();
  t.teardown(() => i.close());
  return i;
}

function verifier(t: Teardown, iss: Issuer | string, more: Partial<OidcOptions> = {}): { v: OidcVerifier; logs: Record<string, unknown>[] } {
  const logs: Record<string, unknown>[] = [];
  const log = pino({ level: "debug" }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const v = new OidcVerifier({ issuerUrl: typeof iss === "string" ? iss : iss.url, audience: AUD, log, ...more });
  t.teardown(() => v.stop());
  return { v, logs };
}

function token(key: { kid: string; alg: string; pair: KeyPair }, iss: string, claims: Record<string, unknown> = {}, kid: string | undefined = key.kid) {
  return new SignJWT({ sub: "alice", iss, aud: AUD, ...claims })
    .setProtectedHeader(kid === undefined ? { alg: key.alg } : { alg: key.alg, kid })
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(key.pair.privateKey);
}

/** Wait until `cond` holds; generous, since retries back off by seconds. */
async function until(cond: () => boolean, ms = 30_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await sleep(25);
  }
  return true;
}

t.test("a token verifies after start(); the configured issuer URL may differ by a trailing slash", async (t) => {
  const i = await issuer(t);
  const { v } = verifier(t, `${i.url}/`);
  t.equal(v.verify(await token(k1, i.url)).ok, false, "before start: no keys");
  await v.start();
  t.equal(v.keyCount, 1);
  const r = v.verify(await token(k1, i.url));
  t.match(r, { ok: true, principal: "alice" });
  t.ok(r.ok && typeof r.expS === "number", "expS");
  t.equal(v.verify(await token(k1, i.url, {}, undefined)).ok, true, "no kid: the only key");
  t.match(v.verify(await token(k1, `${i.url}/`)), { ok: false, code: "bad_issuer" }, "iss must be discovery's issuer exactly");
  t.match(v.verify(await token(k1, i.url, { aud: "other" })), { ok: false, code: "bad_audience", reason: "wrong audience" });
  t.same(i.hits, { discovery: 1, jwks: 1 });
});

t.test("an unknown kid is refused, refreshes the keys, and then verifies (rotation)", async (t) => {
  const i = await issuer(t);
  const { v, logs } = verifier(t, i);
  await v.start();
  i.keys = [k1.jwk, k2.jwk, { kty: "RSA", kid: "junk" }];
  const tok = await token(k2, i.url);
  t.match(v.verify(tok), { ok: false, code: "unknown_kid" });
  await v.refreshed();
  t.equal(v.keyCount, 2, "the malformed entry is skipped");
  t.ok(
    logs.some((l) => l.msg === "OIDC JWKS entry skipped" && /junk/.test(String(l.why))),
    "the skipped entry is logged",
  );
  t.match(v.verify(tok), { ok: true, principal: "alice" });
  t.match(v.verify(await token(k1, i.url)), { ok: true }, "the old key still works");
  // the issuer retires k1
  i.keys = [k2.jwk, k3.jwk];
  const t3 = await token(k3, i.url);
  const { v: v2 } = verifier(t, i, { minRefreshIntervalMs: 0 });
  await v2.start();
  t.match(v2.verify(t3), { ok: true });
  t.match(v2.verify(await token(k1, i.url)), { ok: false, code: "unknown_kid" }, "a retired key is unknown");
});

t.test("a burst of unknown kids makes one JWKS fetch; later ones are rate-limited", async (t) => {
  const i = await issuer(t);
  const { v } = verifier(t, i, { minRefreshIntervalMs: 60_000 });
  await v.start();
  t.equal(i.hits.jwks, 1);
  const codes = new Set<string>();
  for (let n = 0; n < 50; n++) {
    const r = v.verify(await token(k1, i.url, {}, `nope-${n}`));
    codes.add(r.ok ? "ok" : r.code);
  }
  t.same([...codes], ["unknown_kid"]);
  await v.refreshed();
  t.equal(i.hits.jwks, 2, "one refresh for the whole burst");
  for (let n = 0; n < 50; n++) v.verify(await token(k1, i.url, {}, `again-${n}`));
  await v.refreshed(); // resolves at once: no refresh may run now
  t.equal(i.hits.jwks, 2, "rate-limited");
  t.equal(i.hits.discovery, 1, "discovery is not repeated");

  const { v: quick } = verifier(t, i, { minRefreshIntervalMs: 100 });
  await quick.start();
  const before = i.hits.jwks;
  quick.verify(await token(k1, i.url, {}, "nope"));
  await quick.refreshed();
  await sleep(300);
  quick.verify(await token(k1, i.url, {}, "nope"));
  await quick.refreshed();
  t.equal(i.hits.jwks, before + 2, "once the interval has passed, another refresh");
});

t.test("a discovery document naming another issuer: no keys, and a log that says so", async (t) => {
  const i = await issuer(t);
  i.claimedIssuer = "https://idp.elsewhere.example";
  const { v, logs } = verifier(t, i);
  await v.start();
  t.equal(v.keyCount, 0);
  t.match(v.verify(await token(k1, i.claimedIssuer)), { ok: false, code: "no_keys" });
  t.equal(i.hits.jwks, 0, "its JWKS is not fetched");
  const line = logs.find((l) => l.level === 50);
  t.ok(line, "an error line");
  t.match(line, { msg: /another issuer than OIDC_ISSUER_URL/, issuer: "https://idp.elsewhere.example", configured: i.url });
});

t.test("the issuer is down at start: start() resolves, tokens get no_keys, keys appear once it is up", async (t) => {
  const i = new Issuer();
  await i.listen();
  const port = i.port;
  await i.close();
  t.teardown(() => i.close());
  const { v, logs } = verifier(t, `http://127.0.0.1:${port}`, { minRefreshIntervalMs: 60_000 });
  await v.start();
  t.equal(v.keyCount, 0);
  const tok = await token(k1, `http://127.0.0.1:${port}`);
  t.match(v.verify(tok), { ok: false, code: "no_keys", reason: /no signing keys/ });
  t.ok(
    logs.some((l) => l.msg === "could not refresh the OIDC signing keys"),
    "the failure is logged",
  );
  await i.listen(port);
  t.ok(await until(() => v.keyCount > 0), "the background retry finds the keys");
  t.match(v.verify(tok), { ok: true, principal: "alice" });
  t.ok(
    logs.some((l) => l.msg === "no OIDC signing keys yet; retrying"),
    "retries are logged",
  );
});

t.test("a refresh that fails (HTTP error, not JSON, too big, no usable keys) keeps the keys it had", async (t) => {
  const i = await issuer(t);
  const { v, logs } = verifier(t, i, { minRefreshIntervalMs: 0 });
  await v.start();
  const good = await token(k1, i.url);
  for (const mode of ["500", "not json", "huge", "huge, announced", "empty"] as const) {
    if (mode === "empty") {
      i.jwksMode = "ok";
      i.keys = [{ kty: "oct", k: "c2VjcmV0", kid: "hmac" }];
    } else i.jwksMode = mode;
    const hits = i.hits.jwks;
    v.verify(await token(k1, i.url, {}, "unknown"));
    await v.refreshed();
    t.equal(i.hits.jwks, hits + 1, `${mode}: fetched`);
    t.equal(v.keyCount, 1, `${mode}: keys kept`);
    t.match(v.verify(good), { ok: true }, `${mode}: tokens still verify`);
  }
  const errs = logs.filter((l) => l.msg === "could not refresh the OIDC signing keys").map((l) => String(l.err));
  t.match(errs.join("\n"), /HTTP 500[\s\S]*not JSON[\s\S]*larger than 1048576 bytes[\s\S]*larger than 1048576 bytes[\s\S]*no usable signing keys/);
});

t.test("routine refresh picks up new keys without any unknown kid", async (t) => {
  const i = await issuer(t);
  const { v } = verifier(t, i, { refreshEveryMs: 100 });
  await v.start();
  i.keys = [k1.jwk, k3.jwk];
  t.ok(await until(() => v.keyCount === 2), "the new key is loaded");
  v.stop();
  const hits = i.hits.jwks;
  await sleep(300);
  t.equal(i.hits.jwks, hits, "stop() ends the routine refresh");
});

t.test("the tenant claim", async (t) => {
  const i = await issuer(t);
  const { v } = verifier(t, i, { tenantClaim: "org_id" });
  await v.start();
  t.match(v.verify(await token(k1, i.url, { org_id: "acme" })), { ok: true, principal: "alice", tenant: "acme" });
  t.match(v.verify(await token(k1, i.url)), { ok: true, principal: "alice", tenant: undefined }, "absent: no tenant");
  for (const bad of ["", "a\nb", 42, ["acme"], "x".repeat(257)]) {
    t.match(v.verify(await token(k1, i.url, { org_id: bad })), { ok: false, code: "bad_subject", reason: /org_id/ }, JSON.stringify(bad).slice(0, 20));
  }
  const { v: none } = verifier(t, i);
  await none.start();
  t.match(none.verify(await token(k1, i.url, { org_id: "acme" })), { ok: true, tenant: undefined }, "not configured: no tenant");
});

t.test("a verified token is remembered until it expires; a key withdrawn at the next load takes its tokens with it", async (t) => {
  const i = await issuer(t);
  const { v } = verifier(t, i, { minRefreshIntervalMs: 0 });
  await v.start();
  const now = Math.floor(Date.now() / 1000);
  const tok = await token(k1, i.url);
  t.match(v.verify(tok, now), { ok: true });
  t.match(v.verify(tok, now + 1), { ok: true }, "again: from memory");
  t.match(v.verify(tok, now + 300 + 61), { ok: false, code: "expired" }, "past its expiry and the skew it is checked again, and refused");
  t.match(v.verify(tok, now + 2), { ok: true });
  // the issuer withdraws k1; an unknown kid makes the verifier load the keys again
  i.keys = [k2.jwk];
  t.match(v.verify(await token(k3, i.url)), { ok: false, code: "unknown_kid" });
  await v.refreshed();
  t.match(v.verify(tok, now + 3), { ok: false, code: "unknown_kid" }, "its key is gone: so is the token");
});
