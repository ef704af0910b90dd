import t from "tap";
import { MAX_EVENT_BYTES, SseParser } from "./sse_parse.js";

const enc = (s: string) => new TextEncoder().encode(s);

t.test("events split anywhere, every line ending, comments and ids skipped", async (t) => {
  const text = 'event: a\r\ndata: {"x":1}\r\n\r\n: comment\ndata: one\ndata: two\nid: 7\n\ndata:tight\r\rdata: [DONE]\n\n';
  const want = [{ event: "a", data: '{"x":1}' }, { data: "one\ntwo" }, { data: "tight" }, { data: "[DONE]" }];
  for (let cut = 0; cut <= text.length; cut++) {
    const p = new SseParser();
    const got = [...p.push(enc(text.slice(0, cut))), ...p.push(enc(text.slice(cut))), ...p.end()];
    t.same(got, want, `cut at ${cut}`);
  }
  const p = new SseParser();
  const bytes = enc(text);
  const got = [];
  for (const b of bytes) got.push(...p.push(Uint8Array.of(b)));
  t.same(got, want, "one byte at a time");
});

t.test("a multi-byte character split between chunks survives", async (t) => {
  const b = enc("data: héllo ✓\n\n");
  const p = new SseParser();
  t.same([...p.push(b.subarray(0, 8)), ...p.push(b.subarray(8))], [{ data: "héllo ✓" }]);
});

t.test("a trailing event without a blank line is dropped; an endless event is refused", async (t) => {
  const p = new SseParser();
  t.same(p.push(enc("data: whole\n\ndata: partial")), [{ data: "whole" }]);
  t.same(p.end(), []);
  const q = new SseParser();
  const big = enc(`data: ${"x".repeat(1024 * 1024)}`);
  t.throws(() => {
    for (let i = 0; i <= MAX_EVENT_BYTES / big.length + 1; i++) q.push(big);
  });
});
