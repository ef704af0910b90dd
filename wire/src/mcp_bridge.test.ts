// The MCP bridge's contract, the parts that read what others wrote: the ids of
// server→client requests (a client sends them back, so any string may come)
// and the bodies of the bridge's requests (the session id names a KV key).
// Hostile input gives undefined, never a throw.
//
// Property runs are bounded and the seed is fixed (FUZZ_RUNS / FUZZ_SEED as in
// gateway/src/fuzz_input.test.ts).
import fc from "fast-check";
import t from "tap";
import { encodeBridge, readBridgeBody, readServerRequestId, serverRequestId, type CallRequest } from "./mcp_bridge.js";
import { isSessionId, makeSessionId } from "./session_id.js";

const envInt = (name: string, dflt: number): number => {
  const v = Number(process.env[name]);
  return Number.isSafeInteger(v) && v > 0 ? v : dflt;
};
const RUNS = envInt("FUZZ_RUNS", 300);
const SEED = envInt("FUZZ_SEED", 20261126);
const opts = (runs = RUNS) => ({ seed: SEED, numRuns: runs, includeErrorInReport: true });

const SID = makeSessionId("bridge", new Uint8Array(16).fill(7));
const noThrow = <T>(f: () => T): T => {
  try {
    return f();
  } catch (e) {
    throw new Error(`threw ${String(e)}`);
  }
};

// ---- server→client request ids -------------------------------------------------------------------
t.test("serverRequestId: <server>:<the upstream's id as JSON>", async (t) => {
  t.equal(serverRequestId("github", 7), "github:7");
  t.equal(serverRequestId("github", "7"), 'github:"7"', "a string id stays a string");
  t.equal(serverRequestId("a-b", 'x:"y"'), 'a-b:"x:\\"y\\""');
});

t.test("readServerRequestId inverts serverRequestId", async (t) => {
  const ids: (string | number)[] = [
    0,
    1,
    -1,
    42,
    1.5,
    -2.25e-7,
    1e21,
    Number.MAX_SAFE_INTEGER,
    "",
    "7",
    "abc",
    "a:b",
    "::",
    ":x:",
    '"',
    'say "hi"',
    "\\",
    "\n\t",
    "é😀",
    "\ud800",
    "null",
    "1",
  ];
  for (const server of ["github", "a", "A-9", "x".repeat(32)])
    for (const id of ids) t.same(readServerRequestId(serverRequestId(server, id)), { server, upstreamId: id }, `${server} ${JSON.stringify(id)}`);
  t.equal(readServerRequestId(serverRequestId("s", "7"))!.upstreamId, "7", "the string '7' is not the number 7");
  t.equal(readServerRequestId(serverRequestId("s", 7))!.upstreamId, 7);
});

t.test("readServerRequestId: anything else is undefined", async (t) => {
  const hostile: [string, unknown][] = [
    ["number", 7],
    ["null", null],
    ["undefined", undefined],
    ["object", { server: "a", id: 1 }],
    ["array", ["a", 1]],
    ["boolean", true],
    ["empty", ""],
    ["no colon", "github7"],
    ["no colon, JSON", '"github"'],
    ["leading colon", ":7"],
    ["leading colon, string", ':"x"'],
    ["only a colon", ":"],
    ["empty tail", "a:"],
    ["non-JSON tail", "a:x"],
    ["unquoted tail with colon", "a:b:c"],
    ["half a string", 'a:"x'],
    ["NaN", "a:NaN"],
    ["Infinity", "a:Infinity"],
    ["overflowing number", "a:1e400"],
    ["negative overflow", "a:-1e400"],
    ["hex", "a:0x10"],
    ["leading zero", "a:01"],
    ["null tail", "a:null"],
    ["true tail", "a:true"],
    ["object tail", 'a:{"id":1}'],
    ["empty object tail", "a:{}"],
    ["array tail", "a:[1]"],
    ["empty array tail", "a:[]"],
    ["two values", "a:1 2"],
    ["trailing junk", 'a:"x"y'],
  ];
  for (const [what, id] of hostile)
    t.equal(
      noThrow(() => readServerRequestId(id)),
      undefined,
      what,
    );
  t.same(readServerRequestId("a: 1 "), { server: "a", upstreamId: 1 }, "white space around the JSON is JSON");
  t.same(readServerRequestId("a b:1"), { server: "a b", upstreamId: 1 }, "the server part is not checked here (the bridge looks it up)");
});

t.test("server request ids: round trip and never a throw (properties)", async (t) => {
  const server = fc.stringMatching(/^[A-Za-z0-9-]{1,32}$/);
  const upstreamId = fc.oneof(
    fc.string({ unit: "binary", maxLength: 60 }),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0)),
  );
  fc.assert(
    fc.property(server, upstreamId, (s, id) => {
      const r = readServerRequestId(serverRequestId(s, id));
      return r !== undefined && r.server === s && r.upstreamId === id;
    }),
    opts(),
  );
  const valid = (r: ReturnType<typeof readServerRequestId>): boolean =>
    r === undefined || (r.server !== "" && !r.server.includes(":") && (typeof r.upstreamId === "string" || Number.isFinite(r.upstreamId)));
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 80 }), (s) => valid(noThrow(() => readServerRequestId(s)))),
    opts(),
  );
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 10 }), fc.jsonValue(), (s, v) => {
      const id = `${s}:${JSON.stringify(v)}`;
      const r = noThrow(() => readServerRequestId(id));
      if (!valid(r)) return false;
      // a server part without ':' and a string or number tail is read back; nothing else is
      const readable = s !== "" && !s.includes(":") && (typeof v === "string" || (typeof v === "number" && !Object.is(v, -0)));
      return readable ? r !== undefined && r.server === s && r.upstreamId === v : r === undefined || Object.is(v, -0) || s.includes(":");
    }),
    opts(),
  );
  fc.assert(
    fc.property(fc.anything(), (v) => valid(noThrow(() => readServerRequestId(v)))),
    opts(),
  );
  t.pass();
});

// ---- bridge request bodies ---------------------------------------------------------------------------
t.test("readBridgeBody: an object with a valid sid, as it was sent", async (t) => {
  t.ok(isSessionId(SID));
  const call: CallRequest = { sid: SID, key: "k.1", target: { server: "github" }, msg: { jsonrpc: "2.0", id: 1, method: "tools/list" } };
  t.same(readBridgeBody<CallRequest>(encodeBridge(call)), call);
  t.same(readBridgeBody(encodeBridge({ sid: SID })), { sid: SID });
  t.same(readBridgeBody(Buffer.from(` \n{"sid":"${SID}","x":"é"}\t`)), { sid: SID, x: "é" }, "white space around the JSON");
  // a view into a larger buffer (as NATS hands message data): only the view is read
  const big = Buffer.from(`garbage${JSON.stringify({ sid: SID, n: 1 })}more garbage`);
  const view = new Uint8Array(big.buffer, big.byteOffset + 7, big.length - 7 - 12);
  t.same(readBridgeBody(view), { sid: SID, n: 1 }, "a Uint8Array at an offset");
  t.same(readBridgeBody(big.subarray(7, big.length - 12)), { sid: SID, n: 1 }, "a Buffer slice");
});

t.test("readBridgeBody: bad JSON, not an object, a missing or invalid sid → undefined", async (t) => {
  const bodies: [string, string | Uint8Array][] = [
    ["empty", ""],
    ["not JSON", "sid=x"],
    ["truncated", `{"sid":"${SID}"`],
    ["trailing comma", `{"sid":"${SID}",}`],
    ["invalid UTF-8", Buffer.from([0x7b, 0xff, 0xfe, 0x7d])],
    ["null", "null"],
    ["number", "1"],
    ["string", JSON.stringify(SID)],
    ["array", JSON.stringify([SID])],
    ["array of a body", JSON.stringify([{ sid: SID }])],
    ["no sid", "{}"],
    ["sid null", '{"sid":null}'],
    ["sid a number", '{"sid":1}'],
    ["sid an object", JSON.stringify({ sid: { sid: SID } })],
    ["sid an array", JSON.stringify({ sid: [SID] })],
    ["sid too short", JSON.stringify({ sid: SID.slice(1) })],
    ["sid too long", JSON.stringify({ sid: `${SID}A` })],
    ["sid with a dot", JSON.stringify({ sid: `${SID.slice(0, 27)}.` })],
    ["sid with a wildcard *", JSON.stringify({ sid: `${SID.slice(0, 27)}*` })],
    ["sid with a wildcard >", JSON.stringify({ sid: `${SID.slice(0, 27)}>` })],
    ["sid with a space", JSON.stringify({ sid: `${SID.slice(0, 27)} ` })],
    ["sid with a newline", JSON.stringify({ sid: `${SID.slice(0, 27)}\n` })],
    ["sid with é", JSON.stringify({ sid: `${SID.slice(0, 27)}é` })],
    ["sid key escaped differently", `{"Sid":"${SID}"}`],
  ];
  for (const [what, body] of bodies)
    t.equal(
      noThrow(() => readBridgeBody(typeof body === "string" ? Buffer.from(body) : body)),
      undefined,
      what,
    );
});

t.test("readBridgeBody never throws, and what it returns has a valid sid (properties)", async (t) => {
  const ok = (r: unknown) => r === undefined || (typeof r === "object" && r !== null && !Array.isArray(r) && isSessionId((r as { sid: unknown }).sid));
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (b) => ok(noThrow(() => readBridgeBody(b)))),
    opts(),
  );
  fc.assert(
    fc.property(fc.jsonValue(), (v) => ok(noThrow(() => readBridgeBody(encodeBridge(v))))),
    opts(),
  );
  fc.assert(
    fc.property(
      fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 }), { noNullPrototype: true }),
      fc.oneof(fc.constant(SID), fc.string({ unit: "binary", maxLength: 30 })),
      (o, sid) => {
        const r = noThrow(() => readBridgeBody(encodeBridge({ ...o, sid })));
        return isSessionId(sid) ? r !== undefined && (r as { sid: unknown }).sid === sid : r === undefined;
      },
    ),
    opts(),
  );
  t.pass();
});
