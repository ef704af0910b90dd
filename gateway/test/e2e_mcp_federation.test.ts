// RADIANT in front of two MCP servers — the reference server-everything over
// stdio and our demo McpServer over Streamable HTTP — for the official SDK
// client over /mcp and over /ws: one server made of both (prefixed names,
// union of capabilities, pagination), and everything that flows the other way
// (progress, sampling, elicitation, roots, resource updates, logging,
// list_changed, cancellation both ways), each counted: exactly once, to the
// right session.
import t from "tap";
import { Client as McpClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { ITEMS, SHAPE_SCHEMA } from "../../infra/src/mcp_demo/server.js";
import { eventually, startStack } from "./harness.js";
import { allPages, connectSdk, everythingStdio, mcpConfig, startDemoHttp } from "./mcp_upstreams.js";

const demo = await startDemoHttp(t);
const stack = await startStack(t, { env: { RADIANT_MCP_CONFIG: mcpConfig({ everything: everythingStdio(), demo: { url: demo.url } }) } });

const textOf = (r: unknown): string => {
  const c = (r as { content?: { type: string; text?: string }[] }).content ?? [];
  return c.map((x) => x.text ?? "").join("");
};

/** The demo's own tools/list, straight from it (the gateway must pass each tool on untouched but for its name). */
async function demoToolsDirect(): Promise<Tool[]> {
  const c = new McpClient({ name: "direct", version: "1" });
  await c.connect(new StreamableHTTPClientTransport(new URL(demo.url)));
  const tools = await allPages<Tool>((cursor) => c.listTools({ cursor }), "tools");
  await c.close();
  return tools;
}

for (const over of ["mcp", "ws"] as const) {
  t.test(`over /${over}`, async (t) => {
    const { client, seen } = await connectSdk(stack, over);
    t.teardown(() => client.close());

    t.test("one server made of two: its info, the union of capabilities", async (t) => {
      t.equal(client.getServerVersion()?.name, "radiant-gateway");
      const caps = client.getServerCapabilities() ?? {};
      t.ok(caps.tools?.listChanged, "tools");
      t.ok(caps.prompts, "prompts");
      t.equal(caps.resources?.subscribe, true, "resources with subscribe");
      t.ok(caps.logging, "logging");
      t.ok(caps.completions, "completions (server-everything has them)");
      t.match(client.getInstructions() ?? "", /demo: A demo server/);
    });

    t.test("tools: every page, each name prefixed by its server, each schema untouched", async (t) => {
      const tools = await allPages<Tool>((cursor) => client.listTools({ cursor }), "tools");
      const names = tools.map((x) => x.name);
      t.ok(names.includes("everything_echo"), "server-everything's echo");
      t.ok(names.includes("demo_add"), "the demo's add");
      t.equal(new Set(names).size, names.length, "no tool twice");
      t.ok(
        names.every((n) => n.startsWith("everything_") || n.startsWith("demo_")),
        "every name prefixed",
      );
      const direct = await demoToolsDirect();
      const through = tools.filter((x) => x.name.startsWith("demo_"));
      t.same(
        through.map((x) => ({ ...x, name: x.name.slice("demo_".length) })),
        direct,
        "the demo's tools exactly as it lists them, but for the prefix",
      );
      t.strictSame(through.find((x) => x.name === "demo_shape")?.inputSchema, SHAPE_SCHEMA, "$schema 2020-12, $defs and additionalProperties survive");
    });

    t.test("tools/call goes to the server the prefix names", async (t) => {
      t.equal(textOf(await client.callTool({ name: "everything_echo", arguments: { message: "hi" } })), "Echo: hi");
      t.equal(textOf(await client.callTool({ name: "demo_add", arguments: { a: 2, b: 3 } })), "5");
      await t.rejects(client.callTool({ name: "nobody_echo", arguments: {} }), { code: -32602 }, "an unknown server");
      await t.rejects(client.callTool({ name: "echo", arguments: {} }), { code: -32602 }, "no prefix");
    });

    t.test("progress: every notification once, in order, to this request", async (t) => {
      const got: number[] = [];
      const r = await client.callTool({ name: "demo_count", arguments: { n: 20 } }, undefined, { onprogress: (p) => got.push(p.progress) });
      t.equal(textOf(r), "counted 20");
      t.same(
        got,
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
    });

    t.test("sampling and elicitation reach this client; its answers reach the server that asked", async (t) => {
      const before = seen.sampling.length;
      t.equal(textOf(await client.callTool({ name: "demo_ask-llm", arguments: { prompt: "what is 6x7" } })), "model said: echo of what is 6x7");
      t.equal(seen.sampling.length, before + 1, "asked once");
      const e = seen.elicitations.length;
      t.equal(textOf(await client.callTool({ name: "demo_ask-user", arguments: { question: "answer?" } })), 'user accept: {"answer":"42"}');
      t.equal(seen.elicitations.length, e + 1, "asked once");
      t.equal(textOf(await client.callTool({ name: "demo_list-roots", arguments: {} })), "file:///work/a,file:///work/b", "roots/list");
    });

    t.test("a server that gives up on its request cancels it at the client", async (t) => {
      const slow = await connectSdk(stack, over, { samplingDelayMs: 10_000 });
      t.teardown(() => slow.client.close());
      const r = await slow.client.callTool({ name: "demo_ask-llm-hurry", arguments: { timeoutMs: 500 } });
      t.match(textOf(r), /gave up/);
      await eventually("the sampling handler aborted", () => slow.seen.samplingAborted === 1);
      t.equal(slow.seen.sampling.length, 1);
    });

    t.test("a client's cancel stops the call upstream", async (t) => {
      const ac = new AbortController();
      let progressed = 0;
      const call = client.callTool({ name: "demo_count", arguments: { n: 1000, delayMs: 20 } }, undefined, {
        signal: ac.signal,
        onprogress: () => {
          if (++progressed === 3) ac.abort("enough");
        },
      });
      await t.rejects(call, "the call is cancelled");
      await eventually("the demo saw the cancel", async () => {
        const stats = JSON.parse(textOf(await client.callTool({ name: "demo_stats", arguments: {} }))) as { cancelled: number };
        return stats.cancelled >= 1;
      });
    });

    t.test("resources: listed from both, read and subscribed where they live, updates once", async (t) => {
      const resources = await allPages<{ uri: string }>((cursor) => client.listResources({ cursor }), "resources");
      const uris = resources.map((r) => r.uri);
      t.ok(uris.includes("demo://counter"), "the demo's");
      t.equal(new Set(uris).size, uris.length, "none twice");
      t.same(
        uris.filter((u) => u.startsWith("demo://item/")),
        Array.from({ length: ITEMS }, (_, i) => `demo://item/${i}`),
        "every page of the demo's list, in order",
      );
      const first = await client.listResources();
      t.ok(first.nextCursor, "the first page says there is more (the demo's cursor inside RADIANT's)");
      t.ok(
        first.resources.some((r) => r.uri.startsWith("demo://resource/")) && first.resources.some((r) => r.uri === "demo://item/0"),
        "the first page holds both servers' first pages",
      );
      t.match((await client.readResource({ uri: `demo://item/${ITEMS - 1}` })).contents[0], { text: `item ${ITEMS - 1}` }, "a URI of a later page");
      t.ok(
        uris.some((u) => u.startsWith("demo://resource/")),
        "server-everything's",
      );
      const templates = await allPages<{ uriTemplate: string }>((cursor) => client.listResourceTemplates({ cursor }), "resourceTemplates");
      t.ok(templates.some((x) => x.uriTemplate === "demo://notes/{name}"));
      const note = await client.readResource({ uri: "demo://notes/groceries" });
      t.match(note.contents[0], { text: "a note called groceries" }, "a template's URI goes to its server");
      const everything = uris.find((u) => u.startsWith("demo://resource/"))!;
      t.equal((await client.readResource({ uri: everything })).contents[0]?.uri, everything);
      await t.rejects(client.readResource({ uri: "nowhere://x" }), { code: -32002 });

      await client.subscribeResource({ uri: "demo://counter" });
      await client.setLoggingLevel("info");
      const updates = seen.count("notifications/resources/updated");
      const logs = seen.notifications.filter((n) => n.method === "notifications/message" && (n.params as { logger?: string }).logger === "demo").length;
      const bumped = Number(textOf(await client.callTool({ name: "demo_bump", arguments: {} })));
      await eventually("the update and the log line", () => seen.count("notifications/resources/updated") === updates + 1);
      await eventually(
        "the log line",
        () => seen.notifications.filter((n) => n.method === "notifications/message" && (n.params as { logger?: string }).logger === "demo").length === logs + 1,
      );
      t.match((await client.readResource({ uri: "demo://counter" })).contents[0], { text: String(bumped) });
      await client.unsubscribeResource({ uri: "demo://counter" });
      await client.callTool({ name: "demo_bump", arguments: {} });
      await new Promise((r) => setTimeout(r, 300));
      t.equal(seen.count("notifications/resources/updated"), updates + 1, "nothing after unsubscribe");
    });

    t.test("prompts and completions", async (t) => {
      // one page holds every server's first page: a client that never follows cursors sees them all
      const prompts = (await client.listPrompts()).prompts.map((p) => p.name);
      t.ok(prompts.includes("demo_greet") && prompts.includes("everything_simple-prompt"), prompts.join(","));
      const p = await client.getPrompt({ name: "demo_greet", arguments: { name: "bob" } });
      t.match(p.messages[0]?.content, { text: "Say hello to bob" });
      const c = await client.complete({ ref: { type: "ref/prompt", name: "demo_greet" }, argument: { name: "name", value: "a" } });
      t.same(c.completion.values, ["alice"]);
    });

    t.test("a server's new tool: list_changed once, then listed", async (t) => {
      const before = seen.count("notifications/tools/list_changed");
      const name = `extra-${over}`;
      await client.callTool({ name: "demo_add-tool", arguments: { name } });
      await eventually("tools/list_changed", () => seen.count("notifications/tools/list_changed") === before + 1);
      const tools = await allPages<Tool>((cursor) => client.listTools({ cursor }), "tools");
      t.ok(tools.some((x) => x.name === `demo_${name}`));
      t.equal(textOf(await client.callTool({ name: `demo_${name}`, arguments: {} })), `I am ${name}`);
    });

    t.test("ping", async (t) => {
      // (over /ws a result carries its seq_num in _meta)
      t.notOk(
        Object.keys(await client.ping()).some((k) => k !== "_meta"),
        "an empty result",
      );
    });
  });
}

t.test("two clients: each one's notifications reach it alone", async (t) => {
  const a = await connectSdk(stack, "mcp");
  const b = await connectSdk(stack, "ws");
  t.teardown(async () => {
    await a.client.close();
    await b.client.close();
  });
  await a.client.subscribeResource({ uri: "demo://counter" });
  await a.client.callTool({ name: "demo_bump", arguments: {} });
  await eventually("a's update", () => a.seen.count("notifications/resources/updated") === 1);
  await b.client.callTool({ name: "demo_ask-llm", arguments: { prompt: "b only" } });
  t.equal(a.seen.sampling.length, 0, "a was not asked for b's sampling");
  t.equal(b.seen.sampling.length, 1);
  t.equal(b.seen.count("notifications/resources/updated"), 0, "b never subscribed");
});
