import t from "tap";
import { Key, Peek, idJson, peek } from "./peek.js";

const look = (s: string) => {
  const b = Buffer.from(s);
  return { b, p: peek(b, new Peek()) };
};

t.test("a JSON-RPC request: keys, id and method found in place", async (t) => {
  const { b, p } = look(' {"jsonrpc":"2.0", "method" : "tools/call","params":{"id":{"x":"}"}},"id":"a\\"b"} ');
  t.ok(p.ok);
  t.ok(p.has(Key.jsonrpc) && p.has(Key.method) && p.has(Key.params) && p.has(Key.id));
  t.equal(b.toString("utf8", p.methodStart, p.methodEnd), "tools/call");
  t.equal(idJson(b, p), '"a\\"b"');
});

t.test("a batch is an array", async (t) => {
  const { p } = look('[{"jsonrpc":"2.0","method":"ping","id":1}]');
  t.ok(p.ok);
  t.ok(p.array);
});

t.test("not JSON, or cut short, is not ok", async (t) => {
  for (const s of ["nope", "", "{", '{"a":', '{"a":1', '{"a" 1}', '{"a":"x}', "[1,2", '{"a":1} x', "12", '"str"']) {
    t.notOk(look(s).p.ok, JSON.stringify(s));
  }
});

t.test("ids that are not JSON-RPC ids come back as null", async (t) => {
  const { b, p } = look('{"id":{"a":1},"method":"x"}');
  t.equal(idJson(b, p), "null");
  const n = look('{"id":-12}');
  t.equal(idJson(n.b, n.p), "-12");
});

t.test("LLM bodies: keys noted at top level only", async (t) => {
  const { p } = look('{"model":"m","messages":[{"role":"user","content":"{\\"system\\":1}"}],"top_k":3}');
  t.ok(p.ok);
  t.ok(p.has(Key.messages) && p.has(Key.top_k));
  t.notOk(p.has(Key.system));
});
