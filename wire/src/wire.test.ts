import t from "tap";
import { headers as natsHeaders, MsgHdrsImpl, type MsgHdrs } from "@nats-io/nats-core";
import {
  asSessionId,
  canonicalIdJson,
  controlHeaders,
  decodeInbox,
  encodeInbox,
  EnvelopeError,
  formatFrames,
  isSessionId,
  makeSessionId,
  parseFrames,
  readControl,
  readReply,
  parseHead,
  formatHead,
  replyHeaders,
  requestKey,
  requestMsgId,
  RequestIds,
  rpcRequestId,
  subjects,
  headerOf,
  headers,
  newHeaders,
  putHeader,
  type FrameInfo,
} from "./index.js";

const SID = makeSessionId("abcdef", new Uint8Array(16).fill(7));

t.test("inbox envelope: the client's bytes travel untouched", async (t) => {
  const body = Buffer.from('{"jsonrpc":"2.0","id":1,"method":"ping","x":"é\\u0000"}');
  const env = decodeInbox(encodeInbox({ v: 2, sid: SID, proto: "mcp", op: "rpc", rid: "iMQ", principal: "p", ts: 123.5, body }));
  t.match(env, { v: 2, sid: SID, proto: "mcp", op: "rpc", rid: "iMQ", principal: "p", ts: 123.5 });
  t.ok(Buffer.from(env.body).equals(body), "body byte for byte");
  const a2a = decodeInbox(encodeInbox({ v: 2, sid: SID, proto: "a2a", op: "rpc", rid: "iMQ", principal: "p", ts: 1, body, target: "echo" }));
  t.equal(a2a.target, "echo", "an agent's name, when the URL named one");
});

t.test("a bad envelope is refused, not guessed at", async (t) => {
  const bad = [
    Buffer.from([0xc1]),
    Buffer.from("not msgpack at all"),
    encodeInbox({ v: 2, sid: SID, proto: "nope" as never, op: "rpc", rid: "iMQ", principal: "p", ts: 1, body: new Uint8Array() }),
    encodeInbox({ v: 1 as never, sid: SID, proto: "mcp", op: "rpc", rid: "iMQ", principal: "p", ts: 1, body: new Uint8Array() }),
    encodeInbox({ v: 2, sid: SID, proto: "mcp", op: "chat" as never, rid: "iMQ", principal: "p", ts: 1, body: new Uint8Array() }),
    encodeInbox({ v: 2, sid: SID, proto: "mcp", op: "rpc", rid: "a.b*", principal: "p", ts: 1, body: new Uint8Array() }),
    encodeInbox({ v: 2, sid: "out.*.*" as never, proto: "mcp", op: "rpc", rid: "iMQ", principal: "p", ts: 1, body: new Uint8Array() }),
    // a target is a name, never a subject or a path
    ...["a.b", "*", ">", "", "x/y", "1a", "a".repeat(33), 5].map((target) =>
      encodeInbox({ v: 2, sid: SID, proto: "a2a", op: "rpc", rid: "iMQ", principal: "p", ts: 1, body: new Uint8Array(), target: target as never }),
    ),
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

t.test("a reply's frames descriptor round-trips, and one that does not fit its body is refused", async (t) => {
  const frames: FrameInfo[] = [
    { length: 57, slot: { offset: 30, inMeta: false }, response: true },
    { length: 80, slot: { offset: 41, inMeta: true } },
    { length: 120, event: "content_block_delta" },
    { length: 5 },
  ];
  t.same(parseFrames(formatFrames(frames), 262), frames);
  t.same(parseFrames(formatFrames([]), 0), [], "no frames: an end marker");
  for (const [bad, size] of [
    ["57", 58],
    ["57@57", 57],
    ["57@0", 57],
    ["x", 1],
    ["5:no spaces", 5],
    ["5:a\nb", 5],
    ["none", 3],
    ["", 0],
    ["5,", 5],
  ] as const) {
    t.equal(parseFrames(bad, size), undefined, JSON.stringify(bad));
  }
  t.throws(() => formatFrames([{ length: 1, event: "a b" }]), "an event name that would break the header or the SSE line");
});

t.test("reply headers: what the gateway reads is what the worker wrote; a plain single frame needs no descriptor", async (t) => {
  const h = replyHeaders({ rid: "iMQ", frames: [{ length: 3, response: true }], end: true, ingressTs: 5 });
  t.same(readReply(h, 3), { rid: "iMQ", end: true, frames: [{ length: 3, response: true }] });
  const plain = replyHeaders({ rid: "gabcdef1", frames: [{ length: 3 }], end: false, ingressTs: 5 });
  t.same(readReply(plain, 3), { rid: "gabcdef1", end: false, frames: undefined });
  const forged = natsHeaders();
  forged.set("Radiant-Request", "out.*.>");
  forged.set("Radiant-Frames", "999");
  t.same(readReply(forged, 3), { rid: undefined, end: false, frames: undefined }, "a bad request id or descriptor is dropped, never trusted");
});

t.test("our headers: set straight, read back after the wire, refused with CR or LF, and read from any MsgHdrs", async (t) => {
  const h = newHeaders() as MsgHdrsImpl;
  putHeader(h, headers.request, "r1");
  putHeader(h, headers.end, "1");
  putHeader(h, headers.msgId, "m:1");
  t.throws(() => putHeader(h, headers.request, "a\r\nNats-Msg-Id: forged"), /CR or LF/);
  const back = MsgHdrsImpl.decode(h.encode());
  t.equal(headerOf(back, headers.request), "r1");
  t.equal(headerOf(back, headers.end), "1");
  t.equal(headerOf(back, headers.msgId), "m:1");
  t.equal(headerOf(back, headers.frames), "", "absent: empty, as nats.js says it");
  t.equal(headerOf(undefined, headers.request), "");
  // a MsgHdrs of another make (a second copy of nats-core): its own get()
  const other: MsgHdrs = Object.assign(Object.create(null) as object, {
    get: (k: string) => (k === headers.end ? "1" : ""),
    set: () => {},
  }) as unknown as MsgHdrs;
  t.equal(headerOf(other, headers.end), "1");
});

t.test("control notices round-trip; anything else is not one", async (t) => {
  for (const c of [
    { kind: "takeover", by: "abcDEF_-" },
    { kind: "ended" },
    { kind: "resumedFrom", eventId: 42 },
    { kind: "cancel", rid: "iMQ", reason: "client gone" },
  ] as const) {
    t.same(readControl(controlHeaders(c)), c);
  }
  for (const v of ["", "takeover", "takeover a.b", "resumed-from -1", "resumed-from x", "cancel iMQ 99", "cancel iMQ 0", "cancel *.> gone", "nope"]) {
    const h = natsHeaders();
    if (v !== "") h.set("Radiant-Control", v);
    t.equal(readControl(h), undefined, JSON.stringify(v));
  }
  t.throws(() => controlHeaders({ kind: "cancel", rid: "not a rid!", reason: "client gone" }));
});

t.test("request ids: a JSON-RPC id makes the same id at the gateway (raw) and the worker (parsed); others are unique", async (t) => {
  for (const [raw, parsed] of [
    ["1", 1],
    ["1.0", 1],
    ["-0", 0],
    ['"A"', "A"],
    ['"\\u0041"', "A"],
    ["1e2", 100],
    ['"é"', "é"],
  ] as const) {
    t.equal(rpcRequestId(raw), rpcRequestId(JSON.stringify(parsed)), `${raw} ≡ ${JSON.stringify(parsed)}`);
  }
  t.equal(canonicalIdJson("12"), "12");
  t.not(rpcRequestId("1"), rpcRequestId('"1"'));
  const ids = new RequestIds("homeAA");
  const made = new Set(Array.from({ length: 1000 }, () => ids.make()));
  t.equal(made.size, 1000);
  for (const r of made) t.match(r, /^ghomeAA[0-9a-z]+$/);
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
    "*",
    ">",
    "out.*.*",
    `${ok.slice(0, 27)}*`,
    `${ok.slice(0, 27)}>`,
    `${ok.slice(0, 27)}.`,
    `${ok.slice(0, 14)} ${ok.slice(15)}`,
    `${ok.slice(0, 27)}\n`,
    `${ok.slice(0, 27)}\t`,
    "",
    ok.slice(0, 27),
    `${ok}A`,
    "A".repeat(1000),
    `${ok.slice(0, 27)}é`,
    `${ok.slice(0, 27)}=`,
    `${ok.slice(0, 27)}+`,
    `${ok.slice(0, 27)}/`,
    123,
    null,
    undefined,
    {},
    ["a"],
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
  t.not(requestKey("1"), requestKey('"1"'), '1 and "1" are different ids');
  t.equal(requestMsgId(SID, requestKey("1")), `${SID}:${requestKey("1")}`, "the de-duplication id: session and request id");
});

t.test("a reply's response head: written, read back, and anything else ignored", async (t) => {
  const h = replyHeaders({ rid: "gabc1", frames: [{ length: 3 }], end: false, ingressTs: 1, head: { status: 429, stream: false, retryAfter: "3" } });
  t.same(readReply(h, 3).head, { status: 429, stream: false, retryAfter: "3" });
  t.same(parseHead("200 sse"), { status: 200, stream: true });
  for (const bad of ["200", "99 sse", "600 json", "200 SSE", "200 sse x", "200 json -1", " 200 sse"]) t.equal(parseHead(bad), undefined, bad);
  t.throws(() => formatHead({ status: 42, stream: true }));
  t.equal(formatHead({ status: 503, stream: false, retryAfter: "soon" }), "503 json", "a retry-after that is not seconds is left out");
  t.equal(readReply(replyHeaders({ rid: "gabc1", frames: [{ length: 3 }], end: true, ingressTs: 1 }), 3).head, undefined);
});
