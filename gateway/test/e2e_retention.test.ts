// HISTORY retention is bounded per session and configurable; a resume whose
// missed messages were already dropped is refused, never replayed in part; a
// connected client that fell behind past retention is told, never handed the
// rest as if nothing were missing.
import t from "tap";
import type { Socket } from "node:net";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { HISTORY_STREAM, subjects, type SessionId } from "@radiant/wire";
import { Client, eventually, openSession, rpc, startStack } from "./harness.js";

const stack = await startStack(t, {
  env: { HISTORY_MAX_MSGS_PER_SESSION: "5", HISTORY_MAX_AGE: "3600" },
  gatewayEnv: { GATEWAY_MAX_BACKPRESSURE: "16384" },
});

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
  // paced past the workers' coalescing window: a message per chunk, so retention trims some
  await c.call(rpc("s", "radiant.test/stream", { count: 10, delayMs: 25 }));
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

t.test("a connected client that stops reading while retention drops what it has not read: closed 4003 naming the last seq it got", async (t) => {
  const { c, session } = await openSession(stack.wsUrl);
  const sock = (c.ws as unknown as { _socket: Socket })._socket;
  // more than the kernel can buffer between the two ends (loopback autotunes a receive buffer up to
  // tcp_rmem's max, 32 MiB here, plus up to 4 MiB sending): else a paused reader may never fall behind
  const n = 3000;
  c.send(rpc("big", "radiant.test/stream", { count: n, pad: 16 * 1024 }));
  await c.next(); // the first chunk: the stream runs
  sock.pause();
  // wait, without reading, until the whole answer is stored (HISTORY keeps its last 5)
  const nc = await connect({ servers: stack.nats.url });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  const subject = subjects.history(session.sid as SessionId);
  await eventually(
    "the stream's result stored",
    async () => new TextDecoder().decode((await jsm.direct.getMessage(HISTORY_STREAM, { last_by_subj: subject }))?.data).includes(`"count":${n}`),
    60_000,
  );
  sock.resume();
  const { code, reason } = await Promise.race([
    c.closed,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error("not closed: the reader never fell behind retention")), 60_000).unref()),
  ]);
  t.equal(code, 4003, "closed: history lost");
  const seqs = c.frames.map((f) => f.seq_num!).filter((s) => s > 0);
  const last = seqs.at(-1)!;
  t.equal(reason, `history lost: messages after seq_num ${last} expired before delivery`, "the reason names the last seq_num the client has");
  t.ok(
    seqs.every((s, i) => i === 0 || s > seqs[i - 1]!),
    "what it got is in order",
  );
  const chunks = c.frames.filter((f) => f.method === "notifications/radiant.test/chunk").map((f) => (f.params as { i: number }).i);
  t.same(
    chunks,
    Array.from({ length: chunks.length }, (_, i) => i),
    "and without a gap: nothing after a hole was handed over",
  );
  t.ok(chunks.length < n, `${chunks.length} of ${n} chunks before the loss`);
  const metrics = await (await fetch(`${stack.healthUrl}/metrics`)).text();
  t.match(metrics, /radiant_history_lost_total [1-9]/);
  // resuming from there is refused as expired (no partial replay), the client gets a fresh session
  const r = await Client.connect(`${stack.wsUrl}?resume=${encodeURIComponent(session.resume_token!)}&last_seq=${last}`);
  t.match(await r.next(), { type: "session", resumed: false, reason: /expired/ });
  await r.close();
});
