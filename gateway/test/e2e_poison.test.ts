// A request that kills every worker that takes it: after the consumer's
// maximum deliveries it is answered with an error (from the server's
// max-deliveries advisory) and dropped, instead of killing workers forever.
import t from "tap";
import { exited } from "@radiant/infra/proc";
import { openSession, rpc, startStack } from "./harness.js";

// the advisory comes one ack wait after the last delivery: the worker started after it must be listening by then, even on a busy machine
const stack = await startStack(t, { workerEnv: { WORKER_ACK_WAIT_MS: "2500" } });

t.test("a poison request: 5 deliveries, 5 dead workers, then an error reply and no more", async (t) => {
  const { c } = await openSession(stack.wsUrl);
  c.send(rpc("poison", "radiant.test/crash"));
  for (let delivery = 1; delivery <= 5; delivery++) {
    const w = stack.workers.at(-1)!;
    t.equal(await exited(w.child), 70, `delivery ${delivery} killed its worker`);
    await stack.startWorker();
  }
  const f = await c.next(30_000);
  t.match(f, { id: "poison", error: { code: -32603, message: /failed 5 times/ } });
  t.same((await c.call(rpc("after", "ping"))).result, {}, "the last worker lives on and serves");
  t.equal(stack.workers.at(-1)!.child.exitCode, null);
  await c.close();
});
