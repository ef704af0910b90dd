import t from "tap";
import { eventBytes } from "./sse_stream.js";

const text = (b: Uint8Array) => Buffer.from(b).toString();

t.test("a stored message: one data line first (the Google SDK drops an event that starts otherwise), the id line, a blank line", async (t) => {
  t.equal(text(eventBytes(Buffer.from('{"a":"é"}'), 42)), 'data: {"a":"é"}\nid: 42\n\n');
});

t.test("an event name (Anthropic's stream needs them) goes after the data", async (t) => {
  t.equal(text(eventBytes('{"type":"message_stop"}', 9, "message_stop")), 'data: {"type":"message_stop"}\nevent: message_stop\nid: 9\n\n');
});

t.test("a frame that is not stored (seq 0) has no id: EventSource keeps its last one", async (t) => {
  t.equal(text(eventBytes('{"type":"session"}', 0)), 'data: {"type":"session"}\n\n');
});

t.test("line breaks between JSON tokens become spaces: one data line, the same JSON", async (t) => {
  const pretty = JSON.stringify({ a: [1, 2], s: "x\ny" }, null, 2).replace(/\n/g, "\r\n");
  const ev = text(eventBytes(Buffer.from(pretty), 7));
  const lines = ev.split("\n");
  t.same(lines.slice(1), ["id: 7", "", ""], "nothing after the data line but the id and the blank line");
  t.same(JSON.parse(lines[0]!.slice("data: ".length)), { a: [1, 2], s: "x\ny" }, "escaped newlines inside strings untouched");
});

t.test("a large frame grows the scratch buffer", async (t) => {
  const big = Buffer.from(JSON.stringify({ pad: "x".repeat(200_000) }));
  t.equal(eventBytes(big, 1).length, big.length + "data: \nid: 1\n\n".length);
});
