// A small reconnect storm against a gateway that decides one resume at a time
// and lets two wait (GATEWAY_MAX_RESUMING=1, GATEWAY_MAX_RESUMES_WAITING=2):
// every session drops and resumes at once; the waiting ones have their turn,
// those past the queue are told 503 + Retry-After before any socket exists
// and come back; in the end every session resumed and got every message it
// missed exactly once, in order. What a storm is at 100,000 sessions is
// bench:soak's.
import t from "tap";
import { type Client, openSession, rpc, startStack, type Frame, upgrade } from "./harness.js";

const stack = await startStack(t, { gatewayEnv: { GATEWAY_MAX_RESUMING: "1", GATEWAY_MAX_RESUMES_WAITING: "2" } });
const SESSIONS = 40;
const MISSED = 50;

/** Resume until let in: a deferred resume (503) waits a little, with jitter, and tries again. */
async function resume(token: string, lastSeq: number, deferred: { n: number }): Promise<Client> {
  for (let attempt = 0; ; attempt++) {
    const outcome = await upgrade(`${stack.wsUrl}?resume=${encodeURIComponent(token)}&last_seq=${lastSeq}`);
    if ("client" in outcome) return outcome.client;
    if ("error" in outcome) throw outcome.error;
    if (outcome.status !== 503 || outcome.headers["retry-after"] !== "1") throw new Error(`resume refused: ${outcome.status}`);
    deferred.n++;
    if (attempt > 200) throw new Error("never let in");
    await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
  }
}

t.test("every session resumes in the end, each message once and in order; the excess was deferred, not failed", async (t) => {
  const sessions: { c: Client; session: Frame; last: number }[] = [];
  for (let i = 0; i < SESSIONS; i++) {
    const { c, session } = await openSession(stack.wsUrl);
    const answer = await c.call(rpc(`a${i}`, "radiant.test/echo", { i }));
    sessions.push({ c, session, last: answer.seq_num! });
  }
  // each session's missed messages: produced while it is away
  for (const s of sessions) s.c.send(rpc("s", "radiant.test/stream", { count: MISSED }));
  await Promise.all(sessions.map((s) => s.c.take(MISSED + 1, 60_000)));
  for (const s of sessions) s.c.ws.terminate();
  const deferred = { n: 0 };
  const back = await Promise.all(sessions.map((s) => resume(String(s.session.resume_token), s.last, deferred)));
  for (const [i, c] of back.entries()) {
    const hello = await c.next();
    t.match(hello, { type: "session", sid: sessions[i]!.session.sid, resumed: true }, `session ${i} resumed`);
    const replay = await c.take(MISSED + 1, 60_000);
    const chunks = replay.filter((f) => f.method === "notifications/radiant.test/chunk").map((f) => (f.params as { i: number }).i);
    t.same(
      chunks,
      Array.from({ length: MISSED }, (_, j) => j),
      `session ${i}: every missed message once, in order`,
    );
    c.ws.close();
  }
  t.ok(deferred.n > 0, `resumes over the bound were deferred (${deferred.n} times), and came back`);
  const metrics = await (await fetch(`${stack.healthUrl}/metrics`)).text();
  t.match(metrics, /radiant_resumes_total\{outcome="deferred"\} [1-9]/, "counted");
});
