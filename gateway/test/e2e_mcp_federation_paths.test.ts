// Federation over every transport and through the faults RADIANT exists for:
// the default WebSocket framing (seq_num, resume), /sse, a client that drops
// in the middle of a tools/call and resumes (the result once), a worker killed
// in the middle of one (run again on another worker: the bridge's call is
// taken up, never made twice upstream), the Origin rule on /mcp, DELETE, and
// the cap on stdio server processes.
import { readFileSync } from "node:fs";
import t from "tap";
import { Client as McpClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Client, eventually, openSession, rpc, startStack, type Frame } from "./harness.js";
import { request, SseReader } from "./sse_client.js";
import { connectSdk, demoStdio, mcpConfig } from "./mcp_upstreams.js";

const stack = await startStack(t, {
  env: { RADIANT_MCP_CONFIG: mcpConfig({ demo: demoStdio(), other: demoStdio() }) },
  // a killed worker's request is delivered again after this
  workerEnv: { WORKER_ACK_WAIT_MS: "2000" },
});
const base = stack.wsUrl.replace(/^ws/, "http").replace(/\/ws$/, "");
const textOf = (f: Frame): string => ((f.result as { content?: { text?: string }[] } | undefined)?.content ?? []).map((x) => x.text ?? "").join("");
const statsOf = async (c: Client, id: number) =>
  JSON.parse(textOf(await c.call(rpc(id, "tools/call", { name: "demo_stats", arguments: {} })))) as { counts: number };

t.test("the default WebSocket framing: tools and progress with seq_num", async (t) => {
  const { c } = await openSession(stack.wsUrl);
  t.teardown(() => c.close());
  const list = await c.call(rpc(1, "tools/list"));
  const names = (list.result as { tools: { name: string }[] }).tools.map((x) => x.name);
  t.ok(names.includes("demo_add") && names.includes("other_add"));
  t.type(list.seq_num, "number", "a top-level seq_num");
  const from = c.frames.length;
  const r = await c.call(rpc(2, "tools/call", { name: "demo_count", arguments: { n: 5 }, _meta: { progressToken: "p" } }));
  t.equal(textOf(r), "counted 5");
  const progress = c.frames.slice(from).filter((f) => f.method === "notifications/progress");
  t.same(
    progress.map((f) => (f.params as { progress: number }).progress),
    [1, 2, 3, 4, 5],
    "every progress once, in order, before the result",
  );
  const seqs = c.frames.slice(from).map((f) => f.seq_num as number);
  t.same(
    seqs,
    [...seqs].sort((a, b) => a - b),
    "seq_num increases",
  );
});

t.test("/sse: a tools/call answered on the session's event stream", async (t) => {
  const r = await request(`${base}/sse`, { headers: { accept: "text/event-stream" } });
  t.equal(r.status, 307);
  const url = new URL(r.headers.location!, base);
  const s = await SseReader.open(url.href);
  t.teardown(() => s.cut());
  await s.waitFor(1);
  const post = await request(`${base}/sse/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${url.searchParams.get("resume")}` },
    body: JSON.stringify(rpc(7, "tools/call", { name: "other_add", arguments: { a: 40, b: 2 } })),
  });
  t.equal(post.status, 202);
  const [, answer] = await s.waitFor(2);
  t.equal(textOf(JSON.parse(answer!.data) as Frame), "42");
});

t.test("a client that drops in the middle of a tools/call resumes and gets the result once", async (t) => {
  const { c, session } = await openSession(stack.wsUrl);
  const token = session.resume_token!;
  c.send(rpc(1, "tools/call", { name: "demo_count", arguments: { n: 1, delayMs: 1500 } }));
  await new Promise((r) => setTimeout(r, 300));
  await c.close();
  const again = await Client.connect(`${stack.wsUrl}?resume=${encodeURIComponent(token)}&last_seq=${session.seq_num}`);
  t.teardown(() => again.close());
  const answer = await again.call(rpc(1, "tools/call", { name: "demo_count", arguments: { n: 1, delayMs: 1500 } }));
  t.equal(textOf(answer), "counted 1");
  await new Promise((r) => setTimeout(r, 500));
  t.equal(again.frames.filter((f) => f.id === 1 && "result" in f).length, 1, "the result once (the re-sent request is the same one)");
  t.equal((await statsOf(again, 2)).counts, 1, "the tool ran once upstream");
});

t.test("a worker killed in the middle of a tools/call: run again elsewhere, the upstream call taken up, the result once", async (t) => {
  const { c } = await openSession(stack.wsUrl);
  t.teardown(() => c.close());
  const before = (await statsOf(c, 1)).counts;
  c.send(rpc(2, "tools/call", { name: "demo_count", arguments: { n: 1, delayMs: 4000 } }));
  await new Promise((r) => setTimeout(r, 800));
  const victim = stack.workers[stack.workers.length - 1]!.child;
  const gone = new Promise((r) => victim.once("exit", r));
  victim.kill("SIGKILL");
  await gone;
  await stack.startWorker();
  await eventually("the answer", () => c.frames.some((f) => f.id === 2), 60_000);
  t.equal(textOf(c.frames.find((f) => f.id === 2)!), "counted 1");
  t.equal(c.frames.filter((f) => f.id === 2).length, 1, "one answer");
  t.equal((await statsOf(c, 3)).counts, before + 1, "the upstream was called once");
});

t.test("Origin on /mcp: a page of the gateway's own origin is let in, another site is not", async (t) => {
  const init = JSON.stringify(rpc(1, "initialize", { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "page", version: "1" } }));
  const post = (origin: string) =>
    request(`${base}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", origin },
      body: init,
    });
  t.equal((await post(base)).status, 200, "same origin (the inspector's page served by the gateway's host)");
  t.equal((await post("http://evil.example")).status, 403, "another origin");
});

/** The processes the MCP bridge has started (its stdio servers). */
const bridgeChildren = (): number => {
  const pid = stack.mcpBridge!.child.pid!;
  const list = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
  return list === "" ? 0 : list.split(/\s+/).length;
};

t.test("DELETE /mcp ends the session's upstream sessions: its stdio servers stop", async (t) => {
  const before = bridgeChildren();
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`));
  const client = new McpClient({ name: "ender", version: "1" });
  await client.connect(transport);
  await client.callTool({ name: "demo_add", arguments: { a: 1, b: 1 } });
  t.equal(bridgeChildren(), before + 2, "demo and other, for this session");
  await transport.terminateSession();
  await eventually("its servers stopped", () => bridgeChildren() === before);
  await client.close();
});

t.test("MCP_BRIDGE_MAX_STDIO: past it, the least recently used idle session gives way; none idle, a clear error", async (t) => {
  const small = await startStack(t, {
    env: { RADIANT_MCP_CONFIG: mcpConfig({ demo: demoStdio() }), MCP_BRIDGE_MAX_STDIO: "1", MCP_BRIDGE_MIN_IDLE_MS: "300" },
  });
  const a = await connectSdk(small, "mcp");
  const b = await connectSdk(small, "mcp");
  t.teardown(async () => {
    await a.client.close();
    await b.client.close();
  });
  // b's initialize took a's process (a was idle long enough); a busy now keeps it
  const busy = a.client
    .callTool({ name: "add", arguments: { a: 0, b: 0 } })
    .then(() => a.client.callTool({ name: "count", arguments: { n: 1, delayMs: 3000 } }));
  await new Promise((r) => setTimeout(r, 1000));
  const e = await b.client.callTool({ name: "add", arguments: { a: 1, b: 1 } }).then(
    () => undefined,
    (err: unknown) => err as { code: number; message: string },
  );
  t.equal(e?.code, -32010, "refused while the only process is busy");
  t.match(e?.message, /MCP_BRIDGE_MAX_STDIO/);
  t.match(await busy, { content: [{ text: "counted 1" }] }, "the busy session's call ends as usual");
  await eventually("b gets a process once a's is idle (after its backoff)", async () =>
    b.client.callTool({ name: "add", arguments: { a: 2, b: 2 } }).then(
      (r) => (r as { content: { text: string }[] }).content[0]?.text === "4",
      () => false,
    ),
  );
});
