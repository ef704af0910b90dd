// The demo MCP server (server.ts) over a transport: `stdio` (default),
// `http` (Streamable HTTP at /mcp, a session per client) or `sse` (the older
// HTTP+SSE transport only: GET /sse + POST /messages, for the fallback).
// HTTP modes listen on 127.0.0.1:MCP_DEMO_PORT (0: any free port) and print
// `listening <port>`.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { stopWithParent } from "../proc.js";
import { createDemoServer } from "./server.js";

const mode = process.argv[2] ?? "stdio";
const name = process.env.MCP_DEMO_NAME;

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const s = Buffer.concat(chunks).toString("utf8");
  return s === "" ? undefined : JSON.parse(s);
}

function listen(handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>): void {
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(e));
    });
  });
  server.listen(Number(process.env.MCP_DEMO_PORT ?? 0), "127.0.0.1", () => {
    const a = server.address();
    console.log(`listening ${typeof a === "object" && a ? a.port : 0}`);
  });
}

if (mode === "stdio") {
  await createDemoServer({ name }).connect(new StdioServerTransport());
  // whoever started us is gone (its end of the pipe closed): so are we
  process.stdin.on("end", () => process.exit(0));
} else if (mode === "http") {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  listen(async (req, res) => {
    if (!req.url?.startsWith("/mcp")) return void res.writeHead(404).end();
    const sid = req.headers["mcp-session-id"];
    const body = req.method === "POST" ? await readJson(req) : undefined;
    let t = typeof sid === "string" ? sessions.get(sid) : undefined;
    if (!t) {
      if (sid !== undefined || req.method !== "POST")
        return void res.writeHead(404).end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32001, message: "Session not found" } }));
      const fresh = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: (id) => void sessions.set(id, fresh) });
      fresh.onclose = () => {
        if (fresh.sessionId) sessions.delete(fresh.sessionId);
      };
      await createDemoServer({ name }).connect(fresh);
      t = fresh;
    }
    await t.handleRequest(req, res, body);
  });
} else if (mode === "sse") {
  const sessions = new Map<string, SSEServerTransport>();
  listen(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (req.method === "GET" && url.pathname === "/sse") {
      const t = new SSEServerTransport("/messages", res);
      sessions.set(t.sessionId, t);
      t.onclose = () => sessions.delete(t.sessionId);
      await createDemoServer({ name }).connect(t);
      return;
    }
    const t = sessions.get(url.searchParams.get("sessionId") ?? "");
    if (req.method === "POST" && url.pathname === "/messages" && t) return t.handlePostMessage(req, res, await readJson(req));
    // a Streamable HTTP client's POST lands here: refused, so it falls back to GET /sse
    res.writeHead(req.method === "POST" ? 405 : 404).end();
  });
} else {
  console.error(`unknown transport ${mode}: stdio | http | sse`);
  process.exit(2);
}
stopWithParent(() => process.exit(0));
