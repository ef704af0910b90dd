// MCP federation tests' parts: real upstream servers (the reference
// `server-everything`, our own demo made with the SDK's McpServer), config
// files in the format MCP clients use, and an official SDK client over /mcp or
// /ws that answers sampling, elicitation and roots and counts every
// notification it gets.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { Client as McpClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { WebSocketClientTransport } from "@modelcontextprotocol/sdk/client/websocket.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  type CreateMessageRequest,
  type ServerNotification,
} from "@modelcontextprotocol/sdk/types.js";
import { accepts, freePort, GiveUp, loopbackPreload, spawnOwned, stopChild, waitFor } from "@radiant/infra/proc";
import type { Stack } from "@radiant/infra/stack";

// Node 20 has no global WebSocket; the SDK's WebSocket transport expects one (docs/design.md).
// One message event per task, as a browser's WebSocket dispatches them: the SDK client runs
// notification handlers a microtask later but responses at once, so with `ws`'s default
// (every frame of a read dispatched in one go) a request's last progress notifications, read
// together with its response, would find their handler gone.
class TaskWebSocket extends WebSocket {
  constructor(url: string | URL, protocols?: string | string[]) {
    super(url, protocols, { allowSynchronousEvents: false });
  }
}
(globalThis as { WebSocket?: unknown }).WebSocket = TaskWebSocket;

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
export const EVERYTHING = join(root, "gateway/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
export const DEMO = join(root, "infra/dist/mcp_demo/main.js");

interface Teardown {
  teardown(f: () => unknown): void;
}

export type ServerEntry = { url: string; timeoutMs?: number } | { command: string; args: string[]; env?: Record<string, string>; timeoutMs?: number };

export const everythingStdio = (): ServerEntry => ({ command: process.execPath, args: [EVERYTHING, "stdio"] });
export const demoStdio = (): ServerEntry => ({ command: process.execPath, args: [DEMO, "stdio"] });

/** A config file `{"mcpServers": …}` in a fresh folder; its path. */
export function mcpConfig(servers: Record<string, ServerEntry>): string {
  const file = join(mkdtempSync(join(tmpdir(), "radiant-mcp-")), "mcp.json");
  writeFileSync(file, JSON.stringify({ mcpServers: servers }, null, 2));
  return file;
}

/** The demo server over HTTP (`http`: Streamable HTTP at /mcp; `sse`: only the older HTTP+SSE at /sse); its URL. */
export async function startDemoHttp(t: Teardown, mode: "http" | "sse" = "http", port = 0): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const child = spawnOwned(process.execPath, [DEMO, mode], { env: { ...process.env, MCP_DEMO_PORT: String(port) }, stdio: ["ignore", "pipe", "inherit"] });
  const listening = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (b: Buffer) => {
      out += b.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once("exit", (code) => reject(new Error(`demo server exited with ${code}`)));
  });
  const stop = () => stopChild(child);
  t.teardown(stop);
  return { url: `http://127.0.0.1:${listening}/${mode === "http" ? "mcp" : "sse"}`, pid: child.pid!, stop };
}

/** What an SDK client got from the server, counted. */
export class Seen {
  readonly notifications: ServerNotification[] = [];
  readonly sampling: CreateMessageRequest["params"][] = [];
  readonly elicitations: unknown[] = [];
  rootsAsked = 0;
  /** the sampling handler's signal fired (the server cancelled its request) */
  samplingAborted = 0;

  count(method: string): number {
    return this.notifications.filter((n) => n.method === method).length;
  }
}

export interface SdkOptions {
  /** the sampling handler waits this long before answering (a server that gives up cancels it) */
  samplingDelayMs?: number;
}

/** The official SDK client, connected to RADIANT over /mcp (Streamable HTTP) or /ws (subprotocol `mcp`). */
export async function connectSdk(stack: Stack, over: "mcp" | "ws", o: SdkOptions = {}): Promise<{ client: McpClient; seen: Seen }> {
  const seen = new Seen();
  const client = new McpClient({ name: "radiant-test", version: "1.0.0" }, { capabilities: { sampling: {}, elicitation: {}, roots: { listChanged: true } } });
  client.setRequestHandler(CreateMessageRequestSchema, async (req, extra) => {
    seen.sampling.push(req.params);
    if (o.samplingDelayMs) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, o.samplingDelayMs);
        extra.signal.addEventListener("abort", () => {
          seen.samplingAborted++;
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const first = req.params.messages[0]?.content;
    const said = first && "text" in first ? first.text : "?";
    return { role: "assistant", content: { type: "text", text: `echo of ${said}` }, model: "test-model" };
  });
  client.setRequestHandler(ElicitRequestSchema, async (req) => {
    seen.elicitations.push(req.params);
    return { action: "accept", content: { answer: "42" } };
  });
  client.setRequestHandler(ListRootsRequestSchema, async () => {
    seen.rootsAsked++;
    return { roots: [{ uri: "file:///work/a", name: "a" }, { uri: "file:///work/b" }] };
  });
  client.fallbackNotificationHandler = async (n) => {
    seen.notifications.push(n as ServerNotification);
  };
  // (progress goes to each request's onprogress: the SDK's own handler)
  const transport =
    over === "mcp"
      ? new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${stack.gatewayPort}/mcp`))
      : new WebSocketClientTransport(new URL(stack.wsUrl));
  await client.connect(transport);
  return { client, seen };
}

/** Every page of a list, following nextCursor. */
export async function allPages<T>(page: (cursor: string | undefined) => Promise<{ nextCursor?: string } & Record<string, unknown>>, key: string): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 100; i++) {
    const r = await page(cursor);
    out.push(...((r[key] as T[]) ?? []));
    if (!r.nextCursor) return out;
    cursor = r.nextCursor;
  }
  throw new Error("more than 100 pages");
}

/** server-everything over Streamable HTTP on a free loopback port; its /mcp URL. */
export async function startEverythingHttp(t: Teardown): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  // stdout gets a line per request: nobody reads it, and an undrained pipe would stall the server
  const child = spawnOwned(process.execPath, ["--import", loopbackPreload, EVERYTHING, "streamableHttp"], {
    env: { ...process.env, PORT: String(port) },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const stop = () => stopChild(child);
  t.teardown(stop);
  await waitFor("server-everything to listen", async () => {
    if (child.exitCode !== null) throw new GiveUp(`server-everything exited with ${child.exitCode}`);
    return accepts("127.0.0.1", port);
  });
  return { url: `http://127.0.0.1:${port}/mcp`, stop };
}
