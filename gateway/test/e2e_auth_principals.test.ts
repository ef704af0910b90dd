// Everything belongs to its principal: a valid credential of another
// principal is refused, never shown another's data — WebSocket resume, MCP
// sessions (the official SDK with a gateway key) and their DELETE, an LLM
// answer's resume token, an SSE session, A2A tasks. And the admin API sees a
// principal's open sessions across the fleet and ends one everywhere.
import { ADMIN_TOKEN, adminClient } from "./admin_client.js";
import { Client as McpClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import t from "tap";
import { Client, eventually, rpc, startStack } from "./harness.js";
import { request } from "./sse_client.js";

const stack = await startStack(t, { gatewayEnv: { GATEWAY_AUTH_REQUIRED: "true", GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN } });
const base = stack.wsUrl.replace(/^ws/, "http").replace(/\/ws$/, "");
const { call, newKey } = adminClient(stack);
const admin = (path: string, method = "GET") => call(path, { method });
const keyOf = async (principal: string): Promise<string> => (await newKey({ principal })).key;
const alice = await keyOf("alice");
const bob = await keyOf("bob");
const as = (key: string, more: Record<string, string> = {}) => ({ authorization: `Bearer ${key}`, ...more });
const connect = (key: string, query = "") => Client.connect(`${stack.wsUrl}${query}`, [], { headers: as(key) });

t.test("a WebSocket session: its resume token is refused to another principal, the history is not replayed", async (t) => {
  const c = await connect(alice);
  const session = await c.next();
  await c.call(rpc(1, "radiant.test/echo", { secret: "alice's" }));
  c.ws.close();
  await c.closed;
  const resume = `?resume=${encodeURIComponent(String(session.resume_token))}&last_seq=0`;
  const thief = await connect(bob, resume);
  const frames = await thief.take(1);
  t.notMatch(JSON.stringify(frames), /alice's/, "nothing of alice's");
  t.match(JSON.stringify(frames[0]), /another principal/);
  await new Promise((r) => setTimeout(r, 300));
  t.notMatch(thief.raw.join("\n"), /alice's/, "nor later");
  thief.ws.close();
  const owner = await connect(alice, resume);
  await owner.next();
  const replay = await owner.take(1);
  t.match(JSON.stringify(replay), /alice's/, "its owner resumes it");
  owner.ws.close();
});

t.test("MCP: the official SDK with a gateway key; another principal cannot use or DELETE its session", async (t) => {
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers: as(alice) } });
  const client = new McpClient({ name: "alice", version: "1" });
  await client.connect(transport);
  t.same(await client.ping(), {}, "alice's session works");
  const sid = transport.sessionId!;
  const headers = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    "mcp-session-id": sid,
    "mcp-protocol-version": "2025-06-18",
  };
  const post = await request(`${base}/mcp`, {
    method: "POST",
    headers: { ...headers, ...as(bob) },
    body: JSON.stringify(rpc(9, "radiant.test/echo", { b: 1 })),
  });
  t.equal(post.status, 404, "bob cannot call on alice's session");
  t.match(post.body, /another principal/);
  const del = await request(`${base}/mcp`, { method: "DELETE", headers: { "mcp-session-id": sid, ...as(bob) } });
  t.equal(del.status, 404, "nor end it");
  t.same(await client.ping(), {}, "alice's session lives on");
  await client.close();
});

t.test("an LLM answer's resume token and an SSE session are their principal's", async (t) => {
  const answer = await request(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: as(alice, { "content-type": "application/json" }),
    body: JSON.stringify({ model: "echo-openai", messages: [{ role: "user", content: "alice private words" }] }),
  });
  t.equal(answer.status, 200);
  const token = String(answer.headers["radiant-resume-token"]);
  const stolen = await request(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: as(bob, { "content-type": "application/json", "radiant-resume-token": token }),
    body: "{}",
  });
  t.not(stolen.status, 200);
  t.notMatch(stolen.body, /private words/, "bob never reads alice's answer");

  const first = await request(`${base}/sse`, { headers: as(alice, { accept: "text/event-stream" }) });
  const resume = new URL(String(first.headers.location), base).searchParams.get("resume")!;
  const own = await request(`${base}/sse/messages`, {
    method: "POST",
    headers: as(alice, { "content-type": "application/json", "radiant-resume-token": resume }),
    body: JSON.stringify(rpc(1, "radiant.test/echo", {})),
  });
  t.equal(own.status, 202, "alice posts into her session: her key in Authorization, the session in Radiant-Resume-Token");
  const post = await request(`${base}/sse/messages?resume=${encodeURIComponent(resume)}`, {
    method: "POST",
    headers: as(bob, { "content-type": "application/json" }),
    body: JSON.stringify(rpc(1, "radiant.test/echo", {})),
  });
  t.not(post.status, 202, "bob cannot post into alice's SSE session");
  t.match(post.body, /another principal/);
});

t.test("A2A: a task is its principal's: another principal is told it does not exist", async (t) => {
  const call = (key: string, body: unknown) =>
    request(`${base}/a2a/echo`, {
      method: "POST",
      headers: as(key, { "content-type": "application/json", accept: "application/json" }),
      body: JSON.stringify(body),
    });
  const sent = await call(
    alice,
    rpc(1, "message/send", { message: { kind: "message", role: "user", messageId: "m-a1", parts: [{ kind: "text", text: "alice task text" }] } }),
  );
  const task = (JSON.parse(sent.body) as { result: { id: string } }).result;
  t.ok(task.id, "alice's task");
  const mine = JSON.parse((await call(alice, rpc(2, "tasks/get", { id: task.id }))).body) as { result?: { id: string } };
  t.equal(mine.result?.id, task.id, "alice reads it");
  const theirs = await call(bob, rpc(3, "tasks/get", { id: task.id }));
  t.match(JSON.parse(theirs.body), { error: { code: -32001 } }, "TaskNotFound for bob");
  t.notMatch(theirs.body, /alice task text/);
  const cancel = await call(bob, rpc(4, "tasks/cancel", { id: task.id }));
  t.match(JSON.parse(cancel.body), { error: { code: -32001 } }, "nor can bob cancel it");
});

t.test("the admin API lists a principal's open sessions across the fleet and ends one everywhere (4002; no resume)", async (t) => {
  const a1 = await connect(alice);
  const s1 = await a1.next();
  const b1 = await connect(bob);
  await b1.next();
  const list = async (q: string) =>
    JSON.parse((await admin(`/admin/sessions${q}`)).body) as { sessions: { sid: string; principal: string; via: string }[]; processes: number };
  await eventually("alice's session listed", async () => (await list("?principal=alice")).sessions.length >= 1);
  const mine = await list("?principal=alice");
  t.ok(mine.processes >= 1, "every gateway process answered");
  t.ok(
    mine.sessions.every((s) => s.principal === "alice"),
    "only alice's",
  );
  const sid = String(s1.sid);
  t.ok(
    mine.sessions.some((s) => s.sid === sid && s.via === "key"),
    "the session, and how its client was identified",
  );
  t.ok(
    (await list("")).sessions.some((s) => s.principal === "bob"),
    "no filter: everyone's",
  );
  t.equal((await admin("/admin/sessions/not-a-sid", "DELETE")).status, 400);
  t.equal((await admin(`/admin/sessions/${sid}`, "DELETE")).status, 204);
  const closed = await a1.closed;
  t.equal(closed.code, 4002, "closed wherever it was held");
  const again = await connect(alice, `?resume=${encodeURIComponent(String(s1.resume_token))}&last_seq=0`);
  t.match(JSON.stringify(await again.next()), /ended/, "and it cannot be resumed");
  again.ws.close();
  t.equal(b1.closeCode, undefined, "bob's session untouched");
  b1.ws.close();
});
