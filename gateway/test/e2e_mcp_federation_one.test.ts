// RADIANT in front of ONE MCP server — the reference server-everything, over
// stdio and over Streamable HTTP — must be invisible: the same server info,
// capabilities, instructions, lists (names, URIs, schemas) as the server gives
// a client of its own, and its features (progress, sampling, elicitation,
// roots) working for the official SDK client over /mcp and /ws. The demo
// server, alone, shows its paged list's cursors passing through unchanged.
import t from "tap";
import { Client as McpClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ListRootsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { ITEMS_PAGE } from "../../infra/src/mcp_demo/server.js";
import { startStack } from "./harness.js";
import { allPages, connectSdk, demoStdio, EVERYTHING, everythingStdio, mcpConfig, startEverythingHttp, type ServerEntry } from "./mcp_upstreams.js";

const textOf = (r: unknown): string => ((r as { content?: { text?: string }[] }).content ?? []).map((x) => x.text ?? "").join("");

/** A client of the server's own, with the capabilities the test clients declare (server-everything's tools depend on them). */
async function direct(entry: ServerEntry): Promise<McpClient> {
  const c = new McpClient({ name: "direct", version: "1" }, { capabilities: { sampling: {}, elicitation: {}, roots: { listChanged: true } } });
  c.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [] }));
  await c.connect(
    "url" in entry
      ? new StreamableHTTPClientTransport(new URL(entry.url))
      : new StdioClientTransport({ command: entry.command, args: entry.args, stderr: "ignore" }),
  );
  return c;
}

const lists = async (c: McpClient) => ({
  tools: await allPages((cursor) => c.listTools({ cursor }), "tools"),
  prompts: await allPages((cursor) => c.listPrompts({ cursor }), "prompts"),
  resources: await allPages((cursor) => c.listResources({ cursor }), "resources"),
  templates: await allPages((cursor) => c.listResourceTemplates({ cursor }), "resourceTemplates"),
});

for (const kind of ["stdio", "http"] as const) {
  t.test(`server-everything over ${kind}, alone`, async (t) => {
    const entry = kind === "stdio" ? everythingStdio() : { url: (await startEverythingHttp(t)).url };
    const stack = await startStack(t, { env: { RADIANT_MCP_CONFIG: mcpConfig({ everything: entry }) } });
    const own = await direct(entry);
    t.teardown(() => own.close());
    const expected = await lists(own);

    for (const over of ["mcp", "ws"] as const) {
      t.test(`over /${over}`, async (t) => {
        const { client, seen } = await connectSdk(stack, over);
        t.teardown(() => client.close());
        t.same(client.getServerVersion(), own.getServerVersion(), "its server info");
        const { experimental, ...caps } = client.getServerCapabilities() ?? {};
        const { experimental: ownExperimental, ...ownCaps } = own.getServerCapabilities() ?? {};
        t.same(caps, ownCaps, "its capabilities");
        t.same(experimental, { ...ownExperimental, "radiant/resume": {} }, "plus RADIANT's resume");
        t.equal(client.getInstructions(), own.getInstructions(), "its instructions");
        t.same(await lists(client), expected, "its tools, prompts, resources and templates, untouched");

        t.equal(textOf(await client.callTool({ name: "echo", arguments: { message: "one" } })), "Echo: one");
        const progress: number[] = [];
        await client.callTool({ name: "trigger-long-running-operation", arguments: { duration: 1, steps: 5 } }, undefined, {
          onprogress: (p) => progress.push(p.progress),
        });
        t.same(progress, [1, 2, 3, 4, 5], "every progress notification once, in order");
        const sampled = await client.callTool({ name: "trigger-sampling-request", arguments: { prompt: "hello there" } });
        t.equal(seen.sampling.length, 1, "sampling reached this client once");
        t.match(JSON.stringify(sampled), /echo of [^"]*hello there/, "and its answer reached the server");
        await client.callTool({ name: "trigger-elicitation-request", arguments: {} });
        t.equal(seen.elicitations.length, 1, "elicitation reached this client once");
        t.match(textOf(await client.callTool({ name: "get-roots-list", arguments: {} })), /file:\/\/\/work\/a/, "roots/list answered by this client");
        const prompt = await client.getPrompt({ name: "simple-prompt" });
        t.ok(prompt.messages.length > 0, "a prompt");
        const res = expected.resources[0] as { uri: string };
        t.equal((await client.readResource({ uri: res.uri })).contents[0]?.uri, res.uri, "a resource");
      });
    }
  });
}

t.test("the demo alone: its paged list's cursors pass through as it made them", async (t) => {
  const stack = await startStack(t, { env: { RADIANT_MCP_CONFIG: mcpConfig({ demo: demoStdio() }) } });
  const { client } = await connectSdk(stack, "mcp");
  t.teardown(() => client.close());
  const first = await client.listResources();
  t.equal(first.nextCursor, String(ITEMS_PAGE), "the demo's own cursor");
  const second = await client.listResources({ cursor: first.nextCursor });
  t.equal(second.resources[0]?.uri, `demo://item/${ITEMS_PAGE}`);
  t.equal(second.nextCursor, String(2 * ITEMS_PAGE));
});

t.test("a server the gateway is configured with, asked straight: the same as through RADIANT", async (t) => {
  // (guards the comparison above: a direct client sees server-everything's conditional tools too)
  const own = await direct({ command: process.execPath, args: [EVERYTHING, "stdio"] });
  t.teardown(() => own.close());
  const names = (await own.listTools()).tools.map((x) => x.name);
  t.ok(names.includes("trigger-sampling-request") && names.includes("get-roots-list"), names.join(","));
});
