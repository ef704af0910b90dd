// A gateway fleet on one machine: three gateway hosts (a supervisor and its
// processes each, on 127.0.0.2, .3 and .4) behind a TCP balancer, sharing NATS
// and the workers, as a deploy runs them. A rolling restart — each host in
// turn sent SIGTERM (its sessions closed 1012: reconnect and resume), then
// started again — moves every session to another host under traffic, every
// message counted (traffic.ts); a takeover and a DELETE work across hosts.
import t from "tap";
import { Balancer } from "@radiant/infra/balancer";
import type { GatewayHost } from "@radiant/infra/stack";
import { Client, eventually, rpc, startStack } from "./harness.js";
import { request } from "./sse_client.js";
import { Traffic } from "./traffic.js";

const ADDRESSES = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];
const stack = await startStack(t, { noGateway: true, workers: 2, gatewayProcesses: 1 });
const hosts: GatewayHost[] = [];
for (const a of ADDRESSES) hosts.push(await stack.startGatewayHost(a));
const balancer = await new Balancer(hosts.map((h) => ({ host: h.host, port: h.port }))).start();
t.teardown(() => balancer.stop());
const wsUrl = `ws://${balancer.url}/ws`;
const wsOf = (h: GatewayHost) => `ws://${h.host}:${h.port}/ws`;
const httpOf = (h: GatewayHost) => `http://${h.host}:${h.port}`;
const connections = async (h: GatewayHost) =>
  ((await (await fetch(`http://${h.host}:${h.healthPort}/health`)).json()) as { active_connections: number }).active_connections;

t.test("a rolling restart under traffic: every session moves host, 0 lost, 0 twice", async (t) => {
  const SESSIONS = 24;
  const traffic = new Traffic({ url: wsUrl, sessions: SESSIONS, echoSessions: SESSIONS / 3, echoPauseMs: 200, chunks: 40, chunkDelayMs: 50 });
  await traffic.start();
  t.teardown(() => traffic.stop());
  const spread = await Promise.all(hosts.map(connections));
  t.ok(
    spread.every((n) => n > 0),
    `the balancer spread the sessions over the hosts (${spread.join(", ")})`,
  );
  await traffic.answeredMore(SESSIONS);
  for (let i = 0; i < hosts.length; i++) {
    const old = hosts[i]!;
    const held = await connections(old);
    await stack.stopGatewayHost(old);
    t.equal(old.proc.child.exitCode, 0, `${old.host} drained and exited 0 (it held ${held} sessions)`);
    // its sessions resume on the other hosts while it is down
    await traffic.answeredMore(SESSIONS);
    const again = await stack.startGatewayHost(old.host);
    hosts[i] = again;
    balancer.backends[i] = { host: again.host, port: again.port };
  }
  await traffic.answeredMore(SESSIONS);
  await traffic.stop();
  t.same(traffic.anomalies, [], traffic.summary());
  t.same(traffic.sessions.filter((s) => !s.closeCodes.includes(1012)).length, 0, "every session was told 1012 at least once (each host was restarted)");
  t.equal(traffic.resumes, traffic.closes.get(1012) ?? 0, "each 1012 was followed by a resume");
  t.comment(traffic.summary());
});

t.test("takeover across hosts: a resume on another host closes the older socket 4001", async (t) => {
  const a = await Client.connect(wsOf(hosts[0]!));
  const session = await a.next();
  t.same((await a.call(rpc(1, "radiant.test/echo", { n: 1 }))).result, { n: 1 });
  const b = await Client.connect(`${wsOf(hosts[1]!)}?resume=${encodeURIComponent(session.resume_token!)}&last_seq=0`);
  t.match(await b.next(), { type: "session", sid: session.sid, resumed: true });
  t.match(await b.next(), { id: 1, result: { n: 1 } }, "the replay, on the new host");
  const closed = await a.closed;
  t.equal(closed.code, 4001, "the older socket, on the first host, is taken over");
  t.same((await b.call(rpc(2, "radiant.test/echo", { n: 2 }))).result, { n: 2 }, "the new host serves it live");
  b.ws.close();
});

t.test("DELETE across hosts: an MCP session made on one host, ended on another, is gone on all three", async (t) => {
  const BOTH = "application/json, text/event-stream";
  const init = await request(`${httpOf(hosts[0]!)}/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(rpc(0, "initialize", { protocolVersion: "2025-03-26", capabilities: {}, clientInfo: { name: "fleet", version: "1" } })),
  });
  t.equal(init.status, 200);
  const sid = init.headers["mcp-session-id"] as string;
  // a stream of the session open on the third host
  const ac = new AbortController();
  const get = fetch(`${httpOf(hosts[2]!)}/mcp`, { headers: { accept: "text/event-stream", "mcp-session-id": sid }, signal: ac.signal });
  const stream = await get;
  t.equal(stream.status, 200, "its GET stream, on a third host");
  const ended = (async () => {
    const reader = stream.body!.getReader();
    for (;;) if ((await reader.read()).done) return true;
  })();
  const del = await request(`${httpOf(hosts[1]!)}/mcp`, { method: "DELETE", headers: { "mcp-session-id": sid } });
  t.equal(del.status, 200, "DELETE on the second host");
  t.ok(await ended, "the stream on the third host ends");
  for (const h of hosts) {
    const after = await request(`${httpOf(h)}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: BOTH, "mcp-session-id": sid },
      body: JSON.stringify(rpc(1, "ping")),
    });
    t.equal(after.status, 404, `${h.host}: the session is gone`);
  }
  ac.abort();
});

t.test("the balancer skips a host that is down", async (t) => {
  await stack.stopGatewayHost(hosts[0]!);
  const clients = await Promise.all(Array.from({ length: 6 }, () => Client.connect(wsUrl)));
  for (const c of clients) t.match(await c.next(), { type: "session" });
  await eventually("the sessions on the hosts that are up", async () => (await connections(hosts[1]!)) + (await connections(hosts[2]!)) >= 6);
  for (const c of clients) c.ws.close();
  hosts[0] = await stack.startGatewayHost(ADDRESSES[0]!);
  balancer.backends[0] = { host: hosts[0].host, port: hosts[0].port };
});
