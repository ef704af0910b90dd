import t from "tap";
import { EnvelopeError, asSessionId, decodeInbox, encodeInbox, formatMetaSlot, isSessionId, makeSessionId, parseMetaSlot, requestKey, requestMsgId, subjects } from "./wire.js";

const SID = makeSessionId("abcdef", new Uint8Array(16).fill(7));

t.test("inbox envelope: the client's bytes travel untouched", async (t) => {
  const body = Buffer.from('{"jsonrpc":"2.0","id":1,"method":"ping","x":"é\\u0000"}');
  const env = decodeInbox(encodeInbox({ v: 1, sid: SID, proto: "mcp", principal: "p", ts: 123.5, body }));
  t.match(env, { v: 1, sid: SID, proto: "mcp", principal: "p", ts: 123.5 });
  t.ok(Buffer.from(env.body).equals(body), "body byte for byte");
});

t.test("a bad envelope is refused, not guessed at", async (t) => {
  const bad = [
    Buffer.from([0xc1]),
    Buffer.from("not msgpack at all"),
    encodeInbox({ v: 1, sid: SID, proto: "nope" as never, principal: "p", ts: 1, body: new Uint8Array() }),
    encodeInbox({ v: 2 as never, sid: SID, proto: "mcp", principal: "p", ts: 1, body: new Uint8Array() }),
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
  t.equal(SID.length, 28);
  t.equal(subjects.inbox("mcp", SID), `in.mcp.${SID}`);
  t.equal(subjects.history(SID), `hist.abcdef.${SID}`, "the home (first 6 chars) is a token of its own");
  t.equal(subjects.live(SID), `out.abcdef.${SID}`);
  t.equal(subjects.liveHome("abcdef"), "out.abcdef.*");
  t.equal(subjects.sidOfLive(subjects.live(SID)), SID);
  t.equal(subjects.sidOfEnded(subjects.ended(SID)), SID);
  t.equal(subjects.sidOfLive("out.abcdef.*"), undefined, "a wildcard is no session");
  t.equal(subjects.sidOfEnded("ended.x y"), undefined);
  t.ok(isSessionId("Xk3p9Qn7CwoAsstjBLzJlhMYvgUw"));
});

t.test("a session id is exactly what gateways make: the table of what is refused", async (t) => {
  const ok = "Xk3p9Qn7CwoAsstjBLzJlhMYvgUw";
  const bad: unknown[] = [
    "*", ">", "out.*.*", `${ok.slice(0, 27)}*`, `${ok.slice(0, 27)}>`, `${ok.slice(0, 27)}.`, `${ok.slice(0, 14)} ${ok.slice(15)}`,
    `${ok.slice(0, 27)}\n`, `${ok.slice(0, 27)}\t`, "", ok.slice(0, 27), `${ok}A`, "A".repeat(1000), `${ok.slice(0, 27)}é`, `${ok.slice(0, 27)}=`,
    `${ok.slice(0, 27)}+`, `${ok.slice(0, 27)}/`, 123, null, undefined, {}, ["a"],
  ];
  for (const b of bad) t.equal(asSessionId(b), undefined, JSON.stringify(b) ?? String(b));
  t.equal(asSessionId(ok), ok);
  t.throws(() => makeSessionId("a.b.c.", new Uint8Array(16)), "a home with a dot makes no session id");
});

t.test("request keys never carry a client's bytes as they came", async (t) => {
  const cases = ["1", '"a"', '"a\\nb"', '"*"', '">"', `"${"x".repeat(70_000)}"`, '"é"', "-1.5e3"];
  for (const id of cases) {
    const k = requestKey(id);
    t.match(k, /^[ih][A-Za-z0-9_-]+$/, `${id.slice(0, 20)} → header- and subject-safe`);
    t.ok(k.length <= 66, "bounded");
    t.equal(requestKey(id), k, "the same id, the same key");
  }
  t.not(requestKey("1"), requestKey('"1"'), "1 and \"1\" are different ids");
  t.match(requestMsgId(SID, "1"), new RegExp(`^${SID}:i`));
});
