// A session keeps no resume token: it makes it again when a frame needs it,
// the same string every time (HS256 is deterministic), and valid.
import t from "tap";
import { makeSessionId } from "@radiant/wire";
import { ANONYMOUS_IDENTITY } from "./auth/authenticator.js";
import { ResumeTokens } from "./resume_token.js";
import { Session, type Transport } from "./session.js";

const tokens = new ResumeTokens("s".repeat(32), 3600);
const transport = { framing: "json", bufferedAmount: () => 0, send: () => true, close: () => {} } as unknown as Transport;

t.test("the token is made from the session's claims, the same each time; a refused resume's new session gets a new one", async (t) => {
  const sid = makeSessionId("homeAA", new Uint8Array(16).fill(1));
  const s = new Session(sid, ANONYMOUS_IDENTITY, { tokens, epoch: "e1" }, transport);
  const once = s.tokenOnce();
  t.equal(s.token, once, "the session frame's token is the frames' token");
  t.equal(s.token, s.token);
  s.forgetToken();
  t.equal(s.token, once, "made again: the same string");
  t.same(tokens.verify(once, ANONYMOUS_IDENTITY.principal), { sid, principal: ANONYMOUS_IDENTITY.principal, epoch: "e1" });
  const other = makeSessionId("homeAA", new Uint8Array(16).fill(2));
  s.rebind(other, { tokens, epoch: "e2" });
  t.not(s.token, once);
  t.same(tokens.verify(s.token, ANONYMOUS_IDENTITY.principal), { sid: other, principal: ANONYMOUS_IDENTITY.principal, epoch: "e2" });
});

t.test("many active sessions: each finds its own token, never another's", async (t) => {
  const all = Array.from({ length: 10_000 }, (_, i) => {
    const b = new Uint8Array(16);
    new DataView(b.buffer).setUint32(0, i);
    return new Session(makeSessionId("homeAA", b), ANONYMOUS_IDENTITY, { tokens, epoch: "e1" }, transport);
  });
  const first = all.map((s) => s.token);
  let wrong = 0;
  for (const [i, s] of all.entries()) if (s.token !== first[i] || tokens.verify(s.token, "anonymous").sid !== s.sid) wrong++;
  t.equal(wrong, 0);
});
