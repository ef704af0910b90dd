// The synchronous JWT verifier against tokens that jose signs: every supported
// algorithm is accepted, every kind of bad token refused with its code, and
// (property) no string and no mutation of a valid token throws or passes.
import t from "tap";
import { exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from "jose";
import fc from "fast-check";
import { createHmac, createPublicKey, type JsonWebKey } from "node:crypto";
import { fuzzOptions, noThrow } from "@radiant/infra/fuzz-settings";
import { ALGS, type Alg, type JwkSet, type JwtFailure, looksLikeJwt, parseJwks, verifyJwt } from "./jwt.js";

const ISS = "https://idp.example.com/";
const AUD = "radiant";
const NOW = 1_900_000_000;
const opts = { issuer: ISS, audience: AUD, clockSkewS: 60, nowS: NOW };

type Signer = { alg: Alg; kid: string; privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"]; jwk: JWK };
const signers = new Map<Alg, Signer>();
for (const alg of ALGS) {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  const jwk = { ...(await exportJWK(publicKey)), kid: `k-${alg}`, use: "sig" };
  // half the keys name their alg, as issuers may or may not
  if (alg.endsWith("256")) jwk.alg = alg;
  signers.set(alg, { alg, kid: jwk.kid, privateKey, jwk });
}
const skipped: string[] = [];
const keys: JwkSet = parseJwks(
  {
    keys: [
      ...[...signers.values()].map((s) => s.jwk),
      { kty: "oct", k: Buffer.from("a-shared-secret").toString("base64url"), kid: "hmac" },
      { ...signers.get("ES384")!.jwk, kid: "enc", use: "enc" },
      { ...signers.get("ES384")!.jwk, kid: "wrong-curve", crv: "P-256" },
      { ...signers.get("RS256")!.jwk, kid: "wrong-alg", alg: "ES256" },
      { kty: "RSA", kid: "broken", n: "AQAB", e: "AQAB" },
      "not a key",
    ],
  },
  (why) => skipped.push(why),
);

const claims = { iss: ISS, aud: AUD, sub: "alice", exp: NOW + 300, iat: NOW - 10 };
function sign(alg: Alg, payload: Record<string, unknown> = claims, header: Record<string, unknown> = {}): Promise<string> {
  const s = signers.get(alg)!;
  return new SignJWT(payload).setProtectedHeader({ alg, kid: s.kid, ...header }).sign(s.privateKey);
}
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");

t.test("the JWKS import keeps the good keys and skips the rest, saying why", async (t) => {
  t.equal(keys.keys.length, ALGS.length);
  t.equal(skipped.length, 6, skipped.join("\n"));
  t.match(skipped.join("\n"), /"oct".*not supported[\s\S]*"enc"[\s\S]*"wrong-curve".*not a valid key[\s\S]*does not fit[\s\S]*RSA key[\s\S]*not an object/);
  t.same(parseJwks({ nokeys: 1 }, () => {}).keys, []);
});

t.test("every supported algorithm verifies, with and without a kid", async (t) => {
  for (const alg of ALGS) {
    const r = verifyJwt(await sign(alg), keys, opts);
    t.same(r, { ok: true, principal: "alice", expS: NOW + 300 }, alg);
    // without a kid: the one key for this alg (RSA keys without alg allow all RSA algs: RS384 has several)
    const bare = await new SignJWT(claims).setProtectedHeader({ alg }).sign(signers.get(alg)!.privateKey);
    const only = keys.keys.filter((k) => k.algs.has(alg)).length === 1;
    t.match(verifyJwt(bare, keys, opts), only ? { ok: true } : { ok: false, code: "unknown_kid" }, `${alg} without kid`);
  }
  t.match(verifyJwt(await sign("ES256", { ...claims, aud: ["other", AUD] }), keys, opts), { ok: true }, "aud as an array");
  t.match(verifyJwt(await sign("ES256", { ...claims, exp: NOW - 30, nbf: NOW + 30 }), keys, opts), { ok: true }, "within the clock skew");
  // a JWKS of one key: a token without kid needs none
  const rsa = await generateKeyPair("RS256", { extractable: true });
  const one = parseJwks({ keys: [await exportJWK(rsa.publicKey)] }, () => {});
  const priv = await exportJWK(rsa.privateKey);
  for (const alg of ["RS256", "PS512"] as const) {
    const bare = await new SignJWT(claims).setProtectedHeader({ alg }).sign(await importJWK(priv, alg));
    t.match(verifyJwt(bare, one, opts), { ok: true }, `${alg} without kid, one key`);
  }
  const tenant = verifyJwt(await sign("EdDSA", { ...claims, org: "acme" }), keys, { ...opts, tenantClaim: "org" });
  t.same(tenant, { ok: true, principal: "alice", tenant: "acme", expS: NOW + 300 });
});

t.test("refused, each with its code and a clear reason", async (t) => {
  const good = await sign("RS256");
  const [h, p, s] = good.split(".") as [string, string, string];
  const rsaPem = createPublicKey({ key: signers.get("RS256")!.jwk as JsonWebKey, format: "jwk" }).export({ type: "spki", format: "pem" });
  const hs256 = (kid: string, secret: string | Buffer) => {
    const hp = `${b64({ alg: "HS256", kid })}.${b64(claims)}`;
    return `${hp}.${createHmac("sha256", secret).update(hp).digest("base64url")}`;
  };
  const flip = (seg: string, i: number) => seg.slice(0, i) + (seg[i] === "A" ? "B" : "A") + seg.slice(i + 1);
  const ec = signers.get("ES256")!;
  const cases: [string, string | Promise<string>, JwtFailure, RegExp][] = [
    ["expired", sign("RS256", { ...claims, exp: NOW - 61 }), "expired", /token expired/],
    ["no exp", sign("RS256", { ...claims, exp: undefined }), "malformed", /no expiry/],
    ["nbf in the future", sign("RS256", { ...claims, nbf: NOW + 61 }), "not_yet_valid", /not yet valid/],
    ["iat in the future", sign("PS256", { ...claims, iat: NOW + 3600 }), "not_yet_valid", /issued in the future/],
    ["wrong iss", sign("ES384", { ...claims, iss: "https://idp.example.com" }), "bad_issuer", /wrong issuer/],
    ["wrong aud", sign("ES512", { ...claims, aud: ["radiant-x"] }), "bad_audience", /wrong audience/],
    ["no aud", sign("ES512", { ...claims, aud: undefined }), "bad_audience", /wrong audience/],
    ["tampered payload", `${h}.${b64({ ...claims, sub: "root" })}.${s}`, "bad_signature", /bad token signature/],
    ["tampered signature", `${h}.${p}.${flip(s, 10)}`, "bad_signature", /bad token signature/],
    ["truncated signature", `${h}.${p}.${s.slice(0, -4)}`, "bad_signature", /bad token signature/],
    ["signature of another key", `${h}.${p}.${(await sign("RS384")).split(".")[2]}`, "bad_signature", /bad token signature/],
    ["alg none", `${b64({ alg: "none" })}.${b64(claims)}.`, "unsupported_alg", /unsigned/],
    ["alg none, kid of a key", `${b64({ alg: "none", kid: "k-RS256" })}.${b64(claims)}.${s}`, "unsupported_alg", /unsigned/],
    ["HS256 with an oct key in the JWKS", hs256("hmac", "a-shared-secret"), "unsupported_alg", /HMAC/],
    ["HS256 keyed with the RSA public key (alg confusion)", hs256("k-RS256", rsaPem), "unsupported_alg", /HMAC/],
    ["an unknown alg", `${b64({ alg: "ES256K", kid: "k-ES256" })}.${p}.${s}`, "unsupported_alg", /not supported/],
    ["RS256 header naming an EC key", `${b64({ alg: "RS256", kid: ec.kid })}.${p}.${s}`, "unsupported_alg", /does not allow alg RS256/],
    ["ES384 header naming a P-256 key", `${b64({ alg: "ES384", kid: ec.kid })}.${p}.${s}`, "unsupported_alg", /does not allow alg ES384/],
    ["unknown kid", sign("RS256", claims, { kid: "rotated" }), "unknown_kid", /unknown key/],
    ["missing sub", sign("ES256", { ...claims, sub: undefined }), "bad_subject", /sub/],
    ["sub with a newline", sign("ES256", { ...claims, sub: "alice\nadmin" }), "bad_subject", /sub/],
    ["sub too long", sign("ES256", { ...claims, sub: "a".repeat(257) }), "bad_subject", /sub/],
    ["sub not a string", sign("ES256", { ...claims, sub: 42 }), "bad_subject", /sub/],
    ["not a JWT", "Bearer abc", "malformed", /not a JWT/],
    ["empty", "", "malformed", /not a JWT/],
    ["two segments", `${h}.${p}`, "malformed", /not a JWT/],
    ["too long", `${h}.${"A".repeat(16 * 1024)}.${s}`, "malformed", /not a JWT/],
    ["header not JSON", `eyJub3Q.${p}.${s}`, "malformed", /header/],
    ["header an array", `${b64([1])}.${p}.${s}`, "malformed", /not a JWT|header/],
    ["critical extensions", `${b64({ alg: "RS256", kid: "k-RS256", crit: ["b64"], b64: false })}.${p}.${s}`, "malformed", /critical/],
    ["kid not a string", `${b64({ alg: "RS256", kid: 7 })}.${p}.${s}`, "malformed", /kid/],
  ];
  for (const [name, tok, code, reason] of cases) {
    const token = await tok;
    const r = verifyJwt(token, keys, opts);
    t.match(r, { ok: false, code, reason }, name);
  }
  const ed = await sign("EdDSA", { ...claims, org: "a\nb" });
  t.match(verifyJwt(ed, keys, { ...opts, tenantClaim: "org" }), { ok: false, code: "bad_subject", reason: /org/ }, "tenant claim not a principal");
  t.match(
    verifyJwt(
      good,
      parseJwks({ keys: [] }, () => {}),
      opts,
    ),
    { ok: false, code: "no_keys" },
    "no keys",
  );
});

t.test("looksLikeJwt", async (t) => {
  t.ok(looksLikeJwt(await sign("ES256")));
  for (const s of ["", "eyJ", "eyJ.a", "abc.def.ghi", "eyJa.b.c.d", "eyJa b.c.d", "eyJa.b+c.d", `eyJ.${"a".repeat(16 * 1024)}.c`])
    t.notOk(looksLikeJwt(s), s.slice(0, 20));
});

t.test("property: no string and no mutation of a valid token throws or verifies", async (t) => {
  const tokens = await Promise.all((["RS256", "PS384", "ES256", "ES512", "EdDSA"] as const).map((a) => sign(a)));
  const check = (s: string) => {
    const r = noThrow(() => verifyJwt(s, keys, { ...opts, tenantClaim: "org" }));
    return tokens.includes(s) ? r.ok : !r.ok;
  };
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 300 }), (s) => check(s)),
    fuzzOptions(),
  );
  const b64char = fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \n\u00e9");
  const mutation = fc.oneof(
    fc.record({ op: fc.constant("set" as const), at: fc.nat(), c: b64char }),
    fc.record({ op: fc.constant("insert" as const), at: fc.nat(), c: b64char }),
    fc.record({ op: fc.constant("delete" as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ op: fc.constant("swap" as const), at: fc.nat(), n: fc.nat() }),
  );
  type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;
  const apply = (s: string, m: Mutation): string => {
    if (s.length === 0) return s;
    const i = m.at % s.length;
    if (m.op === "set") return s.slice(0, i) + m.c + s.slice(i + 1);
    if (m.op === "insert") return s.slice(0, i) + m.c + s.slice(i);
    if (m.op === "delete") return s.slice(0, i) + s.slice(i + m.n);
    const j = m.n % s.length;
    const a = [...s];
    [a[i], a[j]] = [a[j]!, a[i]!];
    return a.join("");
  };
  fc.assert(
    fc.property(fc.constantFrom(...tokens), fc.array(mutation, { minLength: 1, maxLength: 4 }), (tok, ms) => check(ms.reduce(apply, tok))),
    fuzzOptions(),
  );
  // the last signature character has unused bits: every other spelling of it is refused
  for (const tok of tokens) {
    const wrong = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"].filter((c) => !check(tok.slice(0, -1) + c));
    t.same(wrong, [], `${tok.slice(0, 12)}…: no other last character verifies`);
  }
});
