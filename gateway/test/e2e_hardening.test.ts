// Holes an adversarial pass found in a running stack, each pinned: one frame
// that killed a process, tokens naming wildcard sessions, ids no answer could
// reach, smuggled requests, pages of other sites on /ws, errors that invited a
// retry that could never succeed, counters that went back to zero, and edge
// inputs. Every case also checks that the gateway process is the same one and
// still serves a bystander.
import tap from "tap";

const t = tap;
import { createHmac } from "node:crypto";
import { connect as tcpConnect } from "node:net";
import { descendants, freePort } from "@radiant/infra/proc";
import { Client, eventually, openSession, rpc, startStack, type Frame, upgrade } from "./harness.js";
import { request, SseReader } from "./sse_client.js";

const SECRET = "hardening-test-secret-0123456789-abcdefghijkl";
const APP = "https://app.example.test";
const stack = await startStack(t, {
  // a port of its own (not the kernel's pick for one process): a process restarted after a crash listens there again at once
  gatewayPort: await freePort(),
  env: { RESUME_TOKEN_SECRET: SECRET },
  gatewayEnv: { GATEWAY_ALLOWED_ORIGINS: APP },
  // the broker's own limit, below what GATEWAY_MAX_PAYLOAD (1 MiB) would let in
  natsMaxPayload: 1024 * 1024,
});
const base = stack.wsUrl.replace(/^ws/, "http").replace(/\/ws$/, "");
const hostPort = base.replace(/^http:\/\//, "");
const BOTH = "application/json, text/event-stream";

/** the gateway processes under the supervisor: the same pids before and after means nothing crashed */
const gatewayPids = () => descendants(stack.gateway!.child.pid!).sort().join(",");

/** A session on GET /sse: its token, for POST /sse/messages. */
async function sseToken(): Promise<string> {
  // the 307 carries the session's own stream URL, its token in it
  const res = await fetch(`${base}/sse`, { redirect: "manual" });
  return decodeURIComponent(new URL(res.headers.get("location")!, base).searchParams.get("resume")!);
}

async function mcpSession(): Promise<string> {
  const r = await request(`${base}/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(rpc(0, "initialize", { protocolVersion: "2025-03-26", capabilities: {}, clientInfo: { name: "h", version: "1" } })),
  });
  return r.headers["mcp-session-id"] as string;
}

/** Raw bytes to the client port; everything the server sent until it closed (or `ms` passed). */
function rawExchange(bytes: string, ms = 5000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = tcpConnect(stack.gatewayPort, "127.0.0.1");
    let text = "";
    let closed = false;
    const timer = setTimeout(() => s.destroy(), ms);
    s.on("data", (d) => (text += d.toString("latin1")));
    s.on("error", () => {});
    s.on("end", () => (closed = true));
    s.on("close", () => {
      clearTimeout(timer);
      resolve({ text, closed });
    });
    s.write(bytes);
  });
}

const bystander = await openSession(stack.wsUrl);
const pidsAtStart = gatewayPids();

async function stillServing(t: { equal: typeof tap.equal; same: typeof tap.same }, what: string): Promise<void> {
  t.equal(gatewayPids(), pidsAtStart, `${what}: no gateway process died`);
  t.same((await bystander.c.call(rpc(`b-${what}`, "ping"))).result, {}, `${what}: a bystander is still served`);
}

t.test("a raw line feed, CR LF or NUL inside an id: -32700, the socket stays open, the process stays up", async (t) => {
  const bad = [
    '{"jsonrpc":"2.0","id":"a\nb","method":"ping"}',
    '{"jsonrpc":"2.0","id":"a\r\nb","method":"ping"}',
    '{"jsonrpc":"2.0","id":"a\u0000b","method":"ping"}',
    '{"jsonrpc":"2.0","id":1,"method":"pi\nng"}',
  ];
  for (const framing of ["json", "mcp"] as const) {
    const c = await Client.connect(stack.wsUrl, framing === "mcp" ? ["mcp"] : []);
    await c.next(); // the session frame (a notification on the mcp subprotocol)
    for (const frame of bad) {
      c.send(frame);
      t.match(await c.next(), { jsonrpc: "2.0", id: null, error: { code: -32700 } }, `${framing}: ${JSON.stringify(frame)}`);
    }
    t.equal(c.closeCode, undefined, `${framing}: the socket stays open`);
    t.ok("result" in (await c.call(rpc(9, "ping"))), `${framing}: and usable`);
    await c.close();
  }
  const token = await sseToken();
  for (const frame of bad) {
    const r = await request(`${base}/sse/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: frame,
    });
    t.equal(r.status, 400, `POST /sse/messages ${JSON.stringify(frame)}`);
    t.match(JSON.parse(r.body), { id: null, error: { code: -32700 } }, "a JSON body, no raw control character in it");
  }
  const sid = await mcpSession();
  const r = await request(`${base}/mcp`, {
    method: "POST",
    headers: { "mcp-session-id": sid, "content-type": "application/json", accept: BOTH },
    body: bad[0],
  });
  t.equal(r.status, 400);
  t.match(JSON.parse(r.body), { error: { code: -32700 } });
  await stillServing(t, "control characters");
});

/** A token signed with the gateway's secret around any claims: what someone holding the secret could make. */
function forge(sid: unknown, epoch: string): string {
  const h = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url");
  const p = Buffer.from(JSON.stringify({ sid, sub: "anonymous", ep: epoch, iat: 0, exp: Math.floor(Date.now() / 1000) + 600 })).toString("base64url");
  return `${h}.${p}.${createHmac("sha256", SECRET).update(`${h}.${p}`).digest("base64url")}`;
}

t.test("a correctly signed token naming a wildcard or malformed session reaches no session and no subject", async (t) => {
  // the bystander has a stored reply that nobody else may read
  await bystander.c.call(rpc("secret", "radiant.test/echo", { mine: "only" }));
  const epoch = bystander.session.epoch as string;
  for (const sid of ["*", ">", "out.*.*", "a b", `${(bystander.session.sid as string).slice(0, 6)}.*`, "", "A".repeat(300)]) {
    const token = forge(sid, epoch);
    const c = await Client.connect(`${stack.wsUrl}?resume=${encodeURIComponent(token)}&last_seq=0`);
    const s = await c.next();
    t.match(s, { type: "session", resumed: false, reason: /malformed/ }, `resume ${JSON.stringify(sid).slice(0, 30)}: refused`);
    t.not(s.sid, sid);
    t.same((await c.call(rpc(1, "ping"))).result, {}, "a fresh session of its own");
    t.notOk(
      c.raw.some((f) => f.includes('"mine"')),
      "nothing of another session",
    );
    await c.close();
    const post = await request(`${base}/sse/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(rpc(1, "ping")),
    });
    t.equal(post.status, 401, "POST /sse/messages: 401");
    const del = await request(`${base}/mcp`, { method: "DELETE", headers: { "mcp-session-id": token } });
    t.equal(del.status, 404, "DELETE /mcp: 404, nothing purged");
    const get = await request(`${base}/mcp`, { headers: { "mcp-session-id": token, accept: "text/event-stream" } });
    t.equal(get.status, 404, "GET /mcp: 404");
  }
  // the bystander's history is whole: a resume from 0 replays its reply
  const again = await Client.connect(`${stack.wsUrl}?resume=${encodeURIComponent(bystander.session.resume_token!)}&last_seq=0`);
  t.match(await again.next(), { type: "session", resumed: true });
  await eventually("the stored reply replayed", () => again.raw.some((f) => f.includes('"mine":"only"')));
  await again.close();
  // the takeover closed the bystander's socket: open it again for the next tests
  await bystander.c.closed;
  Object.assign(bystander, await openSession(stack.wsUrl));
  await stillServing(t, "forged sids");
});

t.test("POST /mcp: an id no answer could name gets -32600 at once; in a batch the rest is still answered", async (t) => {
  const sid = await mcpSession();
  const h = { "mcp-session-id": sid, "content-type": "application/json" };
  for (const id of ["{}", "true", "1e400", "[1]", `"${"x".repeat(2000)}"`]) {
    const started = Date.now();
    const r = await request(`${base}/mcp`, { method: "POST", headers: { ...h, accept: BOTH }, body: `{"jsonrpc":"2.0","id":${id},"method":"ping"}` });
    t.equal(r.status, 400, `id ${id.slice(0, 12)}: 400`);
    t.match(JSON.parse(r.body), { jsonrpc: "2.0", id: null, error: { code: -32600, message: /"id" must be/ } });
    t.ok(Date.now() - started < 10_000, "at once, not at the response timeout");
  }
  const batch = `[{"jsonrpc":"2.0","id":{"x":1},"method":"ping"},{"jsonrpc":"2.0","id":7,"method":"ping"},{"jsonrpc":"2.0","id":1e400,"method":"ping"}]`;
  const json = await request(`${base}/mcp`, { method: "POST", headers: { ...h, accept: "application/json" }, body: batch });
  t.equal(json.status, 200);
  const items = JSON.parse(json.body) as Frame[];
  t.equal(items.length, 3, "one answer per item");
  t.same(
    items.find((i) => i.id === 7),
    { jsonrpc: "2.0", id: 7, result: {} },
    "the valid request answered",
  );
  t.equal(items.filter((i) => (i.error as { code: number } | undefined)?.code === -32600).length, 2, "each unusable id refused");
  const sse = await SseReader.open(`${base}/mcp`, { ...h, accept: BOTH }, "POST", batch);
  await sse.waitEnd();
  const frames = sse.frames;
  t.equal(frames.length, 3, "the same as a stream");
  t.ok(frames.some((f) => f.id === 7 && "result" in f));
  await stillServing(t, "bad ids");
});

t.test("Content-Length given twice with different values: 400 and the connection closed; nothing smuggled runs", async (t) => {
  const token = await sseToken();
  const ping = JSON.stringify(rpc("smuggled", "ping"));
  const smuggled = `POST /sse/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${ping.length}\r\n\r\n${ping}`;
  const alone = await rawExchange(
    `POST /sse/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 44\r\n\r\n{}`,
  );
  t.match(alone.text, /^HTTP\/1\.1 400 Bad Request\r\n/);
  t.match(alone.text, /Content-Length given twice with different values/);
  t.ok(alone.closed, "the server closed the connection");
  // with a request pipelined behind it, the socket layer drops the connection before anything more runs
  const r = await rawExchange(
    `POST /sse/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 44\r\n\r\n{}${smuggled}`,
  );
  t.notMatch(r.text, /202 Accepted/, "the smuggled request never ran");
  t.ok((r.text.match(/HTTP\/1\.1 /g)?.length ?? 0) <= 1, "at most the 400");
  t.ok(r.closed, "the connection is closed");
  const same = await rawExchange(
    `POST /sse/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${ping.length}\r\nContent-Length: ${ping.length}\r\nConnection: close\r\n\r\n${ping}`,
  );
  t.match(same.text, /^HTTP\/1\.1 202 Accepted/, "the same value twice is one length (RFC 9112)");
  const mcp = await rawExchange(
    `POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAccept: ${BOTH}\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{}{}{}`,
  );
  t.match(mcp.text, /^HTTP\/1\.1 400 Bad Request/, "the same on /mcp");
  await stillServing(t, "content-length");
});

t.test("/ws checks Origin like /sse and /mcp: other sites and null refused, same origin and listed ones let in", async (t) => {
  const upgradeWith = async (origin: string | undefined): Promise<number> => {
    const r = await upgrade(stack.wsUrl, [], origin === undefined ? {} : { headers: { origin } });
    if ("client" in r) r.client.ws.close();
    return "client" in r ? 101 : "status" in r ? r.status : 0;
  };
  t.equal(await upgradeWith("https://evil.example"), 403, "another site");
  t.equal(await upgradeWith("null"), 403, "Origin: null");
  t.equal(await upgradeWith(`http://${hostPort}`), 101, "a page of the gateway's own origin");
  t.equal(await upgradeWith(APP), 101, "a listed origin");
  t.equal(await upgradeWith(undefined), 101, "no Origin: not a browser page");
  const sse = await request(`${base}/sse`, { headers: { accept: "text/event-stream", origin: `http://${hostPort}` } });
  t.equal(sse.status, 307, "/sse lets the same origin in too");
  const evil = await request(`${base}/sse`, { headers: { accept: "text/event-stream", origin: "null" } });
  t.equal(evil.status, 403);
  await stillServing(t, "origin");
});

t.test("too large for the broker is 'too large' (1009 / 413), never 'unavailable, retry'", async (t) => {
  const { c } = await openSession(stack.wsUrl);
  // under GATEWAY_MAX_PAYLOAD (1 MiB), over what NATS (1 MiB max_payload) carries with the envelope
  const frame = JSON.stringify(rpc(1, "radiant.test/echo", { pad: "x".repeat(1024 * 1024 - 200) }));
  t.ok(frame.length < 1024 * 1024);
  c.send(frame);
  const closed = await c.closed;
  t.equal(closed.code, 1009);
  t.match(closed.reason, /frame too big: the limit is \d+ bytes/);
  const token = await sseToken();
  const r = await request(`${base}/sse/messages`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: frame,
  });
  t.equal(r.status, 413);
  t.notMatch(r.body, /retry/i);
  const long = await openSession(stack.wsUrl);
  long.c.send(`{"jsonrpc":"2.0","id":"${"i".repeat(70_000)}","method":"ping"}`);
  const answer = await long.c.next();
  t.match(answer, { id: null, error: { code: -32600, message: /at most 1024 bytes/ } }, "an id over the limit: invalid, not 'retry'");
  t.notMatch(JSON.stringify(answer), /retry/i);
  await long.c.close();
  await stillServing(t, "too large");
});

t.test("valid JSON that is no object is an invalid request, not 'not valid JSON'", async (t) => {
  const { c } = await openSession(stack.wsUrl);
  for (const scalar of ["null", "123", '"str"', "true", " -1.5e3 "]) {
    c.send(scalar);
    t.match(await c.next(), { id: null, error: { code: -32600, message: /must be a JSON object/ } }, scalar);
  }
  for (const broken of ["nul", "1.", '"open', "01"]) {
    c.send(broken);
    t.match(await c.next(), { error: { code: -32700 } }, `${broken}: still a parse error`);
  }
  await c.close();
  const token = await sseToken();
  const r = await request(`${base}/sse/messages`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: "123",
  });
  t.equal(r.status, 400);
  t.match(JSON.parse(r.body), { error: { code: -32600 } });
});

t.test("a slow upload gets 408 with a reason before the socket layer's cut", async (t) => {
  const token = await sseToken();
  const body = JSON.stringify(rpc("slow", "ping"));
  const started = Date.now();
  const r = await new Promise<{ text: string; ms: number }>((resolve) => {
    const s = tcpConnect(stack.gatewayPort, "127.0.0.1");
    let text = "";
    s.on("data", (d) => (text += d.toString("latin1")));
    s.on("error", () => {});
    s.on("close", () => resolve({ text, ms: Date.now() - started }));
    s.write(
      `POST /sse/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    let i = 0;
    const drip = setInterval(() => (i < body.length && !s.destroyed ? s.write(body[i++]!) : clearInterval(drip)), 500);
    setTimeout(() => s.destroy(), 30_000);
  });
  t.match(r.text, /^HTTP\/1\.1 408 Request Timeout\r\n/, "told why");
  t.match(r.text, /a request body must arrive at 16 KiB\/s or faster/);
  await stillServing(t, "slow upload");
});

t.test("invalid UTF-8 in a text frame: the socket layer closes that socket; nobody else notices", async (t) => {
  const { c } = await openSession(stack.wsUrl);
  c.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
  const { code } = await c.closed;
  // uWS 20.30 validates UTF-8 natively and drops the connection (1006); no JavaScript hook reaches it (README)
  t.ok([1006, 1007].includes(code), `closed (${code})`);
  await stillServing(t, "invalid utf-8");
});

t.test("counters: a gateway process restarted keeps totals; POST answers count as out; parked GET streams as connections", async (t) => {
  type Counts = { total_connections: number; active_connections: number; messages_in: number; messages_out: number };
  const health = async () => (await stack.health()).body as unknown as Counts;
  const sid = await mcpSession();
  const h0 = await health();
  const post = await request(`${base}/mcp`, {
    method: "POST",
    headers: { "mcp-session-id": sid, "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(rpc(1, "ping")),
  });
  t.equal(post.status, 200);
  const h1 = await health();
  t.ok(h1.messages_out > h0.messages_out, "a reply delivered on a POST response is counted out");
  const streams: SseReader[] = [];
  for (let i = 0; i < 200; i++) streams.push(await SseReader.open(`${base}/mcp`, { "mcp-session-id": sid, accept: "text/event-stream" }));
  const h2 = await health();
  t.ok(h2.active_connections >= h1.active_connections + 200, `200 GET streams of one session are 200 connections (${h2.active_connections})`);
  for (const s of streams) s.cut();
  await eventually("the streams counted gone", async () => (await health()).active_connections <= h1.active_connections);
  const before = await health();
  const [child] = descendants(stack.gateway!.child.pid!);
  process.kill(child!, "SIGKILL");
  await eventually("a new gateway process", () => gatewayPids() !== "" && gatewayPids() !== String(child));
  await eventually("health ok again", async () => (await stack.health().catch(() => ({ code: 0 }))).code === 200, 30_000);
  const after = await health();
  for (const k of ["total_connections", "messages_in", "messages_out"] as const) t.ok(after[k] >= before[k], `${k}: ${before[k]} → ${after[k]}, not back to 0`);
});
