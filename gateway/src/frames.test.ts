import t from "tap";
import type { SessionId } from "@radiant/wire";
import { directFrame, liveFrame, sessionFrame } from "./frames.js";

const token = "h.p.s";
const text = (u: Uint8Array) => Buffer.from(u).toString();

t.test("default framing: seq_num and resume_token spliced in front, body untouched", async (t) => {
  const body = Buffer.from('{"jsonrpc":"2.0","id":1,"result":{"a":"é"}}');
  const f = JSON.parse(text(liveFrame("json", 42, token, body, undefined)));
  t.same(f, { seq_num: 42, resume_token: "h.p.s", jsonrpc: "2.0", id: 1, result: { a: "é" } });
  t.same(JSON.parse(text(liveFrame("json", 7, token, Buffer.from("{}"), undefined))), { seq_num: 7, resume_token: "h.p.s" });
});

t.test("the scratch buffer grows for a large body and is reused", async (t) => {
  const big = Buffer.from(JSON.stringify({ pad: "x".repeat(200_000) }));
  t.equal(JSON.parse(text(liveFrame("json", 1, token, big, undefined))).pad.length, 200_000);
  t.equal(JSON.parse(text(liveFrame("json", 2, token, Buffer.from('{"a":1}'), undefined))).a, 1);
});

t.test("mcp framing: _meta spliced at the worker's slot, or the body as is", async (t) => {
  const prefix = '{"jsonrpc":"2.0","id":1,"result":';
  const empty = Buffer.from(`${prefix}{}}`);
  t.same(JSON.parse(text(liveFrame("mcp", 9, token, empty, { offset: prefix.length + 1, inMeta: false }))).result, { _meta: { "radiant/seq_num": 9 } });
  const full = Buffer.from(`${prefix}{"x":1}}`);
  t.same(JSON.parse(text(liveFrame("mcp", 9, token, full, { offset: prefix.length + 1, inMeta: false }))).result, { _meta: { "radiant/seq_num": 9 }, x: 1 });
  const meta = Buffer.from(`${prefix}{"_meta":{"k":2},"x":1}}`);
  t.same(JSON.parse(text(liveFrame("mcp", 9, token, meta, { offset: prefix.length + '{"_meta":{'.length, inMeta: true }))).result, {
    _meta: { "radiant/seq_num": 9, k: 2 },
    x: 1,
  });
  const err = Buffer.from('{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m"}}');
  t.equal(text(liveFrame("mcp", 9, token, err, undefined)), err.toString(), "no slot: untouched");
});

t.test("session and direct frames per framing", async (t) => {
  t.same(JSON.parse(sessionFrame("json", { sid: "s" as SessionId, token: "t" })), { type: "session", sid: "s", resume_token: "t", seq_num: 0 });
  t.same(JSON.parse(sessionFrame("mcp", { sid: "s" as SessionId, token: "t" })), {
    jsonrpc: "2.0",
    method: "notifications/radiant/session",
    params: { _meta: { "radiant/seq_num": 0 }, sid: "s", resume_token: "t" },
  });
  const err = '{"jsonrpc":"2.0","id":3,"error":{"code":-32000,"message":"x"}}';
  t.same(JSON.parse(directFrame("json", err, "t")), { seq_num: 0, resume_token: "t", ...JSON.parse(err) });
  t.equal(directFrame("mcp", err, "t"), err);
});
