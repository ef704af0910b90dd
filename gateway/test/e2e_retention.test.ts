// HISTORY retention is bounded per session and configurable; a resume whose
// missed messages were already dropped is refused, never replayed in part.
import t from "tap";
import { Client, openSession, rpc, startStack } from "./harness.js";

const stack = await startStack(t, { env: { HISTORY_MAX_MSGS_PER_SESSION: "5", HISTORY_MAX_AGE: "3600" } });

t.test("the HISTORY stream carries the configured limits", async (t) => {
  const j = (await (await fetch(`${stack.nats.monitorUrl}/jsz?streams=true&config=true`)).json()) as {
    account_details: { stream_detail: { name: string; config: { max_msgs_per_subject: number; max_age: number } }[] }[];
  };
  const h = j.account_details[0]!.stream_detail.find((s) => s.name === "HISTORY")!;
  t.equal(h.config.max_msgs_per_subject, 5);
  t.equal(h.config.max_age, 3600 * 1e9);
});

t.test("resume after messages were trimmed away: refused, not replayed in part", async (t) => {
  const { c, session } = await openSession(stack.wsUrl);
  await c.call(rpc("s", "radiant.test/stream", { count: 10 }));
  const early = c.frames.find((f) => f.method && (f.params as { i: number }).i === 2)!;
  await c.close();
  const r = await Client.connect(`${stack.wsUrl}?resume=${encodeURIComponent(session.resume_token!)}&last_seq=${early.seq_num}`);
  t.match(await r.next(), { type: "session", resumed: false, reason: /expired/ });
  await r.close();
  const ok = await Client.connect(`${stack.wsUrl}?resume=${encodeURIComponent(session.resume_token!)}&last_seq=${c.frames.at(-3)!.seq_num}`);
  t.match(await ok.next(), { resumed: true }, "a resume within what is kept works");
  t.equal((await ok.take(2)).at(-1)!.id, "s");
  await ok.close();
});
