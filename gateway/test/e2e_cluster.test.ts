// RADIANT on a 3-node NATS cluster (the streams R3): the node that leads
// HISTORY and INBOX is killed -9 while a session streams — every chunk still
// reaches the client once and in order; the node comes back and catches up;
// requests after it are answered.
import t from "tap";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { HISTORY_STREAM, INBOX_STREAM } from "@radiant/wire";
import { Client, startStack } from "./harness.js";

const stack = await startStack(t, { natsCluster: 3 });
const cluster = stack.cluster!;
const nc = await connect({ servers: cluster.url.split(","), noAsyncTraces: true });
t.teardown(() => nc.close());
const jsm = await jetstreamManager(nc);

async function leaderOf(stream: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const leader = (await jsm.streams.info(stream).catch(() => undefined))?.cluster?.leader;
    if (leader) return leader;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${stream} has no leader`);
}

t.test("the streams are replicated on all three nodes", async (t) => {
  for (const s of [INBOX_STREAM, HISTORY_STREAM]) {
    const info = await jsm.streams.info(s);
    t.equal(info.config.num_replicas, 3, `${s}: R3`);
    t.equal((info.cluster?.replicas ?? []).length, 2, `${s}: a leader and two replicas`);
  }
});

t.test("the node leading HISTORY killed -9 mid-stream: every chunk once, in order; it comes back and catches up", async (t) => {
  const c = await Client.connect(stack.wsUrl);
  t.teardown(() => c.ws.terminate());
  await c.next(); // the session frame
  const N = 400;
  // one node leading both streams (a leader steps down until it is so): the kill takes both leaders
  for (let i = 0; i < 30 && (await leaderOf(INBOX_STREAM)) !== (await leaderOf(HISTORY_STREAM)); i++) {
    await nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${INBOX_STREAM}`, undefined, { timeout: 10_000 }).catch(() => {});
    await new Promise((r) => setTimeout(r, 300));
  }
  c.send({ jsonrpc: "2.0", id: "s", method: "radiant.test/stream", params: { count: N, delayMs: 10 } });
  await c.take(50, 60_000);
  const victimName = await leaderOf(HISTORY_STREAM);
  const victim = cluster.node(victimName);
  const inboxLeader = await leaderOf(INBOX_STREAM);
  await victim.kill();
  t.comment(`killed ${victimName}: HISTORY's leader, and INBOX's (${inboxLeader})`);
  // the rest of the stream, and its result
  const rest = await c.take(N + 1 - 50, 120_000);
  const all = c.frames.slice(1, N + 2);
  const chunks = all.filter((f) => f.method === "notifications/radiant.test/chunk").map((f) => (f.params as { i: number }).i);
  t.same(
    chunks,
    Array.from({ length: N }, (_, i) => i),
    "every chunk once, in order",
  );
  t.match(rest.at(-1), { id: "s", result: { count: N } });
  const seqs = all.map((f) => f.seq_num as number);
  t.ok(
    seqs.every((s, i) => i === 0 || s > seqs[i - 1]!),
    "positions only grow",
  );
  t.not(await leaderOf(HISTORY_STREAM), victimName, "another node leads HISTORY");

  await victim.start();
  await cluster.ready();
  // back in the cluster, it catches up: its replica of HISTORY reaches the leader's last sequence
  const last = (await jsm.streams.info(HISTORY_STREAM)).state.last_seq;
  let caughtUp = false;
  for (let i = 0; i < 300 && !caughtUp; i++) {
    const replicas = (await jsm.streams.info(HISTORY_STREAM)).cluster?.replicas ?? [];
    caughtUp = replicas.length === 2 && replicas.every((r) => r.current && (r.lag ?? 0) === 0);
    if (!caughtUp) await new Promise((r) => setTimeout(r, 200));
  }
  t.ok(caughtUp, `the returned node is current again (HISTORY at ${last})`);
  const answer = await c.call({ jsonrpc: "2.0", id: "after", method: "radiant.test/echo", params: { x: 1 } }, 60_000);
  t.match(answer, { id: "after", result: { x: 1 } }, "answered after the node came back");
});

t.test("the node a gateway is connected to killed -9: the gateway reconnects to another; its open sessions are answered", async (t) => {
  const c = await Client.connect(stack.wsUrl);
  t.teardown(() => c.ws.terminate());
  await c.next();
  // which running node holds the gateway process's connection (its NATS name says what it is)
  const holds = async (n: (typeof cluster.nodes)[number]) => {
    if (!n.running) return false;
    const z = (await (await fetch(`${n.monitorUrl}/connz?limit=1000`)).json()) as { connections?: { name?: string }[] };
    return (z.connections ?? []).some((x) => x.name?.startsWith("radiant-gateway-"));
  };
  const before = [];
  for (const n of cluster.nodes) if (await holds(n)) before.push(n);
  t.equal(before.length, 1, "one node holds the gateway's connection");
  const victim = before[0]!;
  await victim.kill();
  let moved = false;
  for (let i = 0; i < 200 && !moved; i++) {
    for (const n of cluster.nodes) if (n !== victim && (await holds(n))) moved = true;
    if (!moved) await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(moved, "the gateway connected to another node");
  let answer = await c.call({ jsonrpc: "2.0", id: "moved", method: "radiant.test/echo", params: { y: 2 } }, 60_000);
  if ("error" in answer) {
    // what a client may see while the streams the node led elect new leaders: a clear "retry", never silence
    t.match(answer, { error: { code: -32000, message: /retry/ } }, `a passing error says so: ${JSON.stringify(answer.error)}`);
    answer = await c.call({ jsonrpc: "2.0", id: "moved-again", method: "radiant.test/echo", params: { y: 2 } }, 60_000);
  }
  t.match(answer, { result: { y: 2 } }, "the open session is answered");
  await victim.start();
  await cluster.ready();
});
