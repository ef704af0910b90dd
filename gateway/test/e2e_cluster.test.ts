// RADIANT on a 3-node NATS cluster (streams and KV buckets R3), its faults
// under traffic from many sessions, every message counted (traffic.ts): the
// node leading INBOX and HISTORY killed -9 while sessions drop and resume; two
// of three nodes lost (no quorum) and brought back; the node a gateway is
// connected to killed. Nothing the gateway accepted is lost or delivered
// twice; what it could not accept is refused with an error that says retry.
import t from "tap";
import { A2A_TASKS_BUCKET, API_KEYS_BUCKET, HISTORY_STREAM, INBOX_STREAM, MCP_SESSIONS_BUCKET } from "@radiant/wire";
import { ClusterProbe } from "./cluster.js";
import { Client, eventually, startStack } from "./harness.js";
import { Traffic } from "./traffic.js";

const stack = await startStack(t, { natsCluster: 3, workers: 2, gatewayProcesses: 2 });
const cluster = stack.cluster!;
const probe = await ClusterProbe.open(cluster, t.teardown);
const SESSIONS = 24;
// a third of the sessions make quick requests only: some are always on their way when a node goes
const traffic = new Traffic({ url: stack.wsUrl, sessions: SESSIONS, echoSessions: SESSIONS / 3, echoPauseMs: 200, chunks: 40, chunkDelayMs: 50 });
await traffic.start();
t.teardown(() => traffic.stop());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test("the streams and the KV buckets are replicated on all three nodes", async (t) => {
  for (const s of [INBOX_STREAM, HISTORY_STREAM, `KV_${API_KEYS_BUCKET}`, `KV_${A2A_TASKS_BUCKET}`, `KV_${MCP_SESSIONS_BUCKET}`]) {
    const info = await probe.jsm.streams.info(s);
    t.equal(info.config.num_replicas, 3, `${s}: R3`);
    t.equal((info.cluster?.replicas ?? []).length, 2, `${s}: a leader and two replicas`);
  }
});

t.test("the node leading INBOX and HISTORY killed -9 under traffic, a third of the sessions dropping meanwhile: 0 lost, 0 twice", async (t) => {
  const victimName = await probe.oneLeaderForBoth();
  await traffic.answeredMore(SESSIONS);
  const resumesBefore = traffic.resumes;
  const victim = cluster.node(victimName);
  await victim.kill();
  // resumes during the failover: their replays read a HISTORY that is electing a leader
  traffic.drop(traffic.sessions.slice(0, SESSIONS / 3));
  t.not(await probe.leaderOf(HISTORY_STREAM), victimName, "another node leads HISTORY");
  t.not(await probe.leaderOf(INBOX_STREAM), victimName, "another node leads INBOX");
  await traffic.answeredMore(2 * SESSIONS);
  // each resumes once HISTORY has a leader again (refused 1013 until then)
  await eventually("the dropped sessions to resume", () => traffic.resumes - resumesBefore >= SESSIONS / 3, 60_000);

  await victim.start();
  await cluster.ready();
  t.ok(await probe.caughtUp(HISTORY_STREAM, 2), "the returned node's HISTORY is current again");
  t.ok(await probe.caughtUp(INBOX_STREAM, 2), "and its INBOX");
  await traffic.answeredMore(SESSIONS);
  t.same(traffic.anomalies, [], traffic.summary());
  // the publish timeout outlasts an election: frames are sent again meanwhile
  t.same([...traffic.refusals], [], "no request refused: a lost leader costs delay, not errors");
});

t.test("two of three nodes lost: requests refused with a clear retry, nothing lost; service back with quorum", async (t) => {
  const refusedBefore = traffic.refusedCount;
  const lost = cluster.nodes.slice(1);
  await Promise.all(lost.map((n) => n.kill()));
  // while there is no quorum: sessions that drop try to resume (refused 1013 until HISTORY answers)
  await sleep(3000);
  traffic.drop(traffic.sessions.slice(0, SESSIONS / 3));
  // past the gateway's publish timeout (15 s): requests made meanwhile are refused
  await sleep(13_500);
  const refusedDuring = traffic.refusedCount - refusedBefore;
  t.ok(refusedDuring > 0, `requests made without a quorum were refused with a retry (${refusedDuring}: ${[...traffic.refusals.keys()].join(" | ")})`);
  for (const n of lost) await n.start();
  await cluster.ready();
  // every session answered again: the ones that were mid-stream finish it, the dropped ones resume
  const answered = traffic.sessions.map((s) => s.answered);
  await traffic.answeredMore(2 * SESSIONS);
  const deadline = Date.now() + 120_000;
  while (traffic.sessions.some((s, i) => s.answered <= answered[i]!) && Date.now() < deadline) await sleep(100);
  t.same(
    traffic.sessions.filter((s, i) => s.answered <= answered[i]!).map((s) => traffic.sessions.indexOf(s)),
    [],
    "every session is answered again once the quorum is back",
  );
  await traffic.stop();
  t.same(traffic.anomalies, [], traffic.summary());
  t.comment(traffic.summary());
});

t.test("the node a gateway process is connected to killed -9: requests sent at that moment are answered, no error; it reconnects to another", async (t) => {
  // sessions on both gateway processes (the kernel spreads them), one of which loses its NATS node
  const clients = await Promise.all(Array.from({ length: 8 }, () => Client.connect(stack.wsUrl)));
  t.teardown(() => {
    for (const c of clients) c.ws.terminate();
  });
  for (const c of clients) await c.next();
  // the gateway processes' connections on each node (their NATS names say what they are)
  const held = async (n: (typeof cluster.nodes)[number]) => {
    if (!n.running) return 0;
    const z = (await (await fetch(`${n.monitorUrl}/connz?limit=1000`)).json()) as { connections?: { name?: string }[] };
    return (z.connections ?? []).filter((x) => x.name?.startsWith("radiant-gateway-")).length;
  };
  const counts = await Promise.all(cluster.nodes.map(held));
  t.equal(
    counts.reduce((a, b) => a + b, 0),
    2,
    "two gateway processes, one connection each",
  );
  const victim = cluster.nodes[counts.findIndex((n) => n > 0)]!;
  await victim.kill();
  // sent at once: each waits for its process's connection to another node and for INBOX's leader
  const answers = await Promise.all(clients.map((c, i) => c.call({ jsonrpc: "2.0", id: `moved-${i}`, method: "radiant.test/echo", params: { i } }, 60_000)));
  t.same(
    answers.filter((a, i) => (a.result as { i?: number } | undefined)?.i !== i),
    [],
    "every one answered, no error",
  );
  const others = async () => (await Promise.all(cluster.nodes.filter((n) => n !== victim).map(held))).reduce((a, b) => a + b, 0);
  await eventually("both gateway processes connected to the other nodes", async () => (await others()) === 2, 30_000);
  await victim.start();
  await cluster.ready();
});
