// Live delivery is exactly once and in order even when the live path is not:
// several workers publishing at once (RePublish can reorder), and a message
// that never reached the live subject at all (read back from HISTORY).
import t from "tap";
import type { SessionId } from "@radiant/wire";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { headers, position, subjects } from "@radiant/wire";
import { eventually, openSession, rpc, startStack, TcpProxy } from "./harness.js";
import { request } from "./sse_client.js";

const stack = await startStack(t, { workers: 3, noGateway: true });
// the gateway reaches NATS through a proxy the test can cut
const proxy = await new TcpProxy({ host: stack.host, port: stack.nats.port }).start();
t.teardown(() => proxy.close());
await stack.startGateway({ NATS_URL: `nats://127.0.0.1:${proxy.port}` });

t.test("3 workers, 5 sessions × 300 requests at once: each reply once, seq strictly increasing", async (t) => {
  const sessions = await Promise.all(Array.from({ length: 5 }, () => openSession(stack.wsUrl)));
  for (const { c } of sessions) for (let i = 0; i < 300; i++) c.send(rpc(i, "radiant.test/echo", { i }));
  for (const { c } of sessions) {
    const got = await c.take(300, 60_000);
    const seqs = got.map((f) => f.seq_num!);
    t.ok(
      seqs.every((s, i) => i === 0 || s > seqs[i - 1]!),
      "in order",
    );
    t.same(new Set(got.map((f) => f.id)).size, 300, "each once");
    await c.close();
  }
});

t.test("a message the live path lost (gateway off NATS a moment) is read back from HISTORY, in its place", async (t) => {
  const { c, session } = await openSession(stack.wsUrl);
  const sid = session.sid as SessionId;
  const nc = await connect({ servers: stack.nats.url });
  t.teardown(() => nc.close());
  const js = jetstream(nc);
  const publish = (n: number) => {
    const h = natsHeaders();
    h.set(headers.ingressTs, String(Date.now()));
    return js.publish(subjects.history(sid), JSON.stringify({ jsonrpc: "2.0", method: "notifications/test", params: { n } }), { headers: h });
  };
  // published from outside the gateway: wait until its subscription has reached the server
  await eventually("the live subscription", async () => (await stack.nats.interestIn(subjects.live(sid))) === 1);
  await publish(1);
  t.equal(((await c.next()).params as { n: number }).n, 1);
  proxy.cut();
  await eventually("the gateway to notice", async () => (await stack.health()).code === 503);
  const lost = await publish(2); // stored and republished while nobody listens
  proxy.allow();
  await eventually("the gateway to reconnect", async () => (await stack.health()).code === 200, 30_000);
  await publish(3);
  const got = await c.take(2);
  t.same(
    got.map((f) => (f.params as { n: number }).n),
    [2, 3],
    "the lost 2 from HISTORY, then 3",
  );
  t.equal(got[0]!.seq_num, position(lost.seq, 0), "in its place: the position of the message HISTORY stored");
  t.match(await (await fetch(`${stack.healthUrl}/metrics`)).text(), /radiant_history_reads_total [1-9]/);
  await c.close();
});

t.test("a reply stored while the gateway's NATS link is cut reaches its POST once the link is back: once, long before the response timeout", async (t) => {
  const base = stack.wsUrl.replace(/^ws/, "http").replace(/\/ws$/, "");
  const post = (body: unknown, h: Record<string, string>) =>
    request(`${base}/mcp`, { method: "POST", headers: { "content-type": "application/json", ...h }, body: JSON.stringify(body) });
  const init = await post(rpc(0, "initialize", { protocolVersion: "2025-03-26", capabilities: {}, clientInfo: { name: "t", version: "1" } }), {
    accept: "application/json",
  });
  const sessionId = init.headers["mcp-session-id"] as string;
  const nc = await connect({ servers: stack.nats.url });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  const metric = async (name: string) => Number(new RegExp(`^${name} (\\d+)`, "m").exec(await (await fetch(`${stack.healthUrl}/metrics`)).text())?.[1] ?? 0);
  const inBefore = await metric("radiant_messages_in_total");
  const started = Date.now();
  const answer = post(rpc("slow", "radiant.test/sleep", { ms: 1500 }), { accept: "application/json", "mcp-session-id": sessionId });
  await eventually("the request in INBOX", async () => (await metric("radiant_messages_in_total")) > inBefore);
  proxy.cut();
  // the reply is stored — and republished into the void — while the gateway is off NATS
  // the Mcp-Session-Id is the resume token: its session id is in its claims
  const sid = (JSON.parse(Buffer.from(sessionId.split(".")[1]!, "base64url").toString()) as { sid: SessionId }).sid;
  await eventually(
    "the reply stored",
    async () => new TextDecoder().decode((await jsm.direct.getMessage("HISTORY", { last_by_subj: subjects.history(sid) }))?.data).includes('"slept":true'),
    30_000,
  );
  proxy.allow();
  const r = await answer;
  t.equal(r.status, 200);
  t.same(JSON.parse(r.body), { jsonrpc: "2.0", id: "slow", result: { slept: true } }, "the reply, once");
  t.ok(Date.now() - started < 60_000, "long before the response timeout (300 s)");
});
