// MCP Streamable HTTP at /mcp, driven by the official SDK's Client with
// StreamableHTTPClientTransport (unmodified; its fetch is wrapped only to cut
// one stream), and by raw requests for every bad input.
import t from "tap";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { request as httpRequest } from "node:http";
import { eventually, inboxState, rpc, startStack, TcpProxy } from "./harness.js";
import { request, SseReader } from "./sse_client.js";

const APP = "http://app.example.test";
const stack = await startStack(t, { gatewayEnv: { GATEWAY_MAX_PAYLOAD: "4096", GATEWAY_ALLOWED_ORIGINS: APP } });
const base = stack.wsUrl.replace(/^ws/, "http").replace(/\/ws$/, "");
const endpoint = `${base}/mcp`;
const BOTH = "application/json, text/event-stream";

const mcpPost = (body: unknown, headers: Record<string, string> = {}) =>
  request(endpoint, {
    method: "POST",
    headers: { "content-type": "application/json", accept: BOTH, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

/** A session made by hand: its Mcp-Session-Id. */
async function initialize(): Promise<string> {
  const r = await mcpPost(rpc(0, "initialize", { protocolVersion: "2025-03-26", capabilities: {}, clientInfo: { name: "raw", version: "1" } }), {
    accept: "application/json",
  });
  if (r.status !== 200) throw new Error(`initialize: ${r.status} ${r.body}`);
  return r.headers["mcp-session-id"] as string;
}

type Chunk = { i: number };

/** An SDK client whose fetch can cut the next POST that carries `cutMarker`, after `cutAfter` events. */
async function sdkClient(cut?: { marker: string; afterEvents: number }) {
  const chunks: number[] = [];
  const errors: Error[] = [];
  const state = { cutDone: false };
  const cuttingFetch: typeof fetch = async (url, init) => {
    const body = typeof init?.body === "string" ? init.body : "";
    if (!cut || state.cutDone || init?.method !== "POST" || !body.includes(cut.marker)) return fetch(url, init);
    state.cutDone = true;
    const ac = new AbortController();
    init.signal?.addEventListener("abort", () => ac.abort());
    const res = await fetch(url, { ...init, signal: ac.signal });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let events = 0;
    const cutStream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { value, done } = await reader.read();
        if (done) return controller.close();
        controller.enqueue(value);
        events += decoder.decode(value, { stream: true }).split("\n\n").length - 1;
        if (events >= cut.afterEvents) {
          ac.abort(); // the TCP connection goes: the gateway sees the client leave
          controller.error(new Error("cut by the test"));
        }
      },
    });
    return new Response(cutStream, { status: res.status, headers: res.headers });
  };
  const transport = new StreamableHTTPClientTransport(new URL(endpoint), { fetch: cuttingFetch });
  const client = new Client({ name: "radiant-test", version: "1.0.0" });
  client.fallbackNotificationHandler = async (n) => {
    if (n.method === "notifications/radiant.test/chunk") chunks.push((n.params as Chunk).i);
  };
  client.onerror = (e) => errors.push(e);
  await client.connect(transport);
  return { client, transport, chunks, errors, state };
}

t.test("the SDK: initialize, ping, a request; JSON-only answers leave what came meanwhile to the GET stream", async (t) => {
  const { client, transport, chunks } = await sdkClient();
  t.teardown(() => client.close());
  t.match(client.getServerVersion(), { name: "radiant-gateway" });
  t.type(transport.sessionId, "string", "Mcp-Session-Id issued with the initialize result");
  t.same(await client.ping(), {});
  t.same(await client.request({ method: "radiant.test/echo", params: { a: 1 } }, ResultSchema), { a: 1 });
  // the SDK opened its GET stream after notifications/initialized: wait for it to be a session
  await eventually("the GET stream is open", async () => (await stack.health()).body.active_connections === 1);
  const r = await mcpPost(rpc("j", "radiant.test/stream", { count: 3 }), { accept: "application/json", "mcp-session-id": transport.sessionId! });
  t.equal(r.status, 200);
  t.match(r.headers["content-type"], /^application\/json/);
  t.same(JSON.parse(r.body), { jsonrpc: "2.0", id: "j", result: { count: 3 } });
  await eventually("the chunks on the GET stream", () => chunks.length === 3);
  t.same(chunks, [0, 1, 2]);
});

t.test("the SDK: a POST stream cut mid-way resumes on a GET with Last-Event-ID; every message once, in order", async (t) => {
  const n = 2000;
  const { client, chunks, state } = await sdkClient({ marker: "radiant.test/stream", afterEvents: 400 });
  t.teardown(() => client.close());
  const result = await client.request({ method: "radiant.test/stream", params: { count: n } }, ResultSchema, { timeout: 120_000 });
  t.ok(state.cutDone, "the POST stream was cut");
  t.same(result, { count: n });
  t.equal(chunks.length, n, "nothing twice, nothing missing");
  t.same(
    chunks,
    Array.from({ length: n }, (_, i) => i),
    "chunks 0..1999 once each, in order",
  );
  t.same(await client.ping(), {}, "and the session goes on");
});

t.test("a POST stream whose client vanished without a goodbye: the GET resuming it gets the rest, once", async (t) => {
  const sid = await initialize();
  const proxy = await new TcpProxy({ host: "127.0.0.1", port: Number(new URL(base).port) }).start();
  t.teardown(() => proxy.close());
  const h = { "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25" };
  const n = 2000;
  const post = await SseReader.open(
    `http://127.0.0.1:${proxy.port}/mcp`,
    { ...h, "content-type": "application/json", accept: BOTH },
    "POST",
    JSON.stringify(rpc("v", "radiant.test/stream", { count: n })),
  );
  await post.waitFor(300);
  // the client's network is gone: no FIN, no RST, so the gateway's side of the POST still looks open
  proxy.freeze();
  await new Promise((r) => setTimeout(r, 300));
  const before = [...post.events];
  const resumed = await SseReader.open(endpoint, { ...h, "last-event-id": before.at(-1)!.id! });
  const isResult = (e: { data: string }) => e.data.includes('"id":"v"');
  await eventually("the result on the resumed GET", () => resumed.events.some(isResult), 60_000);
  const all = [...before, ...resumed.events].filter((e) => e.data !== "");
  const chunks = all.filter((e) => !isResult(e)).map((e) => (JSON.parse(e.data) as { params: Chunk }).params.i);
  t.same(
    chunks,
    Array.from({ length: n }, (_, i) => i),
    "chunks 0..1999 once each, in order, across the two streams",
  );
  t.equal(all.filter(isResult).length, 1, "the result once");
  resumed.cut();
});

t.test("the SDK: terminateSession is DELETE; the session is gone everywhere after", async (t) => {
  const { client, transport } = await sdkClient();
  const sid = transport.sessionId!;
  await transport.terminateSession();
  const after = await mcpPost(rpc(1, "ping"), { "mcp-session-id": sid });
  t.equal(after.status, 404);
  t.match(JSON.parse(after.body), { error: { message: /ended/ } });
  const get = await request(endpoint, { headers: { accept: "text/event-stream", "mcp-session-id": sid } });
  t.equal(get.status, 404);
  await client.close();
});

t.test("POST: SSE answers by default, batches, 202 for notifications, MCP-Protocol-Version tolerated", async (t) => {
  const sid = await initialize();
  const h = { "mcp-session-id": sid };
  const s = await SseReader.open(
    endpoint,
    { ...h, "content-type": "application/json", accept: BOTH },
    "POST",
    JSON.stringify([rpc(1, "ping"), rpc(2, "radiant.test/echo", { b: 2 }), { jsonrpc: "2.0", method: "notifications/initialized" }]),
  );
  t.equal(s.status, 200);
  t.match(s.res!.headers["content-type"], /^text\/event-stream/);
  await s.waitEnd();
  const byId = new Map(s.frames.map((f) => [f.id, f]));
  t.equal(s.frames.length, 2, "one event per response, then the stream ends");
  t.same(byId.get(1)!.result, {});
  t.same(byId.get(2)!.result, { b: 2 });
  t.ok(
    s.events.every((e) => /^\d+$/.test(e.id!)),
    "event ids are seq numbers",
  );
  const note = await mcpPost({ jsonrpc: "2.0", method: "notifications/initialized" }, h);
  t.equal(note.status, 202);
  t.equal(note.body, "");
  const jsonBatch = await mcpPost([rpc("a", "ping"), rpc("b", "ping")], { ...h, accept: "application/json" });
  t.equal(jsonBatch.status, 200);
  t.same((JSON.parse(jsonBatch.body) as { id: string }[]).map((m) => m.id).sort(), ["a", "b"], "a JSON batch answer is an array");
  const later = await mcpPost(rpc(3, "ping"), { ...h, accept: "application/json", "mcp-protocol-version": "2025-06-18" });
  t.equal(later.status, 200);
  t.same(JSON.parse(later.body), { jsonrpc: "2.0", id: 3, result: {} });
});

t.test("a request re-sent with the same id (a retry) is answered from HISTORY, not run twice", async (t) => {
  const sid = await initialize();
  const h = { "mcp-session-id": sid };
  const first = await mcpPost(rpc(77, "radiant.test/echo", { n: 1 }), { ...h, accept: "application/json" });
  t.same(JSON.parse(first.body), { jsonrpc: "2.0", id: 77, result: { n: 1 } });
  const json = await mcpPost(rpc(77, "radiant.test/echo", { n: 1 }), { ...h, accept: "application/json" });
  t.equal(json.status, 200, "JSON: answered");
  t.same(JSON.parse(json.body), JSON.parse(first.body), "with the stored response");
  const s = await SseReader.open(
    endpoint,
    { ...h, "content-type": "application/json", accept: BOTH },
    "POST",
    JSON.stringify(rpc(77, "radiant.test/echo", { n: 1 })),
  );
  await s.waitEnd();
  t.same(s.frames, [JSON.parse(first.body)], "SSE: the stored response once, then the end");
  const stream = await SseReader.open(
    endpoint,
    { ...h, "content-type": "application/json", accept: BOTH },
    "POST",
    JSON.stringify(rpc("st", "radiant.test/stream", { count: 3 })),
  );
  await stream.waitEnd();
  const again = await SseReader.open(
    endpoint,
    { ...h, "content-type": "application/json", accept: BOTH },
    "POST",
    JSON.stringify(rpc("st", "radiant.test/stream", { count: 3 })),
  );
  await again.waitEnd();
  t.same(again.frames, stream.frames, "a streamed answer: the same messages, once each");
  // the first attempt's connection dies while the request still runs; the retry gets the answer when it comes
  const lost = httpRequest(endpoint, { method: "POST", headers: { ...h, "content-type": "application/json", accept: "application/json" } });
  lost.on("error", () => {});
  const held = (await inboxState(stack)).ackPending;
  lost.end(JSON.stringify(rpc("slow", "radiant.test/sleep", { ms: 1500 })));
  await eventually("the first attempt running", async () => (await inboxState(stack)).ackPending > held);
  lost.destroy();
  const retry = await mcpPost(rpc("slow", "radiant.test/sleep", { ms: 1500 }), { ...h, accept: "application/json" });
  t.equal(retry.status, 200);
  t.same(JSON.parse(retry.body), { jsonrpc: "2.0", id: "slow", result: { slept: true } }, "answered once it ran (once)");
});

t.test("GET: Last-Event-ID replays from HISTORY what no POST delivered; a GET without it starts at the end", async (t) => {
  const sid = await initialize();
  const h = { "mcp-session-id": sid };
  const r = await mcpPost(rpc(5, "radiant.test/stream", { count: 3 }), { ...h, accept: "application/json" });
  t.equal(r.status, 200);
  t.same(JSON.parse(r.body), { jsonrpc: "2.0", id: 5, result: { count: 3 } }, "the response went out on the POST");
  // a JSON answer has no room for the chunks: they are stored for the session's GET stream
  const replay = await SseReader.open(endpoint, { ...h, "last-event-id": "0" });
  const got = await replay.waitFor(3);
  t.same(
    got.map((e) => (JSON.parse(e.data) as { params: Chunk }).params.i),
    [0, 1, 2],
    "the chunks, replayed",
  );
  // a later request's chunk comes after anything of the first one on this stream
  const marker = await mcpPost(rpc(6, "radiant.test/stream", { count: 1 }), { ...h, accept: "application/json" });
  t.equal(marker.status, 200);
  await replay.waitFor(4);
  t.same(
    replay.events.map((e) => JSON.parse(e.data) as { id?: unknown; params?: Chunk }).map((f) => f.id ?? f.params!.i),
    [0, 1, 2, 0],
    "not the response: the POST delivered it (only the next request's chunk came after)",
  );
  replay.cut();
  const again = await SseReader.open(endpoint, { ...h, "last-event-id": got[0]!.id! });
  const rest = await again.waitFor(2);
  t.same(
    rest.map((e) => e.id),
    [got[1]!.id, got[2]!.id],
    "exactly what came after the id",
  );
  again.cut();
  const fresh = await SseReader.open(endpoint, { ...h, "mcp-protocol-version": "2025-11-25" });
  const [prime] = await fresh.waitFor(1);
  t.equal(prime!.data, "", "a priming event: an id to resume from, no data");
  t.ok(Number(prime!.id) > Number(got[2]!.id), "at the session's end");
  fresh.cut();
});

t.test("bad input: 406, 415, 400, 404, 413, parse error, invalid request, 403, 405", async (t) => {
  const sid = await initialize();
  const h = { "mcp-session-id": sid };
  const notAcceptable = await mcpPost(rpc(1, "ping"), { ...h, accept: "text/html" });
  t.equal(notAcceptable.status, 406);
  t.match(JSON.parse(notAcceptable.body), { jsonrpc: "2.0", id: null, error: { code: -32000, message: /Not Acceptable/ } });
  const getNotAcceptable = await request(endpoint, { headers: { ...h, accept: "application/json" } });
  t.equal(getNotAcceptable.status, 406);
  const wrongType = await mcpPost(rpc(1, "ping"), { ...h, "content-type": "text/plain" });
  t.equal(wrongType.status, 415);
  const noSession = await mcpPost(rpc(1, "ping"));
  t.equal(noSession.status, 400);
  t.match(JSON.parse(noSession.body), { error: { message: /Mcp-Session-Id header is required/ } });
  const getNoSession = await request(endpoint, { headers: { accept: "text/event-stream" } });
  t.equal(getNoSession.status, 400);
  const unknown = await mcpPost(rpc(1, "ping"), { "mcp-session-id": "no-such-session" });
  t.equal(unknown.status, 404);
  const tooBig = await mcpPost(rpc(1, "radiant.test/echo", { pad: "x".repeat(5000) }), h);
  t.equal(tooBig.status, 413);
  const parse = await mcpPost("{not json", h);
  t.equal(parse.status, 400);
  t.match(JSON.parse(parse.body), { jsonrpc: "2.0", id: null, error: { code: -32700 } });
  const invalid = await mcpPost({ id: 1, method: "ping" }, h);
  t.equal(invalid.status, 400);
  t.match(JSON.parse(invalid.body), { error: { code: -32600 } });
  const initInBatch = await mcpPost([rpc(1, "initialize", {})], h);
  t.equal(initInBatch.status, 400);
  const badLastEvent = await request(endpoint, { headers: { ...h, accept: "text/event-stream", "last-event-id": "abc" } });
  t.equal(badLastEvent.status, 400);
  const badOrigin = await mcpPost(rpc(1, "ping"), { ...h, origin: "http://evil.example" });
  t.equal(badOrigin.status, 403);
  const goodOrigin = await mcpPost(rpc(1, "ping"), { ...h, origin: APP, accept: "application/json" });
  t.equal(goodOrigin.status, 200);
  t.equal(goodOrigin.headers["access-control-allow-origin"], APP);
  t.match(goodOrigin.headers["access-control-expose-headers"], /Mcp-Session-Id/);
  const put = await request(endpoint, { method: "PUT" });
  t.equal(put.status, 405);
  t.equal(put.headers.allow, "POST, GET, DELETE");
});
