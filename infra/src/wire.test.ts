import t from "tap";
import { EnvelopeError, decodeInbox, encodeInbox, formatMetaSlot, isSessionId, parseMetaSlot, subjects } from "./wire.js";

t.test("inbox envelope: the client's bytes travel untouched", async (t) => {
  const body = Buffer.from('{"jsonrpc":"2.0","id":1,"method":"ping","x":"é\\u0000"}');
  const env = decodeInbox(encodeInbox({ v: 1, sid: "abcdefgh", proto: "mcp", principal: "p", ts: 123.5, body }));
  t.match(env, { v: 1, sid: "abcdefgh", proto: "mcp", principal: "p", ts: 123.5 });
  t.ok(Buffer.from(env.body).equals(body), "body byte for byte");
});

t.test("a bad envelope is refused, not guessed at", async (t) => {
  const bad = [
    Buffer.from([0xc1]),
    Buffer.from("not msgpack at all"),
    encodeInbox({ v: 1, sid: "abcdefgh", proto: "nope" as never, principal: "p", ts: 1, body: new Uint8Array() }),
    encodeInbox({ v: 2 as never, sid: "abcdefgh", proto: "mcp", principal: "p", ts: 1, body: new Uint8Array() }),
  ];
  for (const b of bad) {
    let err: unknown;
    try {
      decodeInbox(b);
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof EnvelopeError, `refused: ${(err as Error)?.message}`);
  }
});

t.test("meta slots round-trip", async (t) => {
  for (const slot of [{ offset: 30, inMeta: false }, { offset: 41, inMeta: true }]) t.same(parseMetaSlot(formatMetaSlot(slot)), slot);
  t.equal(parseMetaSlot(""), undefined);
  t.equal(parseMetaSlot("x"), undefined);
});

t.test("subjects are spelled here; session ids fit one subject token", async (t) => {
  t.equal(subjects.inbox("mcp", "abcdefgh"), "in.mcp.abcdefgh");
  t.equal(subjects.history("abcdefgh"), "hist.abcdef.abcdefgh", "the home (first 6 chars) is a token of its own");
  t.equal(subjects.live("abcdefgh"), "out.abcdef.abcdefgh");
  t.equal(subjects.liveHome("abcdef"), "out.abcdef.*");
  t.equal(subjects.sidOfLive(subjects.live("abcdefgh")), "abcdefgh");
  t.ok(isSessionId("n7CwoAsstjBLzJlhMYvgUw"));
  for (const bad of ["a.b.c.d.e", "abc*defgh", "abc>defgh", "short", "with space"]) t.notOk(isSessionId(bad), bad);
});
