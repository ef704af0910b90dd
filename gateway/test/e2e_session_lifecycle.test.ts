// However a socket ends — client close, abrupt reset, server shutdown — the
// gateway lets go of its live routing at once. Sessions made by the process
// that holds them cost NATS nothing per session (one wildcard subscription per
// process); a session resumed on another process has a subscription of its
// own, gone as soon as the socket is. (The idle timeout: e2e_idle_timeout.)
import t from "tap";
import { exited } from "@radiant/infra/proc";
import { Client, eventually, liveRoutes, openSession, rpc, startStack } from "./harness.js";

const stack = await startStack(t);
// live subscriptions, as the NATS server counts them (out.…)
const subs = () => stack.nats.subscriptionsUnder("out.");

t.test("2,000 sessions opened and closed (half closed, half reset): no subscription each, routes back to none", async (t) => {
  const baseline = await subs();
  const n = 2000;
  const clients: Client[] = [];
  for (let i = 0; i < n; i += 200) {
    const batch = await Promise.all(Array.from({ length: 200 }, () => Client.connect(stack.wsUrl)));
    await Promise.all(batch.map((c) => c.next()));
    clients.push(...batch);
  }
  await eventually("every session routed from home", async () => (await liveRoutes(stack)).home === n);
  t.equal(await subs(), baseline, "no NATS subscription per session: the process's one wildcard serves them");
  t.equal((await stack.health()).body.active_connections, n);
  // a message on the last one proves the path is live
  t.same((await clients[n - 1]!.call(rpc(1, "ping"))).result, {});
  for (const [i, c] of clients.entries()) i % 2 === 0 ? c.ws.close() : c.ws.terminate();
  await Promise.all(clients.map((c) => c.closed));
  await eventually("routes back to none", async () => (await liveRoutes(stack)).home === 0);
  t.equal(await subs(), baseline);
  await eventually("no active connections", async () => (await stack.health()).body.active_connections === 0);
});

t.test("SIGTERM: clients are told to reconnect and resume (1012); resumed on the new process, each has a subscription until it goes", async (t) => {
  const sessions = await Promise.all(Array.from({ length: 20 }, () => openSession(stack.wsUrl)));
  const gw = stack.gateway!.child;
  gw.kill("SIGTERM");
  const closes = await Promise.all(sessions.map((s) => s.c.closed));
  t.ok(
    closes.every((c) => c.code === 1012),
    "every client got 1012",
  );
  t.match(closes[0]!.reason, /reconnect and resume/);
  const code = await exited(gw);
  t.equal(code, 0, "the supervisor exits 0 once its processes have");
  await stack.startGateway();
  const baseline = await subs();
  const resumed = await Promise.all(
    sessions.map(async ({ session }) => {
      const c = await Client.connect(`${stack.wsUrl}?resume=${encodeURIComponent(session.resume_token!)}&last_seq=0`);
      t.match(await c.next(), { type: "session", sid: session.sid, resumed: true });
      return c;
    }),
  );
  await eventually("a subscription each: their home is gone", async () => (await liveRoutes(stack)).away === 20);
  t.equal(await subs(), baseline + 20, "as the NATS server counts them");
  t.same((await resumed[0]!.call(rpc(1, "ping"))).result, {}, "a new gateway serves them");
  for (const [i, c] of resumed.entries()) i % 2 === 0 ? c.ws.close() : c.ws.terminate();
  await Promise.all(resumed.map((c) => c.closed));
  await eventually("their subscriptions are gone", async () => (await subs()) === baseline);
  t.equal((await liveRoutes(stack)).away, 0);
});
