// The federated MCP methods as a client's bytes reach them, with the bridge
// replaced by a recorder (the NATS side is covered end to end in
// gateway/test/e2e_mcp_federation*.test.ts): routing by prefix, what goes to
// the bridge and what never does, and — fuzzed — that any params give exactly
// one JSON-RPC answer with the request's id, never a throw.
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import t from "tap";
import { fuzzOptions } from "@radiant/infra/fuzz-settings";
import type { McpServerConfig } from "@radiant/infra/mcp-servers";
import { makeSessionId, type CallFrame, type CallRequest, type Operation, type OpenReply, type RpcObject } from "@radiant/wire";
import { captureLog } from "../../test/fakes.js";
import type { HandlerContext } from "../handler.js";
import { mcpHandler, mcpMethods } from "../handler_mcp.js";
import type { BridgeClient } from "./bridge_client.js";
import { federation } from "./federation.js";

const sid = makeSessionId("fedtst", randomBytes(16));
const server = (name: string): McpServerConfig => ({ kind: "stdio", name, timeoutMs: 1000, command: "x", args: [], env: {} });

/** A bridge that answers every call with a canned result of the right shape for its method, and records what it was asked. */
class RecordingBridge {
  readonly calls: CallRequest[] = [];
  readonly responded: RpcObject[] = [];
  readonly notified: RpcObject[] = [];
  async open(): Promise<OpenReply> {
    return { upstreams: [] };
  }
  async *call(req: CallRequest): AsyncIterable<CallFrame> {
    this.calls.push(req);
    const target = "server" in req.target ? req.target.server : "a";
    const lists: RpcObject = { tools: [{ name: "t" }], prompts: [{ name: "p" }], resources: [{ uri: "u://1" }], resourceTemplates: [] };
    yield { t: "msg", msg: { jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: 1, progress: 1 } } };
    yield { t: "result", server: target, msg: { jsonrpc: "2.0", id: req.msg.id ?? null, result: { ...lists, content: [] } } };
  }
  respond(_sid: unknown, msg: RpcObject): void {
    this.responded.push(msg);
  }
  notify(_sid: unknown, msg: RpcObject): void {
    this.notified.push(msg);
  }
}

function setup(names: string[]) {
  const bridge = new RecordingBridge();
  const f = federation(names.map(server), bridge as unknown as BridgeClient);
  const h = mcpHandler({ ...mcpMethods, ...f.methods }, f.extras);
  const ctx: HandlerContext = { log: captureLog().log, working: () => {}, signal: new AbortController().signal, cancelRequest: () => {}, committed: () => {} };
  const run = async (body: unknown) => {
    const out: Record<string, unknown>[] = [];
    const req = { body: Buffer.from(JSON.stringify(body)), sid, rid: "gf1", op: "rpc" as Operation<"mcp">, principal: "anonymous" };
    for await (const r of h(req, ctx)) out.push(JSON.parse(r.body.toString()) as Record<string, unknown>);
    return out;
  };
  return { bridge, run };
}

const rpc = (id: unknown, method: string, params?: unknown) => ({ jsonrpc: "2.0", id, method, ...(params !== undefined ? { params } : {}) });
const responses = (frames: Record<string, unknown>[]) => frames.filter((f) => "result" in f || "error" in f);

t.test("several servers: a prefixed name goes to its server, its own name restored", async (t) => {
  const { bridge, run } = setup(["a", "b"]);
  await run(rpc(1, "tools/call", { name: "b_do_it", arguments: { x: 1 } }));
  t.same(bridge.calls[0]?.target, { server: "b" });
  t.same(bridge.calls[0]?.msg.params, { name: "do_it", arguments: { x: 1 } }, "the rest of the name, underscores and all");
  await run(rpc(2, "prompts/get", { name: "a_greet" }));
  t.same(bridge.calls[1]?.target, { server: "a" });
  await run(rpc(3, "resources/read", { uri: "file:///x" }));
  t.same(bridge.calls[2]?.target, { uri: "file:///x" }, "a URI: the bridge finds its server");
  await run(rpc(4, "completion/complete", { ref: { type: "ref/prompt", name: "b_greet" }, argument: { name: "n", value: "" } }));
  t.same(bridge.calls[3]?.target, { server: "b" });
  t.same(bridge.calls[3]?.msg.params, { ref: { type: "ref/prompt", name: "greet" }, argument: { name: "n", value: "" } });
});

t.test("several servers: what never reaches the bridge", async (t) => {
  const { bridge, run } = setup(["a", "b"]);
  for (const [params, what] of [
    [{ name: "c_x" }, "a server not configured"],
    [{ name: "nounderscore" }, "no prefix"],
    [{ name: "_x" }, "an empty server name"],
    [{ name: 5 }, "a name that is not a string"],
    [{}, "no name"],
  ] as const) {
    const [answer] = responses(await run(rpc(1, "tools/call", params)));
    t.match(answer, { id: 1, error: { code: -32602 } }, what);
  }
  t.match(responses(await run(rpc(2, "tools/list", { cursor: "bogus" })))[0], { error: { code: -32602 } }, "a cursor RADIANT never made");
  t.match(responses(await run(rpc(3, "resources/read", { uri: 7 })))[0], { error: { code: -32602 } }, "a URI that is not a string");
  t.match(responses(await run(rpc(4, "tasks/get", {})))[0], { error: { code: -32601 } }, "a method RADIANT does not route, with several servers");
  await run({ jsonrpc: "2.0", method: "tools/call", params: { name: "a_x" } });
  t.equal(bridge.calls.length, 0, "nothing of it, not even a tools/call sent as a notification");
});

t.test("one server: everything passes through as it is", async (t) => {
  const { bridge, run } = setup(["only"]);
  await run(rpc(1, "tools/call", { name: "echo", arguments: {} }));
  await run(rpc(2, "tasks/get", { taskId: "t1" }));
  await run(rpc(3, "tools/list", { cursor: "the-server's-own" }));
  t.same(
    bridge.calls.map((c) => [c.target, c.msg.method, c.msg.params]),
    [
      [{ server: "only" }, "tools/call", { name: "echo", arguments: {} }],
      [{ server: "only" }, "tasks/get", { taskId: "t1" }],
      [{ server: "only" }, "tools/list", { cursor: "the-server's-own" }],
    ],
  );
});

t.test("a client's answer to a server's request goes to the bridge; anything else does not", async (t) => {
  const { bridge, run } = setup(["a", "b"]);
  t.same(await run({ jsonrpc: "2.0", id: "b:7", result: { ok: true } }), [], "no reply to a response");
  t.same(bridge.responded, [{ jsonrpc: "2.0", id: "b:7", result: { ok: true } }]);
  await run({ jsonrpc: "2.0", id: 7, result: {} });
  await run({ jsonrpc: "2.0", id: "no-colon", error: { code: 1, message: "x" } });
  t.equal(bridge.responded.length, 1, "ids RADIANT never gave a server request are dropped");
  await run({ jsonrpc: "2.0", method: "notifications/roots/list_changed" });
  t.same(bridge.notified, [{ jsonrpc: "2.0", method: "notifications/roots/list_changed" }], "roots changed: every server");
});

t.test("lists of several servers: one page of each, names prefixed, progress passed on", async (t) => {
  const { run } = setup(["a", "b"]);
  const frames = await run(rpc(1, "tools/list"));
  t.equal(frames.filter((f) => f.method === "notifications/progress").length, 2, "each server's notification");
  t.same(responses(frames)[0]?.result, { tools: [{ name: "a_t" }, { name: "b_t" }] });
});

t.test("any params, any method, one or two servers: exactly one answer with the request's id, never a throw (property)", async (t) => {
  const methods = [
    "tools/list",
    "tools/call",
    "prompts/list",
    "prompts/get",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "completion/complete",
    "logging/setLevel",
    "ping",
    "tasks/get",
  ];
  const params = fc.oneof(
    fc.constant(undefined),
    fc.dictionary(fc.constantFrom("name", "uri", "cursor", "ref", "argument", "level", "arguments", "_meta", "x"), fc.jsonValue({ maxDepth: 3 }), {
      maxKeys: 4,
    }),
  );
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...methods), params, fc.boolean(), fc.oneof(fc.integer(), fc.string({ maxLength: 8 })), async (method, p, two, id) => {
      const { run } = setup(two ? ["a", "b"] : ["only"]);
      const answers = responses(await run(rpc(id, method, p)));
      return answers.length === 1 && answers[0]!.id === id;
    }),
    fuzzOptions(),
  );
  t.pass("never threw");
});
