import t from "tap";
import { rpcError, rpcNotification, rpcResult } from "./reply.js";
import { errorReplies } from "./errors.js";

// What the gateway does with a slot (frames.ts), in miniature: insert at the offset.
const splice = (body: Buffer, at: number, insert: string) => body.subarray(0, at).toString() + insert + body.subarray(at).toString();

t.test("result slots point just inside result's object", async (t) => {
  const r = rpcResult("é-id", { b: 1 });
  t.same(JSON.parse(r.body.toString()), { jsonrpc: "2.0", id: "é-id", result: { b: 1 } });
  t.same(r.metaSlot, { offset: r.body.indexOf('"result":{') + '"result":{'.length, inMeta: false });
  t.same(JSON.parse(splice(r.body, r.metaSlot!.offset, '"_meta":{"s":1},')).result, { _meta: { s: 1 }, b: 1 });
});

t.test("an existing _meta goes first and the slot points inside it", async (t) => {
  const r = rpcResult(1, { b: 1, _meta: { k: 2 } });
  t.ok(r.metaSlot!.inMeta);
  t.same(JSON.parse(splice(r.body, r.metaSlot!.offset, '"s":1,')).result, { _meta: { s: 1, k: 2 }, b: 1 });
  const n = rpcNotification("notifications/x", { a: 1 });
  t.same(JSON.parse(splice(n.body, n.metaSlot!.offset, '"_meta":{"s":1},')).params, { _meta: { s: 1 }, a: 1 });
});

t.test("errors have no slot", async (t) => {
  const e = rpcError(null, -32700, "Parse error");
  t.equal(e.metaSlot, undefined);
  t.same(JSON.parse(e.body.toString()), { jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } });
});

t.test("replies name the request they answer; id null names none", async (t) => {
  t.equal(rpcResult("a", {}).responseTo, '"a"');
  t.equal(rpcError(7, -32601, "nope").responseTo, "7");
  t.equal(rpcError(null, -32700, "parse").responseTo, undefined);
  t.equal(rpcNotification("n", {}).responseTo, undefined);
});

t.test("a failed batch: one error per request, each naming it", async (t) => {
  const body = Buffer.from(JSON.stringify([{ jsonrpc: "2.0", id: 1, method: "a" }, { jsonrpc: "2.0", method: "note" }, { jsonrpc: "2.0", id: "b", method: "c" }]));
  const rs = errorReplies("mcp", body, "the handler failed");
  t.same(rs.map((r) => r.responseTo), ["1", '"b"']);
  t.same(rs.map((r) => (JSON.parse(r.body.toString()) as { error: { code: number } }).error.code), [-32603, -32603]);
  t.same(errorReplies("openai", body, "x").length, 1, "LLM bodies have no ids: one error");
});
