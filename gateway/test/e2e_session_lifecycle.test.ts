// However a socket ends — client close, abrupt reset, idle timeout, server
// shutdown — its live subscription is gone at once: the NATS server's own
// subscription count returns to its baseline.
import t from "tap";
import { connect as tcpConnect, type Socket } from "node:net";
import { once } from "node:events";
import { subjects } from "@radiant/infra/wire";
import { Client, eventually, openSession, rpc, startStack } from "./harness.js";

const stack = await startStack(t, { gatewayEnv: { GATEWAY_IDLE_TIMEOUT: "8" } });
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

t.test("a client that goes silent is closed by the idle timeout, and its subscription goes", async (t) => {
  const baseline = await subs();
  // a raw upgrade that then never answers the server's pings
  const sock: Socket = tcpConnect(stack.gatewayPort, "127.0.0.1");
  await once(sock, "connect");
  sock.write(
    "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  let got = "";
  sock.on("data", (d) => (got += d.toString("latin1")));
  await eventually("upgrade", () => got.includes("101 Switching Protocols"));
  await eventually("a subscription for it", async () => (await subs()) === baseline + 1);
  await eventually("the idle timeout to close it", async () => (await subs()) === baseline, 40_000);
  t.pass("closed by idle timeout; subscription removed");
  sock.destroy();
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
  const [code] = (await once(gw, "exit")) as [number];
  t.equal(code, 0, "the supervisor exits 0 once its processes have");
  t.equal(await subs(), baseline, "their subscriptions are gone");
  await stack.startGateway();
  const { c } = await openSession(stack.wsUrl);
  t.same((await c.call(rpc(1, "ping"))).result, {}, "a new gateway serves again");
  await c.close();
});
