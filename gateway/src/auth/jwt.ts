// Synchronous verification of an OIDC bearer JWT against a set of public keys
// (JWKS), with node:crypto only: the caller is a uWebSockets.js upgrade
// handler, which must answer before it returns, so jose's async jwtVerify
// cannot be used there. Also turns a JWKS document into that key set. Nothing
// here throws on hostile input: every problem is a typed failure.
import { constants, createPublicKey, type JsonWebKey, KeyObject, verify as cryptoVerify } from "node:crypto";
import { isCredentialPrincipal, isPrincipal } from "@radiant/wire";

export type JwtFailure =
  | "malformed"
  | "unsupported_alg"
  | "unknown_kid"
  | "bad_signature"
  | "expired"
  | "not_yet_valid"
  | "bad_issuer"
  | "bad_audience"
  | "bad_subject"
  | "no_keys";

export type JwtOk = { ok: true; principal: string; tenant?: string; expS?: number };
export type JwtResult =
  | JwtOk
  /** reason: a short English sentence that may be shown to the client */
  | { ok: false; code: JwtFailure; reason: string };

export const ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"] as const;
export type Alg = (typeof ALGS)[number];

/** One verification key from a JWKS, with the algorithms it may verify. */
export interface VerifyKey {
  readonly kid: string | undefined;
  readonly key: KeyObject;
  readonly algs: ReadonlySet<Alg>;
}

/** Keys by kid, and all of them (for tokens without a kid). */
export interface JwkSet {
  readonly keys: readonly VerifyKey[];
  readonly byKid: ReadonlyMap<string, readonly VerifyKey[]>;
}

export interface VerifyOptions {
  /** `iss` must equal this exactly */
  issuer: string;
  /** `aud` (a string or an array) must contain this */
  audience: string;
  /** claim whose string value is the tenant (absent: no tenant) */
  tenantClaim?: string;
  clockSkewS: number;
  nowS: number;
}

/** Bigger tokens are refused unread: a header line carries them, and parsing is the attack surface. */
export const MAX_TOKEN_CHARS = 16 * 1024;
/** A JWKS with more keys than this is someone's mistake or an attack; the rest are skipped. */
export const MAX_JWKS_KEYS = 64;
/** Weaker RSA keys are refused (RFC 7518 §3.3 requires at least 2048 bits). */
const MIN_RSA_BITS = 2048;

const JWT_RE = /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Three base64url segments with a JSON-object header, within the size limit. The signature may be empty so that `alg: none` is named as such. */
export function looksLikeJwt(s: string): boolean {
  return typeof s === "string" && s.length <= MAX_TOKEN_CHARS && JWT_RE.test(s);
}

const EMPTY: JwkSet = { keys: [], byKid: new Map() };
export const emptyJwkSet = (): JwkSet => EMPTY;

type JwtFail = Extract<JwtResult, { ok: false }>;
const fail = (code: JwtFailure, reason: string): JwtFail => ({ ok: false, code, reason });

/**
 * Decode one base64url segment, refusing non-canonical spellings: the last
 * character of a segment has unused bits, and without this check a token with
 * them flipped would still verify (a different string, the same signature).
 */
function b64url(seg: string): Buffer | undefined {
  if (seg.length % 4 === 1) return undefined;
  const buf = Buffer.from(seg, "base64url");
  return buf.toString("base64url") === seg ? buf : undefined;
}

type Json = Record<string, unknown>;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The JSON object a segment encodes, or undefined for anything else (bad base64url, bad UTF-8, not JSON, not an object). */
export function parseSegment(seg: string): Json | undefined {
  const buf = b64url(seg);
  if (!buf) return undefined;
  let text: string;
  try {
    text = utf8.decode(buf);
  } catch {
    return undefined;
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
}

export interface JwtHeader {
  alg: string;
  kid?: string;
}

/** The protected header of a token that looksLikeJwt, or why not. */
export function parseHeader(token: string): JwtHeader | { error: string } {
  if (!looksLikeJwt(token)) return { error: "not a JWT" };
  const h = parseSegment(token.slice(0, token.indexOf(".")));
  if (!h) return { error: "token header is not a JSON object" };
  if (typeof h.alg !== "string") return { error: "token header has no alg" };
  if (h.kid !== undefined && typeof h.kid !== "string") return { error: "token kid is not a string" };
  // RFC 7515 §4.1.11: extensions the recipient does not understand must be refused; we understand none
  if (h.crit !== undefined) return { error: "token has critical header extensions" };
  return h.kid === undefined ? { alg: h.alg } : { alg: h.alg, kid: h.kid };
}

const isAlg = (a: unknown): a is Alg => typeof a === "string" && (ALGS as readonly string[]).includes(a);

const RSA_ALGS: readonly Alg[] = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];
/** JWK crv → the algorithm and the curve's name as node:crypto reports it */
const CURVES: Record<string, { alg: Alg; kty: "EC" | "OKP"; node: string }> = {
  "P-256": { alg: "ES256", kty: "EC", node: "prime256v1" },
  "P-384": { alg: "ES384", kty: "EC", node: "secp384r1" },
  "P-521": { alg: "ES512", kty: "EC", node: "secp521r1" },
  Ed25519: { alg: "EdDSA", kty: "OKP", node: "ed25519" },
};

const str = (v: unknown): v is string => typeof v === "string" && v.length > 0;

/**
 * One JWK as a verification key, or why it is skipped. Only the public
 * members are imported, so a JWK that also carries private parts (a
 * misconfigured issuer) cannot turn into anything else.
 */
export function importJwk(jwk: unknown): { key: VerifyKey } | { skip: string } {
  if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk)) return { skip: "not an object" };
  const j = jwk as Json;
  const kid = j.kid;
  if (kid !== undefined && typeof kid !== "string") return { skip: "kid is not a string" };
  if (j.use !== undefined && j.use !== "sig") return { skip: `use is ${JSON.stringify(j.use)}, not "sig"` };
  if (j.key_ops !== undefined && !(Array.isArray(j.key_ops) && j.key_ops.includes("verify"))) return { skip: "key_ops does not allow verify" };
  if (j.alg !== undefined && !isAlg(j.alg)) return { skip: `alg ${JSON.stringify(j.alg)} is not supported` };
  let pub: JsonWebKey;
  let algs: readonly Alg[];
  let curve: string | undefined;
  if (j.kty === "RSA") {
    if (!str(j.n) || !str(j.e)) return { skip: "RSA key without n or e" };
    pub = { kty: "RSA", n: j.n, e: j.e };
    algs = RSA_ALGS;
  } else if (j.kty === "EC" || j.kty === "OKP") {
    const c = typeof j.crv === "string" ? CURVES[j.crv] : undefined;
    if (!c || c.kty !== j.kty) return { skip: `${j.kty} curve ${JSON.stringify(j.crv)} is not supported` };
    if (!str(j.x) || (j.kty === "EC" && !str(j.y))) return { skip: `${j.kty} key without its coordinates` };
    pub = j.kty === "EC" ? { kty: "EC", crv: j.crv as string, x: j.x, y: j.y as string } : { kty: "OKP", crv: j.crv as string, x: j.x };
    algs = [c.alg];
    curve = c.node;
  } else return { skip: `kty ${JSON.stringify(j.kty)} is not supported` };
  if (j.alg !== undefined) {
    if (!algs.includes(j.alg as Alg)) return { skip: `alg ${j.alg} does not fit a ${j.kty} key` };
    algs = [j.alg as Alg];
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pub, format: "jwk" });
  } catch (e) {
    return { skip: `not a valid key (${(e as Error).message})` };
  }
  // node validated the encoding; check that what it built is what the JWK claimed
  const d = key.asymmetricKeyDetails ?? {};
  if (j.kty === "RSA") {
    if (key.asymmetricKeyType !== "rsa" || (d.modulusLength ?? 0) < MIN_RSA_BITS) return { skip: `RSA key shorter than ${MIN_RSA_BITS} bits` };
  } else if (curve === "ed25519" ? key.asymmetricKeyType !== "ed25519" : key.asymmetricKeyType !== "ec" || d.namedCurve !== curve) {
    return { skip: "key does not match its crv" };
  }
  return { key: { kid, key, algs: new Set(algs) } };
}

/** The usable keys of a JWKS document; each entry skipped is reported (with its index and kid) through `skipped`. */
export function parseJwks(doc: unknown, skipped: (why: string) => void): JwkSet {
  const list = typeof doc === "object" && doc !== null ? (doc as Json).keys : undefined;
  if (!Array.isArray(list)) {
    skipped("the JWKS has no keys array");
    return EMPTY;
  }
  const keys: VerifyKey[] = [];
  const byKid = new Map<string, VerifyKey[]>();
  if (list.length > MAX_JWKS_KEYS) skipped(`keys beyond the first ${MAX_JWKS_KEYS}: ${list.length - MAX_JWKS_KEYS} skipped`);
  for (const [i, jwk] of list.slice(0, MAX_JWKS_KEYS).entries()) {
    const r = importJwk(jwk);
    if ("skip" in r) {
      const kid = (jwk as Json | null)?.kid;
      skipped(`key ${i}${typeof kid === "string" ? ` (kid ${JSON.stringify(kid.slice(0, 100))})` : ""}: ${r.skip}`);
      continue;
    }
    keys.push(r.key);
    if (r.key.kid !== undefined) {
      const same = byKid.get(r.key.kid);
      if (same) same.push(r.key);
      else byKid.set(r.key.kid, [r.key]);
    }
  }
  return { keys, byKid };
}

const DIGEST: Record<string, { hash: string; bytes: number }> = {
  "256": { hash: "sha256", bytes: 32 },
  "384": { hash: "sha384", bytes: 48 },
  "512": { hash: "sha512", bytes: 64 },
};
/** ieee-p1363 signature length (r‖s) per ES alg: a wrong length is refused before OpenSSL sees it */
const EC_SIG_BYTES: Partial<Record<Alg, number>> = { ES256: 64, ES384: 96, ES512: 132 };

function signatureOk(alg: Alg, key: KeyObject, data: Buffer, sig: Buffer): boolean {
  try {
    if (alg === "EdDSA") return cryptoVerify(null, data, key, sig);
    const dg = DIGEST[alg.slice(2)]!;
    if (alg.startsWith("ES")) return sig.length === EC_SIG_BYTES[alg] && cryptoVerify(dg.hash, data, { key, dsaEncoding: "ieee-p1363" }, sig);
    if (alg.startsWith("PS")) return cryptoVerify(dg.hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: dg.bytes }, sig);
    return cryptoVerify(dg.hash, data, { key, padding: constants.RSA_PKCS1_PADDING }, sig);
  } catch {
    // OpenSSL throws on some malformed signatures; to the client it is just a bad signature
    return false;
  }
}

/** The key that must have signed a token with this header, or why there is none. */
function keyFor(keys: JwkSet, alg: Alg, kid: string | undefined): KeyObject | JwtFail {
  if (kid !== undefined) {
    const named = keys.byKid.get(kid);
    if (!named) return fail("unknown_kid", "token signed with an unknown key");
    const k = named.find((v) => v.algs.has(alg));
    return k ? k.key : fail("unsupported_alg", `token key does not allow alg ${alg}`);
  }
  const fits = keys.keys.filter((v) => v.algs.has(alg));
  if (fits.length === 1) return fits[0]!.key;
  return fail("unknown_kid", fits.length ? "token has no kid and the issuer has several keys" : `token has no kid and the issuer has no ${alg} key`);
}

const isTime = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** Verify a bearer JWT: signature by a key of `keys`, then the claims. Never throws. */
export function verifyJwt(token: string, keys: JwkSet, opts: VerifyOptions): JwtResult {
  const header = parseHeader(token);
  if ("error" in header) return fail("malformed", header.error);
  const { alg, kid } = header;
  if (!isAlg(alg)) {
    // the alg is the client's text: it is not echoed back
    const why =
      alg === "none" ? "unsigned tokens are not accepted" : /^HS\d+$/.test(alg) ? "HMAC-signed tokens are not accepted" : "token algorithm not supported";
    return fail("unsupported_alg", why);
  }
  if (keys.keys.length === 0) return fail("no_keys", "no signing keys from the identity provider yet");
  const key = keyFor(keys, alg, kid);
  if (!(key instanceof KeyObject)) return key;
  const dot2 = token.lastIndexOf(".");
  const sig = b64url(token.slice(dot2 + 1));
  if (!sig || !signatureOk(alg, key, Buffer.from(token.slice(0, dot2), "latin1"), sig)) return fail("bad_signature", "bad token signature");
  const p = parseSegment(token.slice(token.indexOf(".") + 1, dot2));
  if (!p) return fail("malformed", "token payload is not a JSON object");

  const { nowS, clockSkewS: skew } = opts;
  if (!isTime(p.exp)) return fail("malformed", "token has no expiry (exp)");
  if (p.exp + skew <= nowS) return fail("expired", "token expired");
  if (p.nbf !== undefined && !isTime(p.nbf)) return fail("malformed", "token nbf is not a number");
  if (p.iat !== undefined && !isTime(p.iat)) return fail("malformed", "token iat is not a number");
  if (p.nbf !== undefined && p.nbf > nowS + skew) return fail("not_yet_valid", "token not yet valid");
  if (p.iat !== undefined && p.iat > nowS + skew) return fail("not_yet_valid", "token issued in the future");
  if (p.iss !== opts.issuer) return fail("bad_issuer", "wrong issuer");
  const aud = p.aud;
  if (!(aud === opts.audience || (Array.isArray(aud) && aud.includes(opts.audience)))) return fail("bad_audience", "wrong audience");
  if (!isCredentialPrincipal(p.sub)) return fail("bad_subject", "token subject (sub) is missing or not a valid principal");
  const ok: JwtOk = { ok: true, principal: p.sub, expS: p.exp };
  if (opts.tenantClaim !== undefined && Object.hasOwn(p, opts.tenantClaim)) {
    const tenant = p[opts.tenantClaim];
    if (!isPrincipal(tenant)) return fail("bad_subject", `token claim ${opts.tenantClaim} is not a valid tenant`);
    ok.tenant = tenant;
  }
  return ok;
}
