// The whole path, socket → INBOX → worker → HISTORY → socket, in the default
// framing: the seed's quick start, the session frame, seq_num and resume_token
// on every frame, and each protocol answered in its own format.
import t from "tap";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { once } from "node:events";
import type { IncomingMessage } from "node:http";
import WebSocket from "ws";
import { openSession, rpc, startStack } from "./harness.js";

const stack = await startStack(t);

t.test("the seed's quick start: initialize with no params gets an initialize result", async (t) => {
  const { c, session } = await openSession(stack.wsUrl);
  t.equal(session.type, "session");
  t.match(session.sid, /^[A-Za-z0-9_-]{28}$/, "the process's home (6) and 128 random bits");
  t.match(session.resume_token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  t.equal(session.seq_num, 0);
  c.send('{"jsonrpc":"2.0","method":"initialize","id":1}');
  const f = await c.next();
  t.equal(f.jsonrpc, "2.0");
  t.equal(f.id, 1);
  t.match(f.result, { protocolVersion: "2025-03-26", capabilities: {}, serverInfo: { name: "radiant-gateway" } });
  t.ok(typeof f.seq_num === "number" && f.seq_num > 0, "seq_num spliced in");
  t.equal(f.resume_token, session.resume_token, "the current resume token rides along");
  await c.close();
});

t.test("wscat, as the README shows it", async (t) => {
  const wscat = fileURLToPath(new URL("../../node_modules/.bin/wscat", import.meta.url));
  const { stdout } = await promisify(execFile)(wscat, ["-c", stack.wsUrl, "-x", '{"jsonrpc":"2.0","method":"initialize","id":1}', "-w", "2"], {
    timeout: 30_000,
  });
  const frames = stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  t.equal(frames[0]?.type, "session");
  t.match(frames[1], { id: 1, result: { protocolVersion: "2025-03-26" } });
});

t.test("MCP lifecycle: client version echoed, initialized is silent, ping, unknown method", async (t) => {
  const { c } = await openSession(stack.wsUrl);
  const init = await c.call(rpc(1, "initialize", { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } }));
  t.equal((init.result as { protocolVersion: string }).protocolVersion, "2025-06-18");
  const old = await c.call(rpc(2, "initialize", { protocolVersion: "1999-01-01" }));
  t.equal((old.result as { protocolVersion: string }).protocolVersion, "2025-03-26", "an unknown version gets ours");
  c.send({ jsonrpc: "2.0", method: "notifications/initialized" });
  c.send(rpc("p", "ping"));
  const pong = await c.next();
  t.same({ id: pong.id, result: pong.result }, { id: "p", result: {} }, "the notification got no reply: the next frame answers the ping");
  const unknown = await c.call(rpc(4, "tools/nope"));
  t.same(unknown.error, { code: -32601, message: "Method not found: tools/nope" });
  await c.close();
});

t.test("seq_num strictly increases and every reply arrives once, in order", async (t) => {
  const { c } = await openSession(stack.wsUrl);
  const n = 300;
  for (let i = 0; i < n; i++) c.send(rpc(i, "radiant.test/echo", { i }));
  const got = await c.take(n);
  const seqs = got.map((f) => f.seq_num!);
  t.ok(
    seqs.every((s, i) => i === 0 || s > seqs[i - 1]!),
    "increasing",
  );
  t.same(
    got.map((f) => f.id).sort((a, b) => Number(a) - Number(b)),
    Array.from({ length: n }, (_, i) => i),
    "each request answered exactly once",
  );
  const stream = await c.call(rpc("s", "radiant.test/stream", { count: 500 }));
  const chunks = c.frames.filter((f) => f.method === "notifications/radiant.test/chunk");
  t.same(
    chunks.map((f) => (f.params as { i: number }).i),
    Array.from({ length: 500 }, (_, i) => i),
    "a 500-frame stream: each once, in order",
  );
  t.same(stream.result, { count: 500 });
  await c.close();
});

t.test(
  "A2A is routed to its handler (a bad message: its own -32602); each LLM protocol routes by model and refuses an unknown one in its own format",
  async (t) => {
    const { c } = await openSession(stack.wsUrl);
    c.send({ jsonrpc: "2.0", id: 7, method: "message/send", params: { message: { kind: "message", role: "user", messageId: "m", parts: [] } } });
    const a2a = await c.next();
    t.match(a2a, { jsonrpc: "2.0", id: 7, error: { code: -32602, message: /message\.parts/ } });
    c.send({
      model: "gpt",
      messages: [
        { role: "system", content: "x" },
        { role: "user", content: "hi" },
      ],
    });
    t.match(await c.next(), { error: { type: "invalid_request_error", code: "model_not_found", message: /gpt/ } }, "as OpenAI says it");
    c.send({ model: "claude", max_tokens: 10, system: "be brief", messages: [{ role: "user", content: "hi" }] });
    t.match(await c.next(), { type: "error", error: { type: "not_found_error", message: /claude/ } });
    c.send({ contents: [{ role: "user", parts: [{ text: "hi" }] }] });
    t.match(await c.next(), { error: { code: 400, status: "INVALID_ARGUMENT", message: /model/ } }, "a Google body on a session names its model");
    c.send({ model: "echo-google", contents: [{ role: "user", parts: [{ text: "hi there" }] }] });
    t.match(await c.next(), { candidates: [{ content: { parts: [{ text: "hi there" }] } }] });
    await c.close();
  },
);

t.test("a JSON-RPC batch is answered, one frame per response", async (t) => {
  const { c } = await openSession(stack.wsUrl);
  c.send([rpc(1, "ping"), { jsonrpc: "2.0", method: "notifications/initialized" }, rpc(2, "nope")]);
  const [a, b] = await c.take(2);
  t.same([a!.id, b!.id], [1, 2]);
  t.same(a!.result, {});
  t.equal((b!.error as { code: number }).code, -32601);
  await c.close();
});

t.test("sessions are isolated: nothing of one reaches another", async (t) => {
  const one = await openSession(stack.wsUrl);
  const two = await openSession(stack.wsUrl);
  t.not(one.session.sid, two.session.sid);
  await one.c.call(rpc(1, "radiant.test/stream", { count: 50 }));
  await two.c.call(rpc(2, "ping"));
  t.equal(two.c.frames.length, 2, "session frame and its own pong only");
  await Promise.all([one.c.close(), two.c.close()]);
});

t.test("/health counts what happened", async (t) => {
  const before = (await stack.health()).body;
  const { c } = await openSession(stack.wsUrl);
  await c.call(rpc(1, "ping"));
  const during = await stack.health();
  t.equal(during.code, 200);
  t.same(
    Object.keys(during.body),
    ["status", "active_connections", "total_connections", "messages_in", "messages_out", "nats"],
    "the seed's fields, plus NATS",
  );
  t.match(during.body, { status: "ok", nats: "connected", active_connections: 1 });
  t.equal(during.body.total_connections, (before.total_connections as number) + 1);
  t.equal(during.body.messages_in, (before.messages_in as number) + 1);
  t.equal(during.body.messages_out, (before.messages_out as number) + 1);
  await c.close();
  const metrics = await (await fetch(`${stack.healthUrl}/metrics`)).text();
  t.match(metrics, /radiant_ingress_to_egress_seconds_bucket\{le="0\.005"\} \d+/);
  t.match(metrics, /radiant_messages_out_total \d+/);
  t.equal((await fetch(`${stack.healthUrl}/nope`)).status, 404);
});

t.test("a client that requires a subprotocol we do not speak is told so (400)", async (t) => {
  const ws = new WebSocket(stack.wsUrl, ["graphql-ws"]);
  ws.on("error", () => {});
  const [, res] = (await once(ws, "unexpected-response")) as [unknown, IncomingMessage];
  t.equal(res.statusCode, 400);
  let body = "";
  for await (const chunk of res) body += chunk;
  t.match(body, /unsupported WebSocket subprotocol "graphql-ws": offer "mcp" or none/);
  ws.terminate();
});
