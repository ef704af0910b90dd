// bench:mcp — MCP `tools/call` round trips through RADIANT (gateway → INBOX → worker → MCP
// bridge → upstream) against the same upstream called straight, same run: the official SDK
// client on both paths, one client calling in sequence and several at once; every answer checked.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { freePort, loopbackPreload, stopChild } from "@radiant/infra/proc";
import { Stack } from "@radiant/infra/stack";
import { mcpBridgeSubjects } from "@radiant/wire";
import { type Comparison, cleanUpOnce, comparePaths, logger, main, readOptions, report, spawnUpstream, TRACE_TAG, timeHops } from "./compare.js";

const options = readOptions("mcp", {
  calls: { quick: 300, full: 2000 },
  // warm-up calls per path and mode: connections, JIT, the upstream session's first call
  warmup: { quick: 50, full: 200 },
});
const CALL_TIMEOUT_MS = 10_000;

const log = logger("mcp");

// bench's own copy, pinned in its package.json (the package has no exports: its package.json resolves)
const everythingMain = join(dirname(createRequire(import.meta.url).resolve("@modelcontextprotocol/server-everything/package.json")), "dist/index.js");

const dir = mkdtempSync(join(tmpdir(), "radiant-bench-"));
const upstreamPort = await freePort("127.0.0.1");
const upstreamUrl = `http://127.0.0.1:${upstreamPort}/mcp`;
let upstream: ChildProcess | undefined;
let stack: Stack | undefined;
const clients = new Set<Client>();
const cleanUp = cleanUpOnce(async () => {
  await Promise.all([...clients].map((c) => c.close().catch(() => {})));
  await stack?.stop();
  if (upstream) await stopChild(upstream);
  rmSync(dir, { recursive: true, force: true });
});

async function startUpstream(): Promise<void> {
  log(`starting server-everything (Streamable HTTP) on 127.0.0.1:${upstreamPort}`);
  const started = spawnUpstream("server-everything", upstreamPort, ["--import", loopbackPreload, everythingMain, "streamableHttp"], {
    PORT: String(upstreamPort),
  });
  upstream = started.child;
  await started.listening;
}

async function connectClient(url: string): Promise<Client> {
  const c = new Client({ name: "radiant-bench-mcp", version: "0.1.0" });
  await c.connect(new StreamableHTTPClientTransport(new URL(url)));
  clients.add(c);
  return c;
}

async function closeClient(c: Client): Promise<void> {
  clients.delete(c);
  // ends the upstream session too (DELETE), so sessions do not pile up over the phases
  await (c.transport as StreamableHTTPClientTransport | undefined)?.terminateSession().catch(() => {});
  await c.close().catch(() => {});
}

/** One echo call: undefined when the answer is right, else what was wrong with it. */
async function echo(c: Client, message: string): Promise<string | undefined> {
  const r = await c.callTool({ name: "echo", arguments: { message } }, undefined, { timeout: CALL_TIMEOUT_MS });
  const content = "content" in r ? (r.content as { type?: string; text?: string }[]) : undefined;
  if (r.isError) return `isError: ${JSON.stringify(content).slice(0, 200)}`;
  const text = content?.[0]?.text;
  return text === `Echo: ${message}` ? undefined : `wrong answer to ${JSON.stringify(message)}: ${JSON.stringify(r).slice(0, 200)}`;
}

const mcp: Comparison<Client, "gateway" | "worker" | "mcp_bridge" | "nats_server" | "upstream"> = {
  name: "mcp",
  options,
  connect: connectClient,
  call: echo,
  verb: "call",
  close: closeClient,
  urls: () => ({ direct: upstreamUrl, radiant: `http://127.0.0.1:${stack!.gatewayPort}/mcp` }),
  nats: () => stack!.nats.url,
  pids: () => ({
    gateway: [stack!.gateway!.child.pid!],
    worker: stack!.workers.map((w) => w.child.pid!),
    mcp_bridge: [stack!.mcpBridge!.child.pid!],
    nats_server: [stack!.nats.pid!],
    upstream: [upstream!.pid!],
  }),
};

// ---- where RADIANT's time goes: one client's calls, timed at each NATS hop ----

/**
 * What this process sees of a call on NATS, in order. A core subscription here hears each
 * publish one hop after it was made (~0.1 ms): the gateway's INBOX publish, JetStream's
 * delivery of it to the worker's pull (an `_INBOX` subject), the worker's call to the
 * bridge, the bridge's result (on the worker's `_INBOX`), the worker's HISTORY publish and
 * the copy the server republishes once stored, which the gateway takes to the client.
 */
const MARKS = ["inbox_publish", "worker_delivery", "call_to_bridge", "bridge_result", "history_publish", "republished"] as const;
type Mark = (typeof MARKS)[number];
const SEGMENTS = [
  "client_to_inbox_publish",
  "inbox_publish_to_worker_delivery",
  "worker_delivery_to_call_to_bridge",
  "bridge_and_upstream",
  "bridge_result_to_history_publish",
  "history_publish_to_republished",
  "republished_to_client",
] as const;

async function tracePass() {
  return timeHops(mcp, {
    marks: MARKS,
    segments: SEGMENTS,
    watch: (nc, hops) => {
      const mark = (which: (subject: string, text: string) => Mark) => (_e: unknown, m: { subject: string; data: Uint8Array }) => {
        const t = performance.now();
        const text = Buffer.from(m.data).toString("latin1");
        const key = hops.callIn(text);
        if (key !== undefined) hops.of(key)[which(m.subject, text)] ??= t;
      };
      const marks: [string, (subject: string, text: string) => Mark][] = [
        ["in.>", () => "inbox_publish"],
        ["_INBOX.>", (_s, text) => (text.includes(`Echo: ${TRACE_TAG}-`) ? "bridge_result" : "worker_delivery")],
        [mcpBridgeSubjects.call, () => "call_to_bridge"],
        ["hist.>", () => "history_publish"],
        ["out.>", () => "republished"],
      ];
      for (const [subject, which] of marks) nc.subscribe(subject, { callback: mark(which) });
    },
  });
}

await main("mcp", cleanUp, async () => {
  await startUpstream();
  const config = join(dir, "mcp-servers.json");
  writeFileSync(config, JSON.stringify({ mcpServers: { everything: { url: upstreamUrl } } }));
  log("starting the stack: 1 gateway process, 1 worker, the MCP bridge");
  stack = await Stack.start({ dir, echo: false, env: { RADIANT_MCP_CONFIG: config } });

  const results = await comparePaths(mcp);
  const trace = await tracePass();
  return report(mcp, results, trace, { title: "tools/call echo (ms)", straight: "straight to the upstream", segments: SEGMENTS });
});
