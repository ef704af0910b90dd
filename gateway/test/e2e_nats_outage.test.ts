// NATS goes away while clients are connected: their requests get errors that
// name the request, /health says so; NATS comes back: everything works again
// without restarting the gateway or the worker.
import t from "tap";
import { eventually, openSession, rpc, startStack } from "./harness.js";

// a frame waits this long for NATS to come back before its error (the default rides out a cluster's failover)
const stack = await startStack(t, { gatewayEnv: { GATEWAY_PUBLISH_TIMEOUT_MS: "2000" } });

t.test("requests during an outage get errors; service resumes when NATS is back", async (t) => {
  const { c, session } = await openSession(stack.wsUrl);
  t.same((await c.call(rpc(1, "ping"))).result, {});

  await stack.nats.stop();
  await eventually("/health to report the outage", async () => (await stack.health()).code === 503);
  const h = await stack.health();
  t.match(h.body, { status: "degraded", nats: "disconnected" });

  const err = await c.call(rpc("during-outage", "ping"));
  t.match(err, { jsonrpc: "2.0", id: "during-outage", error: { code: -32000, message: /unavailable/ } });
  t.equal(err.seq_num, 0, "a gateway-made error is not from HISTORY");
  t.equal(err.resume_token, session.resume_token);

  c.send({ model: "gpt", messages: [{ role: "developer", content: "x" }] });
  t.match(await c.next(), { error: { type: "server_error", message: /unavailable/ } }, "an OpenAI frame gets an OpenAI-shaped error");

  await stack.nats.start();
  await eventually("/health ok again", async () => (await stack.health()).code === 200, 30_000);
  // JetStream may need a moment after the server is up: retry until answered
  let answer: Awaited<ReturnType<typeof c.call>> | undefined;
  for (let i = 0; i < 100; i++) {
    answer = await c.call(rpc(`after-${i}`, "ping"));
    if (answer.result) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  t.same(answer?.result, {}, "the same socket works again through the same gateway and worker");
  const fresh = await openSession(stack.wsUrl);
  t.same((await fresh.c.call(rpc(1, "ping"))).result, {}, "and new sessions too");
  t.equal(stack.workers[0]!.child.exitCode, null, "the worker was never restarted");
  await Promise.all([c.close(), fresh.c.close()]);
});
