import t from "tap";
import { Peek, peek } from "./peek.js";
import { detectProtocol } from "./protocol.js";

const detect = (v: unknown, framing: "json" | "mcp" = "json") => {
  const b = Buffer.from(typeof v === "string" ? v : JSON.stringify(v));
  const p = peek(b, new Peek());
  return p.ok ? detectProtocol(b, p, framing, "openai") : "not-json";
};

t.test("telling the protocols apart (docs/protocols.md), in order", async (t) => {
  const table: [unknown, string | undefined][] = [
    [{ jsonrpc: "2.0", id: 1, method: "initialize" }, "mcp"],
    [{ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "x" } }, "mcp"],
    [{ jsonrpc: "2.0", method: "notifications/initialized" }, "mcp"],
    [[{ jsonrpc: "2.0", id: 1, method: "ping" }], "mcp"],
    [{ jsonrpc: "2.0", id: 1, method: "message/send", params: {} }, "a2a"],
    [{ jsonrpc: "2.0", id: 1, method: "message/stream", params: {} }, "a2a"],
    [{ jsonrpc: "2.0", id: 1, method: "tasks/resubscribe", params: { id: "t" } }, "a2a"],
    [{ jsonrpc: "2.0", id: 1, method: "tasks/pushNotificationConfig/set", params: {} }, "a2a"],
    [{ jsonrpc: "2.0", id: 1, method: "agent/getAuthenticatedExtendedCard" }, "a2a"],
    // A2A v1.0 names (once taken for MCP: -32601)
    [{ jsonrpc: "2.0", id: 1, method: "SendMessage", params: {} }, "a2a"],
    [{ jsonrpc: "2.0", id: 1, method: "SendStreamingMessage", params: {} }, "a2a"],
    [{ jsonrpc: "2.0", id: 1, method: "GetTask", params: { id: "t" } }, "a2a"],
    [{ jsonrpc: "2.0", id: 1, method: "CancelTask", params: { id: "t" } }, "a2a"],
    [{ jsonrpc: "2.0", id: 1, method: "ListTasks", params: {} }, "a2a"],
    [{ jsonrpc: "2.0", id: 1, method: "SubscribeToTask", params: { id: "t" } }, "a2a"],
    [{ jsonrpc: "2.0", id: 1, method: "GetTaskX", params: {} }, "mcp"],
    [{ jsonrpc: "2.0", id: 1, method: "tasks/get", params: { id: "t1" } }, "a2a"],
    [{ jsonrpc: "2.0", id: 1, method: "tasks/get", params: { taskId: "t1" } }, "mcp"],
    [{ jsonrpc: "2.0", id: 1, method: "tasks/cancel", params: { taskId: "t1" } }, "mcp"],
    [{ jsonrpc: "2.0", id: 1, result: {} }, "mcp"],
    [{ contents: [{ role: "user", parts: [{ text: "hi" }] }] }, "google"],
    [{ model: "m", max_tokens: 5, system: "s", messages: [] }, "anthropic"],
    [{ model: "m", messages: [], top_k: 3 }, "anthropic"],
    [{ model: "m", messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "x" }] }] }, "anthropic"],
    [{ model: "m", messages: [], stream_options: { include_usage: true } }, "openai"],
    [{ model: "m", messages: [{ role: "system", content: "s" }] }, "openai"],
    [{ model: "m", messages: [{ role: "user", content: "hi" }] }, "openai"],
    [{ model: "m", input: "hi" }, "openai"],
    [{ input: "hi" }, undefined],
    [{ hello: 1 }, undefined],
    ["nope", "not-json"],
  ];
  for (const [body, want] of table) t.equal(detect(body), want, JSON.stringify(body).slice(0, 70));
});

t.test("on the mcp subprotocol every frame is MCP", async (t) => {
  t.equal(detect({ contents: [] }, "mcp"), "mcp");
  t.equal(detect({ jsonrpc: "2.0", id: 1, method: "message/send" }, "mcp"), "mcp");
});
