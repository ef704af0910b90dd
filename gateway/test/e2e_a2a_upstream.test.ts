// A2A agents behind RADIANT (RADIANT_A2A_CONFIG): real agents made with
// @a2a-js/sdk's server — one speaking v1.0, one v0.3 — driven through the
// gateway by @a2a-js/sdk's client in both versions, translated both ways.
// Cards rewritten to the gateway's URLs; send, stream (every event once, in
// order), get, cancel reaching the agent; tasks kept by RADIANT; an agent that
// is down is a clear error.
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { type AgentCard, CancelTaskRequest, GetTaskRequest, SendMessageRequest, SubscribeToTaskRequest, TaskState, type Task } from "@a2a-js/sdk";
import { ClientFactory, type Client as A2aClient } from "@a2a-js/sdk/client";
import { freePort } from "@radiant/infra/proc";
import { startStack } from "./harness.js";
import { label, legacyClientFactory, startSdkAgent } from "./a2a_agents.js";

const v1 = await startSdkAgent(t, { version: "1.0", name: "upstream v1" });
const v03 = await startSdkAgent(t, { version: "0.3", name: "upstream v03" });
const config = join(mkdtempSync(join(tmpdir(), "radiant-a2a-")), "a2a.json");
writeFileSync(
  config,
  JSON.stringify({ agents: { modern: { url: v1.baseUrl }, legacy: { url: v03.cardUrl }, gone: { url: `http://127.0.0.1:${await freePort()}/` } } }),
);
const stack = await startStack(t, { env: { RADIANT_A2A_CONFIG: config } });
const base = stack.wsUrl.replace(/^ws/, "http").replace(/\/ws$/, "");

let n = 0;
const send = (text: string) => SendMessageRequest.fromJSON({ message: { messageId: `u-${++n}`, role: "ROLE_USER", parts: [{ text }] } });
const textOf = (task: Task): string =>
  (task.artifacts[0]?.parts ?? [])
    .map((p) => (p.content?.$case === "text" ? p.content.value : ""))
    .filter((x) => x !== "")
    .join(" ");
const legacyClient = (agent: string) => legacyClientFactory().createFromUrl(`${base}/a2a/${agent}/`, ".well-known/agent.json");

t.test("cards: the agent's own, every URL the gateway's", async (t) => {
  await t.resolves(async () => {
    for (let i = 0; i < 100; i++) {
      const r = await fetch(`${base}/a2a/modern/.well-known/agent-card.json`, { headers: { "A2A-Version": "1.0" } });
      if (r.ok) return;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error("the card was never fetched");
  });
  const card = (await (await fetch(`${base}/a2a/modern/.well-known/agent-card.json`, { headers: { "A2A-Version": "1.0" } })).json()) as Record<string, unknown>;
  t.match(card, { name: "upstream v1", supportedInterfaces: [{ url: `${base}/a2a/modern`, protocolBinding: "JSONRPC", protocolVersion: "1.0" }] });
  t.notOk(JSON.stringify(card).includes(new URL(v1.baseUrl).host), "nothing of the agent's own address");
  const old = (await (await fetch(`${base}/a2a/legacy/.well-known/agent.json`)).json()) as Record<string, unknown>;
  t.match(old, { name: "upstream v03", url: `${base}/a2a/legacy`, protocolVersion: "0.3.0" });
});

const pairs: [string, string, () => Promise<A2aClient>, { received: { method: string; version: string }[]; cancels: number }][] = [
  ["a v1.0 client to the v1.0 agent", "modern", () => new ClientFactory().createFromUrl(`${base}/a2a/modern/`), v1],
  ["a v0.3 client to the v1.0 agent", "modern", () => legacyClient("modern"), v1],
  ["a v1.0 client to the v0.3 agent", "legacy", () => new ClientFactory().createFromUrl(`${base}/a2a/legacy/`), v03],
  ["a v0.3 client to the v0.3 agent", "legacy", () => legacyClient("legacy"), v03],
];

for (const [what, _agent, make, upstream] of pairs) {
  t.test(what, async (t) => {
    const client = await make();
    const before = upstream.received.length;
    const r = (await client.sendMessage(send("hello from afar"))) as Task;
    t.equal(r.status?.state, TaskState.TASK_STATE_COMPLETED, "send: completed");
    t.equal(textOf(r), "hello from afar", "the agent's artifact, word by word");
    const expectVersion = upstream === v1 ? "1.0" : "0.3";
    t.ok(
      upstream.received.slice(before).every((x) => x.version === expectVersion),
      `the agent was spoken to in its own version (${expectVersion})`,
    );
    t.equal((await client.getTask(GetTaskRequest.fromJSON({ id: r.id }))).status?.state, TaskState.TASK_STATE_COMPLETED, "get: from RADIANT's store");

    const seen: string[] = [];
    for await (const ev of client.sendMessageStream(send("one two"))) seen.push(label(ev));
    t.same(
      seen,
      [
        `task:${TaskState.TASK_STATE_SUBMITTED}`,
        `status:${TaskState.TASK_STATE_WORKING}`,
        "artifact:one",
        "artifact:two",
        `status:${TaskState.TASK_STATE_COMPLETED}`,
      ],
      "stream: every event once, in order",
    );

    // cancel reaches the agent; the stream and the task end canceled
    const cancels = upstream.cancels;
    let id = "";
    const states: string[] = [];
    let working: () => void = () => {};
    const isWorking = new Promise<void>((res) => (working = res));
    const stream = (async () => {
      for await (const ev of client.sendMessageStream(send("please wait"))) {
        if (ev.payload?.$case === "task") id = ev.payload.value.id;
        states.push(label(ev));
        if (ev.payload?.$case === "statusUpdate" && ev.payload.value.status?.state === TaskState.TASK_STATE_WORKING) working();
      }
    })();
    await isWorking;
    const canceled = await client.cancelTask(CancelTaskRequest.fromJSON({ id }));
    t.equal(canceled.status?.state, TaskState.TASK_STATE_CANCELED);
    await stream;
    t.equal(states.at(-1), `status:${TaskState.TASK_STATE_CANCELED}`, "the stream ends canceled");
    t.equal(upstream.cancels, cancels + 1, "the agent was asked once");
    const replay: string[] = [];
    for await (const ev of client.resubscribeTask(SubscribeToTaskRequest.fromJSON({ id }))) replay.push(label(ev));
    t.same(replay, states, "resubscribe: the same story, from RADIANT");
  });
}

t.test("an agent that is down: a clear error naming it, nothing made", async (t) => {
  // its card cannot be fetched: the client is made from the card of another, pointed at this one
  const card = (await (await fetch(`${base}/a2a/modern/.well-known/agent-card.json`, { headers: { "A2A-Version": "1.0" } })).json()) as AgentCard;
  const client = await new ClientFactory().createFromAgentCard({
    ...card,
    supportedInterfaces: [{ url: `${base}/a2a/gone`, protocolBinding: "JSONRPC", protocolVersion: "1.0", tenant: "" }],
  });
  await t.rejects(client.sendMessage(send("anyone?")), /Agent 'gone' is unavailable/);
  t.equal((await fetch(`${base}/a2a/gone/.well-known/agent-card.json`)).status, 503, "its card: not fetched, retry");
});
