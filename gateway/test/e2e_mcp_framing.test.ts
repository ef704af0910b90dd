// The `mcp` WebSocket subprotocol: strict JSON-RPC frames (no extra top-level
// fields), the session in a notification, seq_num in `_meta` — checked by
// shape and by the official MCP SDK client, unmodified.
import t from "tap";
import WebSocket from "ws";
import { Client as McpClient } from "@modelcontextprotocol/sdk/client/index.js";
import { WebSocketClientTransport } from "@modelcontextprotocol/sdk/client/websocket.js";
import { Client, rpc, startStack } from "./harness.js";

// Node 20 has no global WebSocket; the SDK's transport expects one (docs/design.md)
(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

const stack = await startStack(t);

const JSONRPC_KEYS = new Set(["jsonrpc", "id", "method", "params", "result", "error"]);

t.test("subprotocol echoed; session notification first; frames strictly JSON-RPC", async (t) => {
  const c = await Client.connect(stack.wsUrl, ["mcp"]);
  t.equal(c.ws.protocol, "mcp");
  const hello = await c.next();
  t.match(hello, { jsonrpc: "2.0", method: "notifications/radiant/session", params: { _meta: { "radiant/seq_num": 0 } } });
  const params = hello.params as { sid: string; resume_token: string };
  t.match(params.sid, /^[A-Za-z0-9_-]{28}$/);
  t.match(params.resume_token, /^[\w-]+\.[\w-]+\.[\w-]+$/);

  const init = await c.call(rpc(1, "initialize", { protocolVersion: "2025-03-26", capabilities: {}, clientInfo: { name: "t", version: "1" } }));
  const pong = await c.call(rpc(2, "ping"));
  const echo = await c.call(rpc(3, "radiant.test/echo", { _meta: { progressToken: "p" }, x: 1 }));
  const missing = await c.call(rpc(4, "nope"));
  c.send("not json");
  const parseError = await c.next();
  for (const f of [hello, init, pong, echo, missing, parseError]) {
    t.same(
      Object.keys(f).filter((k) => !JSONRPC_KEYS.has(k)),
      [],
      `no extra top-level fields: ${JSON.stringify(f).slice(0, 60)}`,
    );
  }
  const seqOf = (f: Record<string, unknown>) => (f.result as { _meta: Record<string, number> })._meta["radiant/seq_num"]!;
  t.ok(seqOf(init) > 0 && seqOf(pong) > seqOf(init) && seqOf(echo) > seqOf(pong), "seq in result._meta, increasing");
  t.same(echo.result, { _meta: { "radiant/seq_num": seqOf(echo), progressToken: "p" }, x: 1 }, "an existing _meta keeps its keys");
  t.same(missing.error, { code: -32601, message: "Method not found: nope" });
  t.same(parseError, { jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error: the frame is not valid JSON" } });
  const chunks = c.frames.length;
  await c.call(rpc(5, "radiant.test/stream", { count: 3 }));
  const notes = c.frames.slice(chunks).filter((f) => f.method);
  t.equal(notes.length, 3);
  t.ok(
    notes.every((n) => typeof (n.params as { _meta: Record<string, number> })._meta["radiant/seq_num"] === "number"),
    "notifications carry seq in params._meta",
  );
  await c.close();
});

t.test("the official MCP SDK client: initialize and ping over WebSocketClientTransport", async (t) => {
  const client = new McpClient({ name: "radiant-test", version: "1.0.0" });
  const transport = new WebSocketClientTransport(new URL(stack.wsUrl));
  await client.connect(transport);
  t.equal(client.getServerVersion()?.name, "radiant-gateway");
  t.ok(client.getServerCapabilities(), "capabilities received");
  const pong = await client.ping();
  t.same(Object.keys(pong), ["_meta"], "an empty result, but for the seq in _meta");
  for (let i = 0; i < 20; i++) await client.ping();
  await client.close();
});
