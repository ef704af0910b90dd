// Resume: a client drops and comes back with its token and last seq_num; it
// gets every message it missed exactly once, in order, then live. Bad tokens
// and impossible replays are refused with a reason and a fresh session.
import t from "tap";
import type { SessionId } from "@radiant/wire";
import { Client, openSession, rpc, startStack, type Frame } from "./harness.js";
import { ResumeTokens } from "../src/resume_token.js";

const SECRET = "resume-test-secret-0123456789-abcdefghij";
const stack = await startStack(t, { gatewayEnv: { RESUME_TOKEN_SECRET: SECRET } });
const resumeUrl = (token: string, lastSeq: number | string) => `${stack.wsUrl}?resume=${encodeURIComponent(token)}&last_seq=${lastSeq}`;
const chunkNo = (f: Frame) => (f.params as { i: number }).i;

t.test("drop in the middle of 2,000 replies, resume: every reply once, in order", async (t) => {
  const { c, session } = await openSession(stack.wsUrl);
  t.equal(typeof session.epoch, "string");
  const n = 2000;
  c.send(rpc("s", "radiant.test/stream", { count: n }));
  const first = await c.take(500);
  c.ws.terminate(); // abrupt: no close handshake
  const lastSeq = first.at(-1)!.seq_num!;
  const r = await Client.connect(resumeUrl(session.resume_token!, lastSeq));
  const hello = await r.next();
  t.match(hello, { type: "session", sid: session.sid, resumed: true, seq_num: 0 });
  t.not(hello.resume_token, undefined);
  const rest = await r.take(n + 1 - 500, 60_000);
  const all = [...first, ...rest];
  t.same(
    all.slice(0, n).map(chunkNo),
    Array.from({ length: n }, (_, i) => i),
    "chunks 0..1999 once each, in order",
  );
  t.same(all[n]!.result, { count: n });
  const seqs = all.map((f) => f.seq_num!);
  t.ok(
    seqs.every((s, i) => i === 0 || s > seqs[i - 1]!),
    "seq_num strictly increasing across the seam",
  );
  t.same((await r.call(rpc("after", "ping"))).result, {}, "and then live");
  await r.close();
});

t.test("resume while replies are still being produced: no gap, no duplicate at the seam", async (t) => {
  const { c, session } = await openSession(stack.wsUrl);
  const n = 3000;
  c.send(rpc("s", "radiant.test/stream", { count: n }));
  const first = await c.take(100);
  c.ws.terminate();
  const r = await Client.connect(resumeUrl(session.resume_token!, first.at(-1)!.seq_num!));
  t.equal((await r.next()).resumed, true);
  const rest = await r.take(n + 1 - 100, 60_000);
  t.same(
    [...first, ...rest].slice(0, n).map(chunkNo),
    Array.from({ length: n }, (_, i) => i),
  );
  await r.close();
});

t.test("refused with a reason, and a fresh session that shows nothing of the old one", async (t) => {
  const { c, session } = await openSession(stack.wsUrl);
  await c.call(rpc(1, "radiant.test/stream", { count: 5 }));
  await c.close();
  const sid = session.sid as SessionId;
  const epoch = session.epoch as string;
  const now = Math.floor(Date.now() / 1000);
  const ours = new ResumeTokens(SECRET, 3600);
  const cases: [string, string, number | string, RegExp][] = [
    ["forged", new ResumeTokens("not-the-secret-at-all-0000", 3600).issue({ sid, principal: "anonymous", epoch }), 0, /bad signature/],
    ["expired", ours.issue({ sid, principal: "anonymous", epoch }, now - 7200), 0, /expired/],
    ["another principal's", ours.issue({ sid, principal: "someone-else", epoch }), 0, /another principal/],
    ["last_seq beyond the end", session.resume_token!, 1e12, /beyond the end/],
    ["from an older epoch", ours.issue({ sid, principal: "anonymous", epoch: "older" }), 0, /epoch changed/],
    ["garbage last_seq", session.resume_token!, "abc", /whole number/],
  ];
  for (const [what, token, lastSeq, why] of cases) {
    const r = await Client.connect(resumeUrl(token, lastSeq));
    const hello = await r.next();
    t.match(hello, { type: "session", resumed: false, reason: why }, `${what}: refused, saying why`);
    t.not(hello.sid, sid, `${what}: a fresh session`);
    t.same((await r.call(rpc("p", "ping"))).result, {});
    t.equal(r.frames.length, 2, `${what}: nothing of the old session leaked`);
    await r.close();
  }
});

t.test("takeover: resuming a session that is still open closes the older socket (4001)", async (t) => {
  const { c: old, session } = await openSession(stack.wsUrl);
  await old.call(rpc(1, "ping"));
  const r = await Client.connect(resumeUrl(session.resume_token!, old.frames.at(-1)!.seq_num!));
  const hello = await r.next();
  t.match(hello, { resumed: true, sid: session.sid });
  const { code, reason } = await old.closed;
  t.equal(code, 4001);
  t.match(reason, /taken over/);
  t.same((await r.call(rpc(2, "ping"))).result, {}, "the new socket delivers the session");
  await r.close();
});

t.test("a request re-sent with the same id runs once", async (t) => {
  const { c } = await openSession(stack.wsUrl);
  c.send(rpc("once", "radiant.test/echo", { x: 1 }));
  c.send(rpc("once", "radiant.test/echo", { x: 1 }));
  c.send(rpc("next", "ping"));
  await c.call(rpc("last", "ping"));
  t.equal(c.frames.filter((f) => f.id === "once").length, 1);
  await c.close();
});

t.test("the mcp framing resumes the same way, frames stay strict JSON-RPC", async (t) => {
  const c = await Client.connect(stack.wsUrl, ["mcp"]);
  const hello = (await c.next()).params as { sid: string; resume_token: string };
  c.send(rpc("s", "radiant.test/stream", { count: 50 }));
  const first = await c.take(10);
  c.ws.terminate();
  const lastSeq = (first.at(-1)!.params as { _meta: Record<string, number> })._meta["radiant/seq_num"]!;
  const r = await Client.connect(resumeUrl(hello.resume_token, lastSeq), ["mcp"]);
  t.match(await r.next(), { method: "notifications/radiant/session", params: { sid: hello.sid, resumed: true } });
  const rest = await r.take(41);
  t.same(
    [...first, ...rest].slice(0, 50).map(chunkNo),
    Array.from({ length: 50 }, (_, i) => i),
  );
  t.ok(
    rest.every((f) => f.seq_num === undefined && f.resume_token === undefined),
    "no top-level extras",
  );
  await r.close();
});
