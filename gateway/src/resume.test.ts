import t from "tap";
import { jwtVerify } from "jose";
import { ResumeTokenError, ResumeTokens } from "./resume.js";

const tokens = new ResumeTokens("a-test-secret-of-some-length", 3600);

t.test("a token is a standard HS256 JWT that jose verifies", async (t) => {
  const token = tokens.issue({ sid: "abcdefgh12345678", principal: "alice", epoch: "e1" });
  const { payload, protectedHeader } = await jwtVerify(token, new TextEncoder().encode("a-test-secret-of-some-length"));
  t.equal(protectedHeader.alg, "HS256");
  t.match(payload, { sid: "abcdefgh12345678", sub: "alice", ep: "e1" });
  t.ok(payload.exp! - payload.iat! === 3600);
  t.same(tokens.verify(token, "alice"), { sid: "abcdefgh12345678", principal: "alice", epoch: "e1" });
});

t.test("refused: forged, tampered, expired, another principal, not a JWT", async (t) => {
  const token = tokens.issue({ sid: "abcdefgh12345678", principal: "alice", epoch: "e1" });
  const forged = new ResumeTokens("another-secret-entirely", 3600).issue({ sid: "abcdefgh12345678", principal: "alice", epoch: "e1" });
  const [h, , s] = token.split(".");
  const tampered = `${h}.${Buffer.from(JSON.stringify({ sid: "other-session-000", sub: "alice", ep: "e1", exp: 9e9 })).toString("base64url")}.${s}`;
  const old = tokens.issue({ sid: "abcdefgh12345678", principal: "alice", epoch: "e1" }, Math.floor(Date.now() / 1000) - 7200);
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
