// The generic SSE transport: GET /sse (a redirect to the session's own stream
// URL, then events with id = seq_num), POST /sse/messages (one frame into
// INBOX, 202 once stored). Driven by the `eventsource` package — the client
// a Node program would use — and by a raw reader that sees the bytes.
import t from "tap";
import { EventSource } from "eventsource";
import { eventually, liveRoutes, rpc, startStack, TcpProxy } from "./harness.js";
import { request, SseReader } from "./sse_client.js";

const PAGE_ORIGIN = "http://app.example.test";
const stack = await startStack(t, {
  gatewayEnv: { GATEWAY_SSE_HEARTBEAT: "1", GATEWAY_MAX_PAYLOAD: "4096", GATEWAY_ALLOWED_ORIGINS: PAGE_ORIGIN },
});
const base = stack.wsUrl.replace(/^ws/, "http").replace(/\/ws$/, "");
const subs = () => stack.nats.subscriptionsUnder("out.");
const routes = async () => (await liveRoutes(stack)).home;

/** A new session's stream URL (the Location of GET /sse) and its token. */
async function newSession(): Promise<{ url: string; token: string }> {
  const r = await request(`${base}/sse`, { headers: { accept: "text/event-stream" } });
  if (r.status !== 307) throw new Error(`GET /sse answered ${r.status}`);
  const location = r.headers.location!;
  return { url: new URL(location, base).href, token: new URL(location, base).searchParams.get("resume")! };
}

const post = (token: string, frame: unknown, headers: Record<string, string> = {}) =>
  request(`${base}/sse/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, ...headers },
    body: typeof frame === "string" ? frame : JSON.stringify(frame),
  });

const chunkNo = (f: Record<string, unknown>) => (f.params as { i: number }).i;

t.test("GET /sse: 307 to the session's own URL, then a session frame and every reply as an event", async (t) => {
  const { url, token } = await newSession();
  const s = await SseReader.open(url);
  t.equal(s.status, 200);
  t.match(s.res!.headers["content-type"], /^text\/event-stream/);
  t.equal(s.res!.headers["cache-control"], "no-cache");
  t.equal(s.res!.headers["x-accel-buffering"], "no");
  const [hello] = await s.waitFor(1);
  t.equal(hello!.id, undefined, "the session frame has no id: it is not stored");
  const session = JSON.parse(hello!.data) as Record<string, unknown>;
  t.match(session, { type: "session", seq_num: 0 });
  const r = await post(token, rpc(1, "ping"));
  t.equal(r.status, 202, "202 once JetStream holds it");
  t.equal(r.body, "");
  const [, reply] = await s.waitFor(2);
  const f = JSON.parse(reply!.data) as Record<string, unknown>;
  t.match(f, { jsonrpc: "2.0", id: 1, result: {} });
  t.equal(reply!.id, String(f.seq_num), "the event id is the seq_num");
  await eventually("a heartbeat comment", () => s.comments >= 2);
  s.cut();
});

t.test("eventsource: cut the TCP connection mid-stream; it reconnects with Last-Event-ID; every message once, in order", async (t) => {
  const proxy = await new TcpProxy({ host: "127.0.0.1", port: Number(new URL(base).port) }).start();
  t.teardown(() => proxy.close());
  const { url, token } = await newSession();
  const viaProxy = url.replace(`:${new URL(base).port}/`, `:${proxy.port}/`);
  const frames: Record<string, unknown>[] = [];
  const ids: string[] = [];
  let opens = 0;
  const es = new EventSource(viaProxy);
  t.teardown(() => es.close());
  es.onopen = () => opens++;
  es.onmessage = (e) => {
    frames.push(JSON.parse(e.data as string) as Record<string, unknown>);
    ids.push(e.lastEventId);
  };
  await eventually("the session frame", () => frames.length === 1);
  const n = 2000;
  // paced: replies are coalesced, and an unpaced stream would be over before the cut
  t.equal((await post(token, rpc("s", "radiant.test/stream", { count: n, delayMs: 1 }))).status, 202);
  await eventually("500 chunks", () => frames.length > 500, 60_000);
  proxy.cut();
  proxy.allow();
  await eventually("every chunk and the result", () => frames.filter((f) => f.type !== "session").length >= n + 1, 90_000);
  t.ok(opens >= 2, `it reconnected by itself (${opens} opens)`);
  const sessions = frames.filter((f) => f.type === "session");
  t.equal(sessions.length, opens, "one session frame per connection");
  t.ok(
    sessions.every((s) => s.sid === sessions[0]!.sid),
    "the same session each time",
  );
  t.ok(
    sessions.slice(1).every((s) => s.resumed === true),
    "resumed",
  );
  const replies = frames.filter((f) => f.type !== "session");
  t.equal(replies.length, n + 1, "nothing twice");
  t.same(
    replies.slice(0, n).map(chunkNo),
    Array.from({ length: n }, (_, i) => i),
    "chunks 0..1999 once each, in order",
  );
  t.same(replies[n]!.result, { count: n });
  const seqs = replies.map((f) => f.seq_num as number);
  t.ok(
    seqs.every((s, i) => i === 0 || s > seqs[i - 1]!),
    "seq_num strictly increasing across the cut",
  );
});

t.test("?last_seq= resumes without EventSource's header; a bad token gets a fresh session saying why", async (t) => {
  const { url, token } = await newSession();
  const s = await SseReader.open(url);
  await s.waitFor(1);
  await post(token, rpc("a", "radiant.test/stream", { count: 3 }));
  const got = await s.waitFor(5);
  s.cut();
  const second = JSON.parse(got[2]!.data) as { seq_num: number };
  const r = await SseReader.open(`${url}&last_seq=${second.seq_num}`);
  const again = await r.waitFor(3);
  t.match(JSON.parse(again[0]!.data), { type: "session", resumed: true });
  t.same(
    again.slice(1).map((e) => e.id),
    [got[3]!.id, got[4]!.id],
    "exactly what came after last_seq",
  );
  r.cut();
  const bad = await SseReader.open(`${base}/sse?resume=not-a-token`);
  const [hello] = await bad.waitFor(1);
  t.match(JSON.parse(hello!.data), { type: "session", resumed: false, reason: /resume token invalid/ });
  bad.cut();
});

t.test("a reader that stops reading: writes pause at the bound, every message arrives once after it reads again", async (t) => {
  const { url, token } = await newSession();
  const s = await SseReader.open(url);
  await s.waitFor(1);
  s.pause();
  const n = 4000;
  await post(token, rpc("big", "radiant.test/stream", { count: n, pad: 2048 }));
  await eventually(
    "live delivery paused at the bound",
    async () => /radiant_slow_consumer_pauses_total [1-9]/.test(await (await fetch(`${stack.healthUrl}/metrics`)).text()),
    30_000,
  );
  s.resume();
  const all = await s.waitFor(n + 2, 90_000);
  const replies = all.slice(1).map((e) => JSON.parse(e.data) as Record<string, unknown>);
  t.same(
    replies.slice(0, n).map(chunkNo),
    Array.from({ length: n }, (_, i) => i),
    "every chunk once, in order",
  );
  t.same(replies[n]!.result, { count: n });
  s.cut();
});

t.test("POST /sse/messages: each bad input gets a clear 4xx", async (t) => {
  const { token } = await newSession();
  const noToken = await request(`${base}/sse/messages`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  t.equal(noToken.status, 401);
  t.match(noToken.headers["www-authenticate"], /Bearer/);
  t.match(JSON.parse(noToken.body), { error: { message: /Radiant-Resume-Token/ } });
  const badToken = await post("abc.def.ghi", rpc(1, "ping"));
  t.equal(badToken.status, 401);
  t.match(JSON.parse(badToken.body), { error: { message: /resume token invalid/ } });
  const viaQuery = await request(`${base}/sse/messages?token=${encodeURIComponent(token)}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(rpc(1, "ping")),
  });
  t.equal(viaQuery.status, 202, "the token may come as ?token=");
  const wrongType = await post(token, rpc(1, "ping"), { "content-type": "text/plain" });
  t.equal(wrongType.status, 415);
  const notJson = await post(token, "{nope");
  t.equal(notJson.status, 400);
  t.match(JSON.parse(notJson.body), { jsonrpc: "2.0", id: null, error: { code: -32700 } });
  const noProtocol = await post(token, { hello: "world", id: 7 });
  t.equal(noProtocol.status, 400);
  t.match(JSON.parse(noProtocol.body), { error: { code: -32600 } });
  const tooBig = await post(token, rpc(1, "radiant.test/echo", { pad: "x".repeat(5000) }));
  t.equal(tooBig.status, 413);
  const wrongMethod = await request(`${base}/sse/messages`, { method: "PUT" });
  t.equal(wrongMethod.status, 405);
  t.equal(wrongMethod.headers.allow, "POST");
  const wrongAccept = await request(`${base}/sse`, { headers: { accept: "application/json" } });
  t.equal(wrongAccept.status, 406);
});

t.test("Origin: listed origins get CORS headers and preflights, others 403", async (t) => {
  const ok = await request(`${base}/sse`, { headers: { accept: "text/event-stream", origin: PAGE_ORIGIN } });
  t.equal(ok.status, 307);
  t.equal(ok.headers["access-control-allow-origin"], PAGE_ORIGIN);
  t.match(ok.headers["access-control-expose-headers"], /Location/);
  const pre = await request(`${base}/sse/messages`, { method: "OPTIONS", headers: { origin: PAGE_ORIGIN, "access-control-request-method": "POST" } });
  t.equal(pre.status, 204);
  t.match(pre.headers["access-control-allow-methods"], /POST/);
  t.match(pre.headers["access-control-allow-headers"], /Authorization/);
  const evil = await request(`${base}/sse`, { headers: { accept: "text/event-stream", origin: "http://evil.example" } });
  t.equal(evil.status, 403);
  t.match(evil.body, /not allowed/);
});

t.test("2,000 streams opened and dropped: their routes go at once", async (t) => {
  const baseline = await subs();
  const routed = await routes();
  const n = 2000;
  const { url } = await newSession();
  const readers: SseReader[] = [];
  for (let i = 0; i < n; i += 200) {
    // distinct sessions: a bad token gives each its own fresh one, no redirect round trip
    const batch = await Promise.all(Array.from({ length: 200 }, (_, j) => SseReader.open(j === 0 && i === 0 ? url : `${base}/sse?resume=x${i + j}`)));
    await Promise.all(batch.map((r) => r.waitFor(1)));
    readers.push(...batch);
  }
  await eventually("one route per stream", async () => (await routes()) === routed + n);
  t.equal(await subs(), baseline, "and no NATS subscription each");
  t.equal((await stack.health()).body.active_connections, n);
  for (const r of readers) r.cut();
  await eventually("routes back to baseline", async () => (await routes()) === routed);
  await eventually("no active connections", async () => (await stack.health()).body.active_connections === 0);
});

t.test("JetStream down: POST answers 503 in the frame's protocol, and works again after", async (t) => {
  const { url, token } = await newSession();
  const s = await SseReader.open(url);
  await s.waitFor(1);
  await stack.nats.stop();
  const down = await post(token, rpc(9, "ping"));
  t.equal(down.status, 503);
  t.equal(down.headers["retry-after"], "1");
  t.match(JSON.parse(down.body), { jsonrpc: "2.0", id: 9, error: { code: -32000, message: /unavailable/i } });
  await stack.nats.start();
  await eventually("accepted again", async () => (await post(token, rpc(10, "ping"))).status === 202, 30_000);
  s.cut();
});

t.test("without GATEWAY_ADMIN_TOKEN there is no admin API", async (t) => {
  const r = await request(`${stack.healthUrl}/admin/keys`, { headers: { authorization: "Bearer anything-at-all" } });
  t.equal(r.status, 404);
  t.notMatch(r.body, /admin/i, "not even a hint of one");
});
