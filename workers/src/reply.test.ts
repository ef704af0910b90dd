import { deepStrictEqual } from "node:assert";
import fc from "fast-check";
import t from "tap";
import { fuzzOptions } from "@radiant/infra/fuzz-settings";
import { rpcError, rpcMessage, rpcNotification, rpcResult, type Reply } from "./reply.js";
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

// ---- rpcMessage: any message an upstream sent, with its _meta slot ----------------------------------
// The gateway's splice (gateway/src/frames.ts withMeta): at the slot's offset it inserts
// `"_meta":{…}` (or, inMeta, just the key `"k":v` inside the existing _meta), followed by a
// comma unless the byte at the offset closes the object — so `{}` becomes `{"_meta":{…}}`.
function gatewaySplice(r: Reply, member: string): unknown {
  const { offset, inMeta } = r.slot!;
  const insert = inMeta ? member : `"_meta":{${member}}`;
  const comma = r.body[offset] === 0x7d ? "" : ",";
  return JSON.parse(Buffer.concat([r.body.subarray(0, offset), Buffer.from(insert + comma), r.body.subarray(offset)]).toString());
}
const json = (r: Reply): Record<string, unknown> => JSON.parse(r.body.toString()) as Record<string, unknown>;

t.test("rpcMessage: notifications, with params made {} when absent, the slot in params", async (t) => {
  const bare = rpcMessage({ jsonrpc: "2.0", method: "notifications/tools/list_changed" });
  t.same(json(bare), { jsonrpc: "2.0", method: "notifications/tools/list_changed", params: {} }, "params {} added");
  t.same(bare.slot, { offset: bare.body.indexOf('"params":{') + '"params":{'.length, inMeta: false });
  t.equal(bare.body[bare.slot!.offset], 0x7d, "an empty object: the slot is at its closing brace");
  t.same(
    gatewaySplice(bare, '"x":1'),
    { jsonrpc: "2.0", method: "notifications/tools/list_changed", params: { _meta: { x: 1 } } },
    "the gateway's splice into {} (no comma)",
  );
  t.throws(() => JSON.parse(splice(bare.body, bare.slot!.offset, '"_meta":{"x":1},')), "a splice that always adds a comma breaks {}: the gateway must not");
  t.notOk(bare.response, "not a response");

  const msg = { jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: "p-1", progress: 5, total: 10, message: 'é "quoted"' } };
  const n = rpcMessage(msg);
  t.same(json(n), msg);
  t.same(n.slot, { offset: n.body.indexOf('"params":{') + '"params":{'.length, inMeta: false });
  t.same(JSON.parse(splice(n.body, n.slot!.offset, '"_meta":{"x":1},')), { ...msg, params: { _meta: { x: 1 }, ...msg.params } });
  t.same(gatewaySplice(n, '"x":1'), { ...msg, params: { _meta: { x: 1 }, ...msg.params } });

  for (const params of [null, "x", 5, [1, 2]]) {
    const odd = rpcMessage({ jsonrpc: "2.0", method: "notifications/message", params });
    t.same(json(odd).params, {}, `params ${JSON.stringify(params)} (not an object): {}`);
    t.same(gatewaySplice(odd, '"x":1'), { jsonrpc: "2.0", method: "notifications/message", params: { _meta: { x: 1 } } });
  }
});

t.test("rpcMessage: a _meta in params goes first and the slot is inside it", async (t) => {
  const msg = { jsonrpc: "2.0", method: "notifications/progress", params: { progress: 1, _meta: { "io.x/trace": "abc", n: [1] } } };
  const r = rpcMessage(msg);
  t.same(json(r), msg);
  t.ok(r.body.toString().includes('"params":{"_meta":{"io.x/trace"'), "_meta first");
  t.same(r.slot, { offset: r.body.indexOf('"params":{"_meta":{') + '"params":{"_meta":{'.length, inMeta: true });
  t.same(JSON.parse(splice(r.body, r.slot!.offset, '"x":1,')).params, { _meta: { x: 1, "io.x/trace": "abc", n: [1] }, progress: 1 });
  t.same(gatewaySplice(r, '"x":1'), { ...msg, params: { _meta: { x: 1, "io.x/trace": "abc", n: [1] }, progress: 1 } });

  const empty = rpcMessage({ jsonrpc: "2.0", method: "notifications/x", params: { _meta: {} } });
  t.same(empty.slot!.inMeta, true);
  t.equal(empty.body[empty.slot!.offset], 0x7d, "an empty _meta: the slot is at its closing brace");
  t.same(gatewaySplice(empty, '"x":1'), { jsonrpc: "2.0", method: "notifications/x", params: { _meta: { x: 1 } } });
  const onlyMeta = rpcMessage({ jsonrpc: "2.0", method: "notifications/x", params: { _meta: { a: 1 } } });
  t.same(gatewaySplice(onlyMeta, '"x":1'), { jsonrpc: "2.0", method: "notifications/x", params: { _meta: { x: 1, a: 1 } } });
});

t.test("rpcMessage: a server→client request keeps its id and is not a response", async (t) => {
  for (const id of ["github:7", 'fs:"a:\\"b\\""', 0, 12, "é"]) {
    const msg = {
      jsonrpc: "2.0",
      id,
      method: "sampling/createMessage",
      params: { messages: [{ role: "user", content: { type: "text", text: "hi" } }], maxTokens: 10 },
    };
    const r = rpcMessage(msg);
    t.same(json(r), msg, `id ${JSON.stringify(id)}`);
    t.notOk(r.response, "a request, not a response");
    t.same(r.slot, { offset: r.body.indexOf('"params":{') + '"params":{'.length, inMeta: false });
    t.same(gatewaySplice(r, '"x":1'), { ...msg, params: { _meta: { x: 1 }, ...msg.params } });
  }
  const noParams = rpcMessage({ jsonrpc: "2.0", id: "s:1", method: "roots/list" });
  t.same(json(noParams), { jsonrpc: "2.0", id: "s:1", method: "roots/list", params: {} });
  t.same(gatewaySplice(noParams, '"x":1'), { jsonrpc: "2.0", id: "s:1", method: "roots/list", params: { _meta: { x: 1 } } });
  const nullId = rpcMessage({ jsonrpc: "2.0", id: null, method: "ping" });
  t.same(json(nullId), { jsonrpc: "2.0", id: null, method: "ping", params: {} }, "an id that is there, even null, is kept");
});

t.test("rpcMessage: results are responses, the slot in result", async (t) => {
  const msg = { jsonrpc: "2.0", id: 3, result: { content: [{ type: "text", text: "é" }], isError: false } };
  const r = rpcMessage(msg);
  t.same(json(r), msg);
  t.equal(r.response, true);
  t.same(r.slot, { offset: r.body.indexOf('"result":{') + '"result":{'.length, inMeta: false });
  t.same(gatewaySplice(r, '"x":1'), { ...msg, result: { _meta: { x: 1 }, ...msg.result } });

  const withMeta = rpcMessage({ jsonrpc: "2.0", id: "q", result: { tools: [], _meta: { k: 2 } } });
  t.equal(withMeta.slot!.inMeta, true);
  t.same(gatewaySplice(withMeta, '"x":1'), { jsonrpc: "2.0", id: "q", result: { _meta: { x: 1, k: 2 }, tools: [] } });

  const empty = rpcMessage({ jsonrpc: "2.0", id: 4, result: {} });
  t.same(json(empty), { jsonrpc: "2.0", id: 4, result: {} });
  t.same(gatewaySplice(empty, '"x":1'), { jsonrpc: "2.0", id: 4, result: { _meta: { x: 1 } } }, "an empty result");
  t.same(json(rpcMessage({ jsonrpc: "2.0", result: {} })).id, null, "no id: null");
});

t.test("rpcMessage: errors are responses, without a slot", async (t) => {
  const msg = { jsonrpc: "2.0", id: 5, error: { code: -32010, message: "unavailable", data: { server: "github" } } };
  const e = rpcMessage(msg);
  t.same(json(e), msg);
  t.equal(e.response, true);
  t.equal(e.slot, undefined);
  t.same(
    json(rpcMessage({ jsonrpc: "2.0", id: "a", error: { code: -32601, message: "nope" } })),
    { jsonrpc: "2.0", id: "a", error: { code: -32601, message: "nope" } },
    "no data: none",
  );
  t.same(
    json(rpcMessage({ jsonrpc: "2.0", id: 6, error: {} })),
    { jsonrpc: "2.0", id: 6, error: { code: -32603, message: "Internal error" } },
    "an error without code or message",
  );
  t.same(json(rpcMessage({ jsonrpc: "2.0", id: 6, error: { code: "x", message: 1 } })).error, { code: -32603, message: "Internal error" });
  t.same(
    json(rpcMessage({ jsonrpc: "2.0", id: 7 })),
    { jsonrpc: "2.0", id: 7, error: { code: -32603, message: "Internal error" } },
    "neither result nor error",
  );
  t.same(json(rpcMessage({ jsonrpc: "2.0", id: 8, result: [1] })).error, { code: -32603, message: "Internal error" }, "a result that is not an object");
});

t.test("rpcMessage: byte offsets with multi-byte characters before the slot", async (t) => {
  const r = rpcMessage({ jsonrpc: "2.0", id: "ü-😀", method: "notifications/é", params: { a: "ö" } });
  t.same(gatewaySplice(r, '"x":1'), { jsonrpc: "2.0", id: "ü-😀", method: "notifications/é", params: { _meta: { x: 1 }, a: "ö" } });
  const s = rpcMessage({ jsonrpc: "2.0", id: "ü-😀", result: { _meta: { é: 1 } } });
  t.same(gatewaySplice(s, '"x":1'), { jsonrpc: "2.0", id: "ü-😀", result: { _meta: { x: 1, é: 1 } } });
});

t.test("rpcMessage: any notification, request or result parses back, and the gateway's splice still parses (property)", async (t) => {
  const key = fc.string({ unit: "binary", maxLength: 8 }).filter((k) => k !== "_meta" && k !== "__proto__");
  const obj = fc.dictionary(key, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4, noNullPrototype: true });
  const meta = fc.option(fc.dictionary(key, fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3, noNullPrototype: true }), { nil: undefined });
  const id = fc.oneof(fc.string({ unit: "binary", maxLength: 10 }), fc.integer());
  const body = fc
    .tuple(fc.option(obj, { nil: undefined }), meta)
    .map(([o, m]) => (o === undefined && m === undefined ? undefined : { ...(m !== undefined ? { _meta: m } : {}), ...o }));
  const message = fc.oneof(
    fc.record({ method: fc.string({ unit: "binary", maxLength: 20 }), params: body }, { requiredKeys: ["method"] }),
    fc.record({ id, method: fc.string({ unit: "binary", maxLength: 20 }), params: body }, { requiredKeys: ["id", "method"] }),
    fc.record({ id, result: body.map((b) => b ?? {}) }),
  );
  fc.assert(
    fc.property(message, (m) => {
      const msg: Record<string, unknown> = { jsonrpc: "2.0", ...m };
      if (msg.params === undefined) delete msg.params;
      const r = rpcMessage(msg);
      const expected = JSON.parse(JSON.stringify("method" in msg ? { ...msg, params: msg.params ?? {} } : msg)) as Record<string, unknown>;
      deepStrictEqual(json(r), expected);
      const where = ("method" in msg ? "params" : "result") as "params" | "result";
      const inner = expected[where] as Record<string, unknown>;
      const hadMeta = typeof inner._meta === "object";
      if (r.slot?.inMeta !== hadMeta) throw new Error(`inMeta ${r.slot?.inMeta} for ${JSON.stringify(msg)}`);
      const spliced = gatewaySplice(r, '"radiant/seq_num":9') as Record<string, Record<string, unknown>>;
      deepStrictEqual(spliced[where], { ...inner, _meta: { "radiant/seq_num": 9, ...(inner._meta as object | undefined) } });
      return true;
    }),
    fuzzOptions(),
  );
  t.pass();
});
