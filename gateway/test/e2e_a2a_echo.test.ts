// The built-in `echo` agent through RADIANT, driven by @a2a-js/sdk's client
// unmodified: A2A v1.0 (the default) and v0.3 (`legacyCompat`, from the v0.3
// card at `agent.json`). Card discovery, send, stream (every event once, in
// order), get, list, cancel (a working task ends `canceled`; a finished one
// cannot be), push notifications counted at a local webhook, errors in the
// protocol's own codes; and v1.0 methods over /ws.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import t from "tap";
import {
  CancelTaskRequest,
  DeleteTaskPushNotificationConfigRequest,
  GetTaskPushNotificationConfigRequest,
  GetTaskRequest,
  ListTaskPushNotificationConfigsRequest,
  ListTasksRequest,
  SendMessageRequest,
  SubscribeToTaskRequest,
  TaskPushNotificationConfig,
  TaskState,
  type StreamResponse,
  type Task,
} from "@a2a-js/sdk";
import { ClientFactory, ClientFactoryOptions, type Client as A2aClient } from "@a2a-js/sdk/client";
import { label, legacyClientFactory } from "./a2a_agents.js";
import { freePort } from "@radiant/infra/proc";
import { eventually, openSession, rpc, startStack } from "./harness.js";

// webhooks of the tests are on 127.0.0.1: the egress proxy calls private addresses only when told so
const stack = await startStack(t, { env: { EGRESS_WEBHOOK_PRIVATE: "true" } });

/** A webhook receiver that keeps what it gets. */
const pushes: { headers: Record<string, string | string[] | undefined>; body: Record<string, unknown> }[] = [];
const receiver = createServer((req, res) => {
  let body = "";
  req.on("data", (c: Buffer) => (body += c.toString()));
  req.on("end", () => {
    pushes.push({ headers: req.headers, body: JSON.parse(body) as Record<string, unknown> });
    res.writeHead(200).end();
  });
});
await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
t.teardown(() => new Promise<void>((r) => receiver.close(() => r())));
const webhook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
const base = stack.wsUrl.replace(/^ws/, "http").replace(/\/ws$/, "");

let n = 0;
const send = (text: string) =>
  SendMessageRequest.fromJSON({ message: { messageId: `m-${++n}`, role: "ROLE_USER", parts: [{ text, mediaType: "text/plain" }] } });
const get = (id: string, historyLength?: number) => GetTaskRequest.fromJSON({ id, ...(historyLength !== undefined ? { historyLength } : {}) });
const cancel = (id: string) => CancelTaskRequest.fromJSON({ id });
/** the label, and for an artifact update whether it appends */
const labelAppend = (ev: StreamResponse): string => (ev.payload?.$case === "artifactUpdate" ? `${label(ev)}:${ev.payload.value.append}` : label(ev));
const textOf = (task: Task): string => (task.artifacts[0]?.parts ?? []).map((p) => (p.content?.$case === "text" ? p.content.value : "")).join("");

const clients: [string, () => Promise<A2aClient>, string][] = [
  ["v1.0 (the SDK's default)", () => new ClientFactory().createFromUrl(`${base}/a2a/echo/`), "1.0"],
  [
    "v1.0 over its HTTP+JSON binding",
    () =>
      new ClientFactory(ClientFactoryOptions.createFrom(ClientFactoryOptions.default, { preferredTransports: ["HTTP+JSON"] })).createFromUrl(
        `${base}/a2a/echo/`,
      ),
    "1.0",
  ],
  ["v0.3 (legacyCompat, the v0.3 card)", () => legacyClientFactory().createFromUrl(`${base}/a2a/echo/`, ".well-known/agent.json"), "0.3"],
];

for (const [what, make, version] of clients) {
  t.test(what, async (t) => {
    const client = await make();
    t.equal(client.protocolVersion, version, "the version spoken");
    if (what.includes("HTTP+JSON")) t.equal(client.transport.constructor.name.replace(/^_/, ""), "RestTransport", "the HTTP+JSON binding");

    t.test("send: a task, completed, its artifact the message's text", async (t) => {
      const r = (await client.sendMessage(send("hello brave  new world"))) as Task;
      t.equal(r.status?.state, TaskState.TASK_STATE_COMPLETED);
      t.equal(textOf(r), "hello brave  new world", "the words joined are the text");
      t.equal(r.history[0]?.messageId, `m-${n}`, "the message in its history");
      const again = await client.getTask(get(r.id, 10));
      t.equal(again.status?.state, TaskState.TASK_STATE_COMPLETED, "get: the same task, from NATS");
      t.equal(textOf(again), "hello brave  new world");
    });

    t.test("send without waiting (returnImmediately / blocking: false): the task at once, then it runs on", async (t) => {
      const request = SendMessageRequest.fromJSON({
        message: { messageId: `m-${++n}`, role: "ROLE_USER", parts: [{ text: "wait 1" }] },
        configuration: { returnImmediately: true },
      });
      const r = (await client.sendMessage(request)) as Task;
      t.not(r.status?.state, TaskState.TASK_STATE_COMPLETED, "answered before the task ended");
      await eventually(
        "the task completes without anyone waiting",
        async () => (await client.getTask(get(r.id))).status?.state === TaskState.TASK_STATE_COMPLETED,
      );
    });

    t.test("stream: the task, working, one artifact update per word, completed — each once, in order", async (t) => {
      const seen: string[] = [];
      for await (const ev of client.sendMessageStream(send("one two three"))) seen.push(labelAppend(ev));
      t.same(seen, [
        `task:${TaskState.TASK_STATE_SUBMITTED}`,
        `status:${TaskState.TASK_STATE_WORKING}`,
        "artifact:one :false",
        "artifact:two :true",
        "artifact:three:true",
        `status:${TaskState.TASK_STATE_COMPLETED}`,
      ]);
    });

    t.test("resubscribe after a cut at event 2 of 5: all 5, once, in order (replayed, then live)", async (t) => {
      const first: string[] = [];
      let id = "";
      for await (const ev of client.sendMessageStream(send("wait 1.5"))) {
        if (ev.payload?.$case === "task") id = ev.payload.value.id;
        first.push(labelAppend(ev));
        if (first.length === 2) break; // the client drops here
      }
      const all: string[] = [];
      for await (const ev of client.resubscribeTask(SubscribeToTaskRequest.fromJSON({ id }))) all.push(labelAppend(ev));
      t.same(first, all.slice(0, 2), "the first two again, then the rest");
      t.same(all, [
        `task:${TaskState.TASK_STATE_SUBMITTED}`,
        `status:${TaskState.TASK_STATE_WORKING}`,
        "artifact:wait :false",
        "artifact:1.5:true",
        `status:${TaskState.TASK_STATE_COMPLETED}`,
      ]);
      const later: string[] = [];
      for await (const ev of client.resubscribeTask(SubscribeToTaskRequest.fromJSON({ id }))) later.push(labelAppend(ev));
      t.same(later, all, "a finished task: its whole story, from NATS");
    });

    t.test("push: a webhook set on a task gets it at every change of state, with its token; configs listed, got, deleted", async (t) => {
      const waiting = (await client.sendMessage(
        SendMessageRequest.fromJSON({
          message: { messageId: `m-${++n}`, role: "ROLE_USER", parts: [{ text: "wait 1" }] },
          configuration: { returnImmediately: true },
        }),
      )) as Task;
      const before = pushes.length;
      const set = await client.createTaskPushNotificationConfig(
        TaskPushNotificationConfig.fromJSON({ taskId: waiting.id, url: webhook, token: `tok-${version}` }),
      );
      t.equal(set.url, webhook);
      const listed = await client.listTaskPushNotificationConfig(ListTaskPushNotificationConfigsRequest.fromJSON({ taskId: waiting.id }));
      t.same(
        listed.configs.map((c) => c.url),
        [webhook],
      );
      const got = await client.getTaskPushNotificationConfig(GetTaskPushNotificationConfigRequest.fromJSON({ taskId: waiting.id, id: set.id }));
      t.equal(got.id, set.id);
      await eventually("the completed task pushed", () => pushes.length > before, 30_000);
      const mine = pushes.slice(before);
      t.equal(mine.length, 1, "one change of state after the webhook was set: completed");
      t.equal(mine[0]!.headers["x-a2a-notification-token"], `tok-${version}`);
      const pushedTask = (version === "1.0" ? mine[0]!.body.task : mine[0]!.body) as { id: string; status: { state: string } };
      t.equal(pushedTask.id, waiting.id);
      t.equal(pushedTask.status.state, version === "1.0" ? "TASK_STATE_COMPLETED" : "completed", "the task, in the version the webhook was set in");
      await client.deleteTaskPushNotificationConfig(DeleteTaskPushNotificationConfigRequest.fromJSON({ taskId: waiting.id, id: set.id }));
      t.same((await client.listTaskPushNotificationConfig(ListTaskPushNotificationConfigsRequest.fromJSON({ taskId: waiting.id }))).configs, [], "deleted");
    });

    t.test("cancel: a waiting task ends canceled, its stream says so; a finished one cannot be canceled", async (t) => {
      const states: number[] = [];
      let id = "";
      let working: () => void = () => {};
      const isWorking = new Promise<void>((r) => (working = r));
      const stream = (async () => {
        for await (const ev of client.sendMessageStream(send("wait 30"))) {
          const p = ev.payload;
          if (p?.$case === "task") id = p.value.id;
          if (p?.$case === "statusUpdate") {
            states.push(p.value.status?.state ?? -1);
            if (p.value.status?.state === TaskState.TASK_STATE_WORKING) working();
          }
        }
      })();
      await isWorking;
      const canceled = await client.cancelTask(cancel(id));
      t.equal(canceled.status?.state, TaskState.TASK_STATE_CANCELED);
      await stream;
      t.same(states, [TaskState.TASK_STATE_WORKING, TaskState.TASK_STATE_CANCELED], "the stream ends with the cancel");
      await t.rejects(client.cancelTask(cancel(id)), { name: "TaskNotCancelableError" }, "a canceled task cannot be canceled again");
      await t.rejects(client.getTask(get("no-such-task")), { name: "TaskNotFoundError" });
    });
  });
}

t.test("the cards: v1.0 for an A2A-Version 1.x client, v0.3 otherwise and at agent.json, the root's for the default agent", async (t) => {
  const v1 = (await (await fetch(`${base}/.well-known/agent-card.json`, { headers: { "A2A-Version": "1.0" } })).json()) as Record<string, unknown>;
  t.match(v1, {
    name: "echo",
    supportedInterfaces: [{ url: `${base}/a2a/echo`, protocolBinding: "JSONRPC", protocolVersion: "1.0" }],
    capabilities: { streaming: true },
  });
  const v03 = (await (await fetch(`${base}/.well-known/agent-card.json`)).json()) as Record<string, unknown>;
  t.match(v03, { name: "echo", url: `${base}/a2a/echo`, preferredTransport: "JSONRPC", protocolVersion: "0.3.0" });
  t.notOk("supportedInterfaces" in v03);
  t.same(await (await fetch(`${base}/.well-known/agent.json`)).json(), v03, "agent.json: the v0.3 card");
  t.equal((await fetch(`${base}/a2a/nobody/.well-known/agent-card.json`)).status, 404, "an agent that is not here");
  const root = await new ClientFactory().createFromUrl(`${base}/`);
  t.equal(((await root.sendMessage(send("via the root card"))) as Task).status?.state, TaskState.TASK_STATE_COMPLETED, "the root card leads to echo");
});

t.test("list: this principal's tasks, newest first, filtered by state", async (t) => {
  const client = await new ClientFactory().createFromUrl(`${base}/a2a/echo/`);
  const done = (await client.sendMessage(send("to be listed"))) as Task;
  const all = await client.listTasks(ListTasksRequest.fromJSON({ pageSize: 100 }));
  t.equal(all.tasks[0]?.id, done.id, "the newest first");
  const canceled = await client.listTasks(ListTasksRequest.fromJSON({ pageSize: 100, status: "TASK_STATE_CANCELED" }));
  t.ok(
    canceled.tasks.every((x) => x.status?.state === TaskState.TASK_STATE_CANCELED),
    "a state filter",
  );
});

t.test("a webhook that stays down does not hold the task up", async (t) => {
  const client = await new ClientFactory().createFromUrl(`${base}/a2a/echo/`);
  const dead = `http://127.0.0.1:${await freePort()}/hook`;
  const r = (await client.sendMessage(
    SendMessageRequest.fromJSON({
      message: { messageId: `m-${++n}`, role: "ROLE_USER", parts: [{ text: "still done" }] },
      configuration: { taskPushNotificationConfig: { url: dead, token: "x" } },
    }),
  )) as Task;
  t.equal(r.status?.state, TaskState.TASK_STATE_COMPLETED, "completed, its webhook unreachable");
});

t.test("/ws: v1.0 method names are A2A's (once taken for MCP)", async (t) => {
  const { c } = await openSession(stack.wsUrl);
  t.teardown(() => c.close());
  const r = await c.call(rpc(1, "SendMessage", { message: { messageId: "ws-1", role: "ROLE_USER", parts: [{ text: "over a socket" }] } }));
  t.match(r, { id: 1, result: { task: { status: { state: "TASK_STATE_COMPLETED" } } } });
  const g = await c.call(rpc(2, "tasks/get", { id: (r.result as { task: { id: string } }).task.id }));
  t.match(g, { id: 2, result: { kind: "task", status: { state: "completed" } } }, "the same task in v0.3's shape");
  t.match(await c.call(rpc(3, "GetTask", { id: "nope" })), { error: { code: -32001 } });
  t.match(await c.call(rpc(4, "SendMessage", { message: { role: "ROLE_USER" } })), { error: { code: -32602 } });
  // a stream on a session: every event a frame with the request's id, the last the task's end
  c.send(rpc(5, "SendStreamingMessage", { message: { messageId: "ws-2", role: "ROLE_USER", parts: [{ text: "a b" }] } }));
  const events = () => c.frames.filter((f) => f.id === 5);
  await eventually("the stream's five events", () => events().length >= 5);
  await new Promise((r) => setTimeout(r, 200));
  t.same(
    events().map((f) => Object.keys(f.result as object)[0]),
    ["task", "statusUpdate", "artifactUpdate", "artifactUpdate", "statusUpdate"],
    "each once, in order",
  );
  t.match(events().at(-1), { result: { statusUpdate: { status: { state: "TASK_STATE_COMPLETED" } } } });
});

t.test("followers leave nothing behind: no consumer of A2A_EVENTS outlives its request", async (t) => {
  const consumers = async () => {
    const j = (await (await fetch(`${stack.nats.monitorUrl}/jsz?streams=true&consumers=true`)).json()) as {
      account_details?: { stream_detail?: { name: string; state: { consumer_count: number } }[] }[];
    };
    return j.account_details?.[0]?.stream_detail?.find((s) => s.name === "A2A_EVENTS")?.state.consumer_count ?? 0;
  };
  await eventually("every follower's consumer deleted", async () => (await consumers()) === 0, 20_000);
  t.pass();
});
