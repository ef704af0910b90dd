// A client that goes silent (answers no pings) is closed by the idle timeout,
// and its live subscription goes with it.
import t from "tap";
import { connect as tcpConnect, type Socket } from "node:net";
import { once } from "node:events";
import { subjects } from "@radiant/infra/wire";
import { eventually, startStack } from "./harness.js";

const stack = await startStack(t, { gatewayEnv: { GATEWAY_IDLE_TIMEOUT: "8" } });
const subs = () => stack.nats.subscriptionsUnder(subjects.live(""));

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

