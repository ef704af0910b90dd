// Workers: a handler that throws answers with an error; a request that keeps
// failing stops after a bounded number of deliveries with an error; any number
// of workers share the INBOX consumer, each request answered once.
import t from "tap";
import { eventually, inboxState, openSession, rpc, startStack } from "./harness.js";

const stack = await startStack(t, { workers: 2, workerEnv: { WORKER_HANDLER_TIMEOUT_MS: "300" } });

t.test("a handler that throws: an internal error naming the request", async (t) => {
  const { c } = await openSession(stack.wsUrl);
  const f = await c.call(rpc("boom", "radiant.test/throw"));
  t.match(f, { jsonrpc: "2.0", id: "boom", error: { code: -32603, message: /Internal error: the handler failed/ } });
  t.ok((f.seq_num ?? 0) > 0, "the error is a stored reply like any other");
  t.same((await c.call(rpc(2, "ping"))).result, {}, "the session goes on");
  await c.close();
});

t.test("a request that keeps failing stops after 5 deliveries, with an error", async (t) => {
  const { c } = await openSession(stack.wsUrl);
  const f = await c.call(rpc("stuck", "radiant.test/hang"), 60_000);
  t.match(f, { id: "stuck", error: { code: -32603, message: /timed out 5 times/ } });
  await eventually("the request gone from INBOX (nothing left to redeliver)", async () => (await inboxState(stack)).stored === 0);
  t.equal(c.frames.filter((x) => x.id === "stuck").length, 1, "one answer, no endless redelivery");
  await c.close();
});

t.test("two workers share the consumer: 400 requests, each answered exactly once", async (t) => {
  const { c } = await openSession(stack.wsUrl);
  for (let i = 0; i < 400; i++) c.send(rpc(i, "radiant.test/echo", { i }));
  const got = await c.take(400);
  t.same(
    got.map((f) => f.id).sort((a, b) => Number(a) - Number(b)),
    Array.from({ length: 400 }, (_, i) => i),
  );
  await c.close();
});

t.test("starting another worker (set-up runs again) breaks nothing", async (t) => {
  await stack.startWorker();
  const { c } = await openSession(stack.wsUrl);
  for (let i = 0; i < 50; i++) t.same((await c.call(rpc(i, "ping"))).result, {});
  await c.close();
  // every worker stops cleanly and reports what it handled
  const handled = await Promise.all(
    stack.workers.map(async (w) => {
      w.child.kill("SIGTERM");
      await new Promise((r) => w.child.once("exit", r));
      return Number(/"handled":(\d+)/.exec(w.output)?.[1] ?? -1);
    }),
  );
  t.ok(
    handled.every((h) => h >= 0),
    `every worker exited cleanly (handled: ${handled.join(", ")})`,
  );
  t.ok(handled.filter((h) => h > 0).length >= 2, "the work was shared");
});
