// A client that goes silent (answers no pings) is closed by the idle timeout,
// and its live routing goes with it.
import t from "tap";
import { connect as tcpConnect, type Socket } from "node:net";
import { once } from "node:events";
import { eventually, liveRoutes, startStack } from "./harness.js";

const stack = await startStack(t, { gatewayEnv: { GATEWAY_IDLE_TIMEOUT: "8" } });
const routes = async () => (await liveRoutes(stack)).home;

t.test("a client that goes silent is closed by the idle timeout, and its routing goes", async (t) => {
  const baseline = await routes();
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
  await eventually("a route for it", async () => (await routes()) === baseline + 1);
  await eventually("the idle timeout to close it", async () => (await routes()) === baseline, 40_000);
  t.pass("closed by idle timeout; its route removed");
  sock.destroy();
});
