// A small MCP server of our own, made with the official SDK's McpServer: the
// second upstream of the federation tests and of `examples/mcp`. It asks its
// client things (sampling, elicitation, roots), reports progress, has a
// resource that changes, a tool whose JSON Schema uses 2020-12 features, and
// tools that misbehave on purpose (an oversize answer, a crash).
import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { completable } from "@modelcontextprotocol/sdk/server/completable.js";
import {
  ErrorCode,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  type ListResourcesResult,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type CallToolResult,
  type ListToolsResult,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";

export const COUNTER_URI = "demo://counter";
/** resources/list is paged: the listed resources, then this many items, ITEMS_PAGE a page */
export const ITEMS = 25;
export const ITEMS_PAGE = 10;
export const NOTES_TEMPLATE = "demo://notes/{name}";

/** The raw JSON Schema the `shape` tool lists: what a gateway must pass on untouched. */
export const SHAPE_SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  $defs: { point: { type: "object", properties: { x: { type: "number" }, y: { type: "number" } }, required: ["x", "y"], additionalProperties: false } },
  properties: { points: { type: "array", items: { $ref: "#/$defs/point" }, minItems: 1 }, label: { type: "string", pattern: "^[a-z]+$" } },
  required: ["points"],
  additionalProperties: false,
} as const;

const text = (s: string): CallToolResult => ({ content: [{ type: "text", text: s }] });

export function createDemoServer(opts: { name?: string } = {}): McpServer {
  const mcp = new McpServer(
    { name: opts.name ?? "radiant-demo", version: "1.0.0" },
    { capabilities: { logging: {}, resources: { subscribe: true, listChanged: true } }, instructions: "A demo server: tools that ask their client things." },
  );
  let counter = 0;
  const subscribed = new Set<string>();
  /** what reached this server: a test asks (`stats`) to see a cancel arrive */
  const stats = { cancelled: 0, counts: 0 };

  mcp.registerTool("add", { description: "Adds two numbers", inputSchema: { a: z.number(), b: z.number() } }, ({ a, b }) => text(String(a + b)));

  mcp.registerTool(
    "count",
    {
      description: "Counts to n, a progress notification per step",
      inputSchema: { n: z.number().int().min(1).max(1000), delayMs: z.number().int().min(0).max(10_000).optional() },
    },
    async ({ n, delayMs }, extra) => {
      stats.counts++;
      const token = extra._meta?.progressToken;
      for (let i = 1; i <= n; i++) {
        if (extra.signal.aborted) {
          stats.cancelled++;
          return text("cancelled");
        }
        if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
        if (token !== undefined) await extra.sendNotification({ method: "notifications/progress", params: { progressToken: token, progress: i, total: n } });
      }
      return text(`counted ${n}`);
    },
  );

  mcp.registerTool("ask-llm", { description: "Asks the client's model (sampling)", inputSchema: { prompt: z.string() } }, async ({ prompt }, extra) => {
    const r = await mcp.server.createMessage(
      { messages: [{ role: "user", content: { type: "text", text: prompt } }], maxTokens: 100 },
      { relatedRequestId: extra.requestId },
    );
    return text(`model said: ${r.content.type === "text" ? r.content.text : r.content.type}`);
  });

  mcp.registerTool(
    "ask-llm-hurry",
    {
      description: "Asks the client's model, gives up after timeoutMs (the server cancels its own request)",
      inputSchema: { timeoutMs: z.number().int().min(1) },
    },
    async ({ timeoutMs }, extra) => {
      try {
        await mcp.server.createMessage(
          { messages: [{ role: "user", content: { type: "text", text: "hurry" } }], maxTokens: 1 },
          { relatedRequestId: extra.requestId, timeout: timeoutMs },
        );
        return text("answered in time");
      } catch (e) {
        return text(`gave up: ${(e as Error).message}`);
      }
    },
  );

  mcp.registerTool("stats", { description: "What this server saw" }, () => text(JSON.stringify(stats)));

  mcp.registerTool("ask-user", { description: "Asks the user (elicitation)", inputSchema: { question: z.string() } }, async ({ question }, extra) => {
    const r = await mcp.server.elicitInput(
      { message: question, requestedSchema: { type: "object", properties: { answer: { type: "string" } }, required: ["answer"] } },
      { relatedRequestId: extra.requestId },
    );
    return text(`user ${r.action}: ${JSON.stringify(r.content ?? {})}`);
  });

  mcp.registerTool("list-roots", { description: "Lists the client's roots" }, async (extra) => {
    const r = await mcp.server.listRoots(undefined, { relatedRequestId: extra.requestId });
    return text(r.roots.map((x) => x.uri).join(","));
  });

  mcp.registerTool("bump", { description: "Changes demo://counter (subscribers are told) and logs it" }, async () => {
    counter++;
    if (subscribed.has(COUNTER_URI)) await mcp.server.sendResourceUpdated({ uri: COUNTER_URI });
    await mcp.sendLoggingMessage({ level: "info", logger: "demo", data: `counter is ${counter}` });
    return text(String(counter));
  });

  mcp.registerTool(
    "big",
    {
      description: "Answers with this many bytes of text",
      inputSchema: {
        bytes: z
          .number()
          .int()
          .min(0)
          .max(64 * 1024 * 1024),
      },
    },
    ({ bytes }) => text("x".repeat(bytes)),
  );

  mcp.registerTool(
    "add-tool",
    { description: "Registers one more tool (tools/list_changed)", inputSchema: { name: z.string().regex(/^[a-z-]{1,32}$/) } },
    ({ name }) => {
      mcp.registerTool(name, { description: "added at run time" }, () => text(`I am ${name}`));
      return text(`added ${name}`);
    },
  );

  mcp.registerTool("crash", { description: "Ends the server's process (a stdio crash)" }, () => {
    setTimeout(() => process.exit(1), 10);
    return text("crashing");
  });

  mcp.registerTool("shape", { description: "Takes points; its schema is listed as raw JSON Schema 2020-12" }, () => text("ok"));

  mcp.registerResource("counter", COUNTER_URI, { mimeType: "text/plain", description: "changes with every bump" }, (uri) => ({
    contents: [{ uri: uri.href, mimeType: "text/plain", text: String(counter) }],
  }));
  mcp.registerResource("item", new ResourceTemplate("demo://item/{n}", { list: undefined }), { mimeType: "text/plain" }, (uri, { n }) => ({
    contents: [{ uri: uri.href, mimeType: "text/plain", text: `item ${String(n)}` }],
  }));
  mcp.registerResource("note", new ResourceTemplate(NOTES_TEMPLATE, { list: undefined }), { mimeType: "text/plain" }, (uri, { name }) => ({
    contents: [{ uri: uri.href, mimeType: "text/plain", text: `a note called ${String(name)}` }],
  }));

  mcp.registerPrompt(
    "greet",
    { description: "A greeting", argsSchema: { name: completable(z.string(), (v) => ["alice", "bob", "carol"].filter((n) => n.startsWith(v))) } },
    ({ name }) => ({ messages: [{ role: "user", content: { type: "text", text: `Say hello to ${name}` } }] }),
  );

  // subscriptions: McpServer leaves them to the server
  mcp.server.setRequestHandler(SubscribeRequestSchema, (req) => {
    subscribed.add(req.params.uri);
    return {};
  });
  mcp.server.setRequestHandler(UnsubscribeRequestSchema, (req) => {
    subscribed.delete(req.params.uri);
    return {};
  });

  // resources/list in pages (McpServer lists everything at once): what a gateway's cursors must carry
  const handlers = (mcp.server as unknown as { _requestHandlers: Map<string, (r: unknown, e: unknown) => Promise<Record<string, unknown>>> })._requestHandlers;
  const listResources = handlers.get("resources/list");
  mcp.server.setRequestHandler(ListResourcesRequestSchema, async (req, extra) => {
    const at = req.params?.cursor === undefined ? 0 : Number(req.params.cursor);
    if (!Number.isInteger(at) || at < 0 || at >= ITEMS) throw new McpError(ErrorCode.InvalidParams, "bad cursor");
    const first = at === 0 && listResources ? ((await listResources(req, extra)) as ListResourcesResult).resources : [];
    const items = Array.from({ length: Math.min(ITEMS_PAGE, ITEMS - at) }, (_, i) => ({ uri: `demo://item/${at + i}`, name: `item ${at + i}` }));
    return { resources: [...first, ...items], ...(at + ITEMS_PAGE < ITEMS ? { nextCursor: String(at + ITEMS_PAGE) } : {}) };
  });

  // tools/list as McpServer makes it, but `shape` lists the raw schema (McpServer would derive one from zod)
  const list = (mcp.server as unknown as { _requestHandlers: Map<string, (r: unknown, e: unknown) => Promise<ListToolsResult>> })._requestHandlers.get(
    "tools/list",
  );
  mcp.server.setRequestHandler(ListToolsRequestSchema, async (req, extra) => {
    const r = list ? await list(req, extra) : { tools: [] };
    return { ...r, tools: r.tools.map((t: Tool) => (t.name === "shape" ? { ...t, inputSchema: SHAPE_SCHEMA as unknown as Tool["inputSchema"] } : t)) };
  });
  return mcp;
}
