// The authenticator's decisions without a stack: which credential counts
// (and where a client puts it), what is ignored when nothing is required, a
// forwarded certificate only from a trusted peer, and that no request —
// arbitrary headers and queries — makes it throw.
import fc from "fast-check";
import t from "tap";
import { pino } from "pino";
import { fuzzOptions, noThrow } from "@radiant/infra/fuzz-settings";
import { ApiKeys, makeKey } from "./api_keys.js";
import { type AuthRequest, Authenticator } from "./authenticator.js";
import { bearerSubprotocol, credentialOf, withoutBearer } from "./credentials.js";
import { TrustedProxies } from "./trusted_proxies.js";

/** A key store holding the given records, as if read from KV. */
function keysWith(...records: ReturnType<typeof makeKey>["record"][]): ApiKeys {
  const keys = new ApiKeys({} as never, pino({ level: "silent" }));
  (keys as unknown as { swap(m: Map<string, unknown>): void }).swap(new Map(records.map((r) => [r.id, r])));
  return keys;
}

const req = (headers: Record<string, string> = {}, query: Record<string, string> = {}, peer = "203.0.113.9"): AuthRequest => ({
  header: (h) => headers[h] ?? "",
  query: (q) => query[q] ?? "",
  peer: () => peer,
});

const alice = makeKey({ principal: "alice", tenant: "acme" });
const keys = keysWith(alice.record);
const trusted = new TrustedProxies("10.0.0.0/8");
const required = new Authenticator({ required: true, keys, trustedProxies: trusted });
const optional = new Authenticator({ required: false, keys, trustedProxies: trusted });

t.test("where each client puts its key: every place works, the first found counts", async (t) => {
  const places: [string, AuthRequest][] = [
    ["Authorization: Bearer", req({ authorization: `Bearer ${alice.key}` })],
    ["authorization: bearer (any case)", req({ authorization: `bEaReR   ${alice.key}` })],
    ["x-api-key", req({ "x-api-key": alice.key })],
    ["x-goog-api-key", req({ "x-goog-api-key": alice.key })],
    ["?key=", req({}, { key: alice.key })],
    ["?token=", req({}, { token: alice.key })],
    ["subprotocol", req({ "sec-websocket-protocol": `radiant, radiant.bearer.${alice.key}` })],
  ];
  for (const [where, r] of places) {
    const a = required.authenticate(r);
    t.match(a, { ok: true, who: { principal: "alice", tenant: "acme", via: "key", key: { id: alice.record.id } } }, where);
  }
  t.equal(credentialOf(req({ authorization: "Basic dXNlcjpwdw==", "x-api-key": "k" }))?.from, "x-api-key", "another scheme is not ours");
  t.equal(credentialOf(req({ authorization: "Bearer a", "x-api-key": "b" }))?.value, "a", "Authorization first");
  t.equal(bearerSubprotocol("mcp, radiant.bearer.abc.def"), "abc.def");
  t.equal(withoutBearer("mcp, radiant.bearer.abc"), "mcp");
});

t.test("refused with a reason: a wrong, tampered or unknown key; a foreign credential when one is required; none", async (t) => {
  const other = makeKey({ principal: "mallory" });
  const cases: [string, AuthRequest, RegExp][] = [
    ["tampered secret", req({ "x-api-key": `${alice.key.slice(0, -2)}xx` }), /unknown or revoked/],
    ["a key never stored", req({ "x-api-key": other.key }), /unknown or revoked/],
    ["a prefix only", req({ "x-api-key": "rad_" }), /unknown or revoked/],
    ["an SDK's placeholder", req({ authorization: "Bearer sk-not-needed" }), /neither a RADIANT API key nor an OIDC token/],
    ["nothing", req(), /a credential is required/],
    ["too long", req({ "x-api-key": "x".repeat(9000) }), /longer than/],
  ];
  for (const [what, r, reason] of cases) t.match(required.authenticate(r), { ok: false, status: "401 Unauthorized", reason }, what);
});

t.test("nothing required: no credential and an SDK's placeholder are anonymous; a key of ours that is wrong is still refused", async (t) => {
  t.match(optional.authenticate(req()), { ok: true, who: { principal: "anonymous", via: "anonymous" } });
  t.match(optional.authenticate(req({ authorization: "Bearer not-needed" })), { ok: true, who: { principal: "anonymous" } });
  t.match(optional.authenticate(req({ "x-api-key": `${alice.key.slice(0, -2)}xx` })), { ok: false, reason: /unknown or revoked/ });
});

t.test("a forwarded client certificate counts only from a trusted proxy", async (t) => {
  const xfcc = { "x-forwarded-client-cert": 'Hash=ab;Subject="CN=svc-a,O=Example";URI=spiffe://example/svc-a' };
  t.match(required.authenticate(req(xfcc, {}, "10.1.2.3")), { ok: true, who: { principal: "svc-a", via: "cert" } }, "trusted peer");
  t.match(
    required.authenticate(req(xfcc, {}, "0000:0000:0000:0000:0000:ffff:0a01:0203")),
    { ok: true, who: { principal: "svc-a" } },
    "the same peer as uWS spells it on a dual-stack port",
  );
  t.match(required.authenticate(req(xfcc, {}, "203.0.113.9")), { ok: false, reason: /a credential is required/ }, "anyone else: the header is ignored");
  t.match(required.authenticate(req({ "x-forwarded-client-cert": "garbage;;" }, {}, "10.1.2.3")), { ok: false, reason: /X-Forwarded-Client-Cert/ });
  t.match(
    required.authenticate(req({ ...xfcc, authorization: `Bearer ${alice.key}` }, {}, "10.1.2.3")),
    { ok: true, who: { principal: "alice" } },
    "a bearer credential beside it wins",
  );
});

t.test("keys not loaded yet: 503, retry (not 401: the key may well be good)", async (t) => {
  const loading = new ApiKeys({} as never, pino({ level: "silent" }));
  const a = new Authenticator({ required: true, keys: loading, trustedProxies: trusted });
  t.match(a.authenticate(req({ "x-api-key": alice.key })), { ok: false, status: "503 Service Unavailable", code: "keys_loading" });
});

t.test("arbitrary headers and queries never throw", async (t) => {
  const text = fc.oneof(fc.string(), fc.constantFrom(alice.key, `Bearer ${alice.key}`, "Bearer ", "rad_", "radiant.bearer.", "a.b.c", "eyJ.eyJ.x"));
  fc.assert(
    fc.property(
      fc.dictionary(fc.constantFrom("authorization", "x-api-key", "x-goog-api-key", "sec-websocket-protocol", "x-forwarded-client-cert"), text),
      fc.dictionary(fc.constantFrom("key", "token"), text),
      fc.constantFrom("10.0.0.1", "1.2.3.4", "garbage"),
      (h, q, peer) => {
        for (const a of [required, optional]) {
          const r = noThrow(() => a.authenticate(req(h, q, peer)));
          if (r.ok && r.who.via === "key") t.equal(r.who.principal, "alice");
        }
        return true;
      },
    ),
    fuzzOptions(),
  );
});
