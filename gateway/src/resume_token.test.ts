import t from "tap";
import { jwtVerify } from "jose";
import { createHmac } from "node:crypto";
import { makeSessionId } from "@radiant/wire";
import { ResumeTokenError, ResumeTokens } from "./resume_token.js";

const SID = makeSessionId("abcdef", new Uint8Array(16).fill(1));
const OTHER = makeSessionId("abcdef", new Uint8Array(16).fill(2));

const tokens = new ResumeTokens("a-test-secret-of-some-length", 3600);

t.test("a token is a standard HS256 JWT that jose verifies", async (t) => {
  const token = tokens.issue({ sid: SID, principal: "alice", epoch: "e1" });
  const { payload, protectedHeader } = await jwtVerify(token, new TextEncoder().encode("a-test-secret-of-some-length"));
  t.equal(protectedHeader.alg, "HS256");
  t.match(payload, { sid: SID, sub: "alice", ep: "e1" });
  t.ok(payload.exp! - payload.iat! === 3600);
  t.same(tokens.verify(token, "alice"), { sid: SID, principal: "alice", epoch: "e1" });
});

t.test("refused: forged, tampered, expired, another principal, not a JWT", async (t) => {
  const token = tokens.issue({ sid: SID, principal: "alice", epoch: "e1" });
  const forged = new ResumeTokens("another-secret-entirely", 3600).issue({ sid: SID, principal: "alice", epoch: "e1" });
  const [h, , s] = token.split(".");
  const tampered = `${h}.${Buffer.from(JSON.stringify({ sid: OTHER, sub: "alice", ep: "e1", exp: 9e9 })).toString("base64url")}.${s}`;
  const old = tokens.issue({ sid: SID, principal: "alice", epoch: "e1" }, Math.floor(Date.now() / 1000) - 7200);
  const cases: [string, string, RegExp][] = [
    [forged, "alice", /bad signature/],
    [tampered, "alice", /bad signature/],
    [old, "alice", /expired/],
    [token, "mallory", /another principal/],
    ["nope", "alice", /not a JWT/],
  ];
  for (const [tok, who, why] of cases) {
    try {
      tokens.verify(tok, who);
      t.fail(`accepted: ${why}`);
    } catch (e) {
      t.ok(e instanceof ResumeTokenError && why.test(e.message), `${(e as Error).message}`);
    }
  }
});

t.test("a correctly signed token whose sid is not a session id is refused (wildcards, dots, spaces, empty, over-long)", async (t) => {
  // what an attacker holding the secret (the old default) could sign
  const sign = (claims: Record<string, unknown>) => {
    const h = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url");
    const p = Buffer.from(JSON.stringify({ sub: "alice", ep: "e1", exp: Math.floor(Date.now() / 1000) + 60, ...claims })).toString("base64url");
    return `${h}.${p}.${createHmac("sha256", "a-test-secret-of-some-length").update(`${h}.${p}`).digest("base64url")}`;
  };
  t.same(tokens.verify(sign({ sid: SID }), "alice").sid, SID, "the signer above makes valid tokens");
  for (const sid of ["*", ">", "*.*", "a b", "abc.def", "", "A".repeat(29), "A".repeat(4096), `${SID.slice(0, 27)}*`, 42, null, { a: 1 }]) {
    let err: unknown;
    try {
      tokens.verify(sign({ sid }), "alice");
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof ResumeTokenError && /session id is malformed|missing claims/.test(err.message), `sid ${JSON.stringify(sid).slice(0, 40)}`);
  }
});
