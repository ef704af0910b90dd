// However a socket ends — client close, abrupt reset, server shutdown — its
// live subscription is gone at once: the NATS server's own subscription count
// returns to its baseline. (The idle timeout: e2e_idle_timeout.test.ts.)
import t from "tap";
import { exited } from "@radiant/infra/proc";
import { subjects } from "@radiant/infra/wire";
import { Client, eventually, openSession, rpc, startStack } from "./harness.js";

const stack = await startStack(t);
// the sessions' live subscriptions, as the server counts them (out.{sid})
const subs = () => stack.nats.subscriptionsUnder(subjects.live(""));

t.test("2,000 sessions opened and closed (half closed, half reset): subscriptions back to baseline", async (t) => {
  const baseline = await subs();
  const n = 2000;
  const clients: Client[] = [];
  for (let i = 0; i < n; i += 200) {
    const batch = await Promise.all(Array.from({ length: 200 }, () => Client.connect(stack.wsUrl)));
    await Promise.all(batch.map((c) => c.next()));
    clients.push(...batch);
  }
  await eventually("one subscription per session", async () => (await subs()) === baseline + n);
  t.equal((await stack.health()).body.active_connections, n);
  // a message on the last one proves the path is live
  t.same((await clients[n - 1]!.call(rpc(1, "ping"))).result, {});
  clients.forEach((c, i) => (i % 2 === 0 ? c.ws.close() : c.ws.terminate()));
  await Promise.all(clients.map((c) => c.closed));
  await eventually("subscriptions back to baseline", async () => (await subs()) === baseline);
  t.equal(await subs(), baseline);
  await eventually("no active connections", async () => (await stack.health()).body.active_connections === 0);
});

t.test("SIGTERM: clients are told to reconnect and resume (1012), the gateway exits cleanly", async (t) => {
  const baseline = await subs();
  const sessions = await Promise.all(Array.from({ length: 20 }, () => openSession(stack.wsUrl)));
  await eventually("subscriptions", async () => (await subs()) === baseline + 20);
  const gw = stack.gateway!.child;
  gw.kill("SIGTERM");
  const closes = await Promise.all(sessions.map((s) => s.c.closed));
  t.ok(closes.every((c) => c.code === 1012), "every client got 1012");
  t.match(closes[0]!.reason, /reconnect and resume/);
  const code = await exited(gw);
  t.equal(code, 0, "the supervisor exits 0 once its processes have");
  t.equal(await subs(), baseline, "their subscriptions are gone");
  await stack.startGateway();
  const { c } = await openSession(stack.wsUrl);
  t.same((await c.call(rpc(1, "ping"))).result, {}, "a new gateway serves again");
  await c.close();
});
