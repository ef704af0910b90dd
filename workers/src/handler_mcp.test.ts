// The MCP handler: which frame is a response, which ends the reply, and the
// test methods stopping when their signal fires.
import t from "tap";
import { randomBytes } from "node:crypto";
import { makeSessionId, type Operation } from "@radiant/wire";
import type { HandlerContext, Reply } from "./handler.js";
import { mcpHandler, mcpMethods } from "./handler_mcp.js";
import { testMethods } from "./handler_test_methods.js";
import { captureLog } from "../test/fakes.js";

const h = mcpHandler({ ...mcpMethods, ...testMethods });
const sid = makeSessionId("mtest1", randomBytes(16));

function ctx(signal = new AbortController().signal): HandlerContext {
  return { log: captureLog().log, working: () => {}, signal, cancelRequest: () => {}, committed: () => {} };
}

async function all(body: unknown, c = ctx()): Promise<(Reply & { json: Record<string, unknown> })[]> {
  const out: (Reply & { json: Record<string, unknown> })[] = [];
  const req = {
    body: Buffer.from(typeof body === "string" ? body : JSON.stringify(body)),
    sid,
    rid: "gx1",
    op: "rpc" as Operation<"mcp">,
    principal: "anonymous",
  };
  for await (const r of h(req, c)) out.push({ ...r, json: JSON.parse(r.body.toString()) as Record<string, unknown> });
  return out;
}

const flags = (rs: Reply[]) => rs.map((r) => [r.response === true, r.last === true]);

t.test("a single request: its response is the last frame", async (t) => {
  t.same(flags(await all({ jsonrpc: "2.0", id: 1, method: "ping" })), [[true, true]]);
  t.same(flags(await all({ jsonrpc: "2.0", id: 1, method: "nope" })), [[true, true]], "an error too");
  t.same(flags(await all("{not json")), [[true, true]], "a parse error too");
  t.same(flags(await all({ jsonrpc: "2.0", method: "notifications/initialized" })), [], "a notification: nothing");
});

t.test("a stream: chunks are not responses, its result ends it, slots kept", async (t) => {
  const rs = await all({ jsonrpc: "2.0", id: "s", method: "radiant.test/stream", params: { count: 3 } });
  t.same(flags(rs), [
    [false, false],
    [false, false],
    [false, false],
    [true, true],
  ]);
  t.ok(
    rs.every((r) => r.slot !== undefined),
    "results and notification params have a _meta slot",
  );
});

t.test("a batch: only the last response ends it", async (t) => {
  const rs = await all([
    { jsonrpc: "2.0", id: 1, method: "ping" },
    { jsonrpc: "2.0", method: "notifications/initialized" },
    { jsonrpc: "2.0", id: 2, method: "radiant.test/stream", params: { count: 2 } },
    { jsonrpc: "2.0", method: "notifications/initialized" },
  ]);
  t.same(flags(rs), [
    [true, false],
    [false, false],
    [false, false],
    [true, true],
  ]);
  t.same(
    rs.map((r) => r.json.id),
    [1, undefined, undefined, 2],
  );
  const inv = await all([{ jsonrpc: "2.0", id: 1, method: "ping" }, 42]);
  t.same(
    flags(inv),
    [
      [true, false],
      [true, true],
    ],
    "an invalid item's error can be the last",
  );
});

t.test("test methods stop when their signal fires", async (t) => {
  const ac = new AbortController();
  const started = Date.now();
  setTimeout(() => ac.abort("cancelled by the client"), 100);
  const seen: Reply[] = [];
  const req = {
    body: Buffer.from(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "radiant.test/stream", params: { count: 1000, delayMs: 20 } })),
    sid,
    rid: "gx2",
    op: "rpc" as const,
    principal: "a",
  };
  await t.rejects(
    (async () => {
      for await (const r of h(req, ctx(ac.signal))) seen.push(r);
    })(),
    { name: "AbortError" },
  );
  t.ok(seen.length > 0 && seen.length < 20, `${seen.length} chunks before the abort`);
  t.ok(Date.now() - started < 1000);

  const ac2 = new AbortController();
  setTimeout(() => ac2.abort("timed out"), 50);
  await t.rejects(all({ jsonrpc: "2.0", id: 1, method: "radiant.test/sleep", params: { ms: 60000 } }, ctx(ac2.signal)), { name: "AbortError" });

  const ac3 = new AbortController();
  const { log, lines } = captureLog();
  setTimeout(() => ac3.abort("session ended"), 50);
  t.same(await all({ jsonrpc: "2.0", id: 1, method: "radiant.test/wait" }, { ...ctx(ac3.signal), log }), [], "wait publishes nothing");
  t.ok(
    lines.some((l) => l.msg === "request cancelled" && l.reason === "session ended" && l.level === 30),
    "logged at info with the reason",
  );
});
