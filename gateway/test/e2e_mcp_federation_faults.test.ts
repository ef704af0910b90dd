// MCP servers that fail, and RADIANT in front of them: one that is down (a
// JSON-RPC error naming it, the others keep working, reconnected with backoff
// once it is up), one too slow (its timeout), one that only speaks the older
// HTTP+SSE transport (the fallback), one that writes garbage, a stdio server
// that crashes (restarted, its tools back, list_changed), an answer too large
// for a message, and the MCP bridge itself killed and started again (the
// session's upstream state is taken up from NATS KV).
import t from "tap";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { freePort } from "@radiant/infra/proc";
import { eventually, startStack } from "./harness.js";
import { connectSdk, demoStdio, mcpConfig, startDemoHttp } from "./mcp_upstreams.js";

const textOf = (r: unknown): string => ((r as { content?: { text?: string }[] }).content ?? []).map((x) => x.text ?? "").join("");
const garbage = new URL("./fixtures/mcp_garbage.mjs", import.meta.url).pathname;

const laterPort = await freePort();
const legacy = await startDemoHttp(t, "sse");
const stack = await startStack(t, {
  env: {
    RADIANT_MCP_CONFIG: mcpConfig({
      demo: demoStdio(),
      later: { url: `http://127.0.0.1:${laterPort}/mcp`, timeoutMs: 5000 },
      slow: { ...demoStdio(), timeoutMs: 1500 },
      legacy: { url: legacy.url },
      garbage: { command: process.execPath, args: [garbage], timeoutMs: 1500 },
    }),
  },
});
const { client, seen } = await connectSdk(stack, "mcp");
t.teardown(() => client.close());

/** The JSON-RPC error a call ends with. */
async function errorOf(p: Promise<unknown>): Promise<McpError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof McpError) return e;
    throw e;
  }
  throw new Error("no error");
}

t.test("a server that is down: an error naming it; the others are listed and work", async (t) => {
  const names = (await client.listTools()).tools.map((x) => x.name);
  t.ok(names.includes("demo_add") && names.includes("slow_add") && names.includes("legacy_add") && names.includes("garbage_bad"), "the others' tools");
  t.notOk(
    names.some((n) => n.startsWith("later_")),
    "none of the one that is down",
  );
  const e = await errorOf(client.callTool({ name: "later_add", arguments: { a: 1, b: 1 } }));
  t.equal(e.code, -32010);
  t.match(e.message, /MCP server 'later'/);
  t.same(e.data, { server: "later" });
  t.equal(textOf(await client.callTool({ name: "demo_add", arguments: { a: 1, b: 1 } })), "2", "the others keep working");
});

t.test("the older HTTP+SSE transport: a server that refuses the Streamable HTTP POST is reached over GET /sse", async (t) => {
  t.equal(textOf(await client.callTool({ name: "legacy_add", arguments: { a: 20, b: 22 } })), "42");
  const got: number[] = [];
  await client.callTool({ name: "legacy_count", arguments: { n: 4 } }, undefined, { onprogress: (p) => got.push(p.progress) });
  t.same(got, [1, 2, 3, 4], "its progress too");
});

t.test("a slow server: its own timeout, an error naming it; the others answer meanwhile", async (t) => {
  const slow = errorOf(client.callTool({ name: "slow_count", arguments: { n: 2, delayMs: 4000 } }, undefined, { timeout: 60_000 }));
  t.equal(textOf(await client.callTool({ name: "demo_add", arguments: { a: 2, b: 2 } })), "4", "demo answers while slow works");
  const e = await slow;
  t.equal(e.code, -32011);
  t.match(e.message, /MCP server 'slow' did not answer within 1500 ms/);
  t.equal(textOf(await client.callTool({ name: "slow_add", arguments: { a: 1, b: 2 } })), "3", "and slow answers what it can");
});

t.test("a server that writes garbage: its bad answer is an error naming it, nothing hangs", async (t) => {
  const e = await errorOf(client.callTool({ name: "garbage_bad", arguments: {} }, undefined, { timeout: 60_000 }));
  t.equal(e.code, -32011);
  t.match(e.message, /garbage/);
  t.equal(textOf(await client.callTool({ name: "demo_add", arguments: { a: 3, b: 3 } })), "6");
});

t.test("an answer too large for a message: a clear error, the session goes on", async (t) => {
  const e = await errorOf(client.callTool({ name: "demo_big", arguments: { bytes: 9 * 1024 * 1024 } }, undefined, { timeout: 60_000 }));
  t.equal(e.code, -32012);
  t.match(e.message, /MCP server 'demo' answered tools\/call with \d+ bytes, more than a message may hold/);
  t.equal(textOf(await client.callTool({ name: "demo_big", arguments: { bytes: 10 } })), "x".repeat(10));
});

t.test("bad input from the client: clear errors", async (t) => {
  t.match(await client.callTool({ name: "demo_nope", arguments: {} }), { isError: true }, "an unknown tool of a known server: the server's own answer");
  t.equal((await errorOf(client.callTool({ name: "nope_add", arguments: {} }))).code, -32602, "a tool of no server");
  t.equal((await errorOf(client.listTools({ cursor: "not-a-cursor" }))).code, -32602, "a cursor RADIANT never made");
  t.equal((await errorOf(client.readResource({ uri: "nowhere://x" }))).code, -32002, "a URI no server lists");
  t.equal((await errorOf(client.getPrompt({ name: "greet" }))).code, -32602, "a prompt without its server's prefix");
});

t.test("a stdio server that crashes: the call in flight fails naming it; it is started again, list_changed, its tools back", async (t) => {
  const before = seen.count("notifications/tools/list_changed");
  const inFlight = errorOf(client.callTool({ name: "demo_count", arguments: { n: 200, delayMs: 50 } }, undefined, { timeout: 60_000 }));
  await new Promise((r) => setTimeout(r, 300));
  await client.callTool({ name: "demo_crash", arguments: {} }).catch(() => {});
  const e = await inFlight;
  t.equal(e.code, -32010);
  t.match(e.message, /MCP server 'demo' exited/);
  await eventually("tools/list_changed after the restart", () => seen.count("notifications/tools/list_changed") > before, 30_000).catch((e: Error) => {
    throw new Error(`${e.message}; the client got: ${seen.notifications.map((n) => n.method).join(", ")}`);
  });
  t.equal(textOf(await client.callTool({ name: "demo_add", arguments: { a: 5, b: 5 } })), "10", "its tools work again");
});

t.test("a server down at first is reconnected once it is up (with backoff)", async (t) => {
  const later = await startDemoHttp(t, "http", laterPort);
  t.teardown(() => later.stop());
  await eventually(
    "later answers",
    async () => textOf(await client.callTool({ name: "later_add", arguments: { a: 1, b: 2 } }).catch(() => ({ content: [] }))) === "3",
    60_000,
  );
  const names = (await client.listTools()).tools.map((x) => x.name);
  t.ok(names.includes("later_add"), "and listed");

  // the server restarted: it has forgotten every session (404); a fresh one is opened, never the dead one again
  await later.stop();
  const again = await startDemoHttp(t, "http", laterPort);
  t.teardown(() => again.stop());
  await eventually(
    "later answers again",
    async () => textOf(await client.callTool({ name: "later_add", arguments: { a: 4, b: 4 } }).catch(() => ({ content: [] }))) === "8",
    30_000,
  );
});

t.test("the MCP bridge killed: a clear error; started again, the session's upstreams are taken up (subscriptions too)", async (t) => {
  await client.subscribeResource({ uri: "demo://counter" });
  const bridge = stack.mcpBridge!.child;
  const gone = new Promise((r) => bridge.once("exit", r));
  bridge.kill("SIGKILL");
  await gone;
  const e = await errorOf(client.callTool({ name: "demo_add", arguments: { a: 1, b: 1 } }));
  t.equal(e.code, -32013, "no bridge");
  t.match(e.message, /MCP bridge is not running/);
  await stack.startMcpBridge();
  t.equal(textOf(await client.callTool({ name: "demo_add", arguments: { a: 7, b: 7 } })), "14", "the same client session goes on");
  t.equal(textOf(await client.callTool({ name: "legacy_add", arguments: { a: 1, b: 1 } })), "2", "an HTTP upstream too");
  const updates = seen.count("notifications/resources/updated");
  await client.callTool({ name: "demo_bump", arguments: {} });
  await eventually("the subscription was taken up", () => seen.count("notifications/resources/updated") === updates + 1);
});
