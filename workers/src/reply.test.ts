import t from "tap";
import { rpcError, rpcNotification, rpcResult } from "./reply.js";
import { errorReplies, interruptedReplies } from "./errors.js";

// What the gateway does with a slot, in miniature: insert at the offset.
const splice = (body: Buffer, at: number, insert: string) => body.subarray(0, at).toString() + insert + body.subarray(at).toString();

t.test("result slots point just inside result's object", async (t) => {
  const r = rpcResult("é-id", { b: 1 });
  t.same(JSON.parse(r.body.toString()), { jsonrpc: "2.0", id: "é-id", result: { b: 1 } });
  t.same(r.slot, { offset: r.body.indexOf('"result":{') + '"result":{'.length, inMeta: false });
  t.same(JSON.parse(splice(r.body, r.slot!.offset, '"_meta":{"s":1},')).result, { _meta: { s: 1 }, b: 1 });
});

t.test("an existing _meta goes first and the slot points inside it", async (t) => {
  const r = rpcResult(1, { b: 1, _meta: { k: 2 } });
  t.ok(r.slot!.inMeta);
  t.same(JSON.parse(splice(r.body, r.slot!.offset, '"s":1,')).result, { _meta: { s: 1, k: 2 }, b: 1 });
  const n = rpcNotification("notifications/x", { a: 1 });
  t.same(JSON.parse(splice(n.body, n.slot!.offset, '"_meta":{"s":1},')).params, { _meta: { s: 1 }, a: 1 });
});

t.test("errors have no slot", async (t) => {
  const e = rpcError(null, -32700, "Parse error");
  t.equal(e.slot, undefined);
  t.same(JSON.parse(e.body.toString()), { jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } });
});

t.test("results and errors are responses; notifications are not", async (t) => {
  t.equal(rpcResult("a", {}).response, true);
  t.equal(rpcError(7, -32601, "nope").response, true);
  t.notOk(rpcNotification("n", {}).response);
});

t.test("a failed batch: one error per request, each naming it, the last one last", async (t) => {
  const body = Buffer.from(
    JSON.stringify([
      { jsonrpc: "2.0", id: 1, method: "a" },
      { jsonrpc: "2.0", method: "note" },
      { jsonrpc: "2.0", id: "b", method: "c" },
    ]),
  );
  const rs = errorReplies("mcp", body, "internal", "Internal error: x");
  const parsed = rs.map((r) => JSON.parse(r.body.toString()) as { id: unknown; error: { code: number } });
  t.same(
    parsed.map((p) => p.id),
    [1, "b"],
  );
  t.same(
    parsed.map((p) => p.error.code),
    [-32603, -32603],
  );
  t.same(
    rs.map((r) => [r.response, r.last === true]),
    [
      [true, false],
      [true, true],
    ],
  );
  const llm = errorReplies("openai", body, "internal", "x");
  t.equal(llm.length, 1, "LLM bodies have no ids: one error");
  t.notOk(llm[0]!.response, "an LLM error body is not a JSON-RPC response");
  t.ok(llm[0]!.last);
  t.same(llm[0]!.head, { status: 500, stream: false }, "a plain HTTP response to it begins with the error's status");
  t.same(errorReplies("openai", body, "unsupported", "x")[0]!.head, { status: 501, stream: false });
  t.equal(errorReplies("anthropic", body, "internal", "x")[0]!.event, "error", "Anthropic's stream names its error event");
  t.equal(errorReplies("mcp", body, "internal", "x")[0]!.head, undefined, "JSON-RPC errors travel in a 200 answer");
});

t.test("the interrupted error says what happened, in the protocol's own format", async (t) => {
  const [a] = interruptedReplies("anthropic", Buffer.from("{}"), "timed out");
  t.match(JSON.parse(a!.body.toString()), {
    type: "error",
    error: { type: "api_error", message: /interrupted \(timed out\); what arrived before this is incomplete/ },
  });
  const [g] = interruptedReplies("google", Buffer.from("{}"), "the worker stopped");
  t.match(JSON.parse(g!.body.toString()), { error: { code: 500, status: "INTERNAL" } });
  const m = interruptedReplies("mcp", Buffer.from('{"jsonrpc":"2.0","id":"q","method":"x"}'), "r");
  t.match(JSON.parse(m[0]!.body.toString()), { jsonrpc: "2.0", id: "q", error: { code: -32603 } });
});
