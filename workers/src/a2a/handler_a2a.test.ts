// The A2A handler as a client's bytes reach it, its store kept in memory (NATS
// KV is covered end to end in gateway/test/e2e_a2a_echo.test.ts): both
// versions' shapes, the head of each answer, and — fuzzed — that any method
// and params end in exactly one final JSON-RPC response with the request's id.
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import t from "tap";
import { fuzzOptions } from "@radiant/infra/fuzz-settings";
import { makeSessionId, type Operation } from "@radiant/wire";
import { captureLog } from "../../test/fakes.js";
import type { HandlerContext } from "../handler.js";
import { a2aHandler } from "./handler_a2a.js";
import type { StoredEvent } from "./task_events.js";
import type { TaskRecord, TaskStore } from "./task_store.js";

/** TaskStore's contract, in memory: revisions count writes. */
class MemoryTasks {
  readonly byId = new Map<string, { json: string; revision: number }>();
  async get(id: unknown, principal: string) {
    const e = typeof id === "string" ? this.byId.get(id) : undefined;
    if (!e) return undefined;
    const record = JSON.parse(e.json) as TaskRecord;
    return record.principal === principal ? { record, revision: e.revision } : undefined;
  }
  async create(r: TaskRecord) {
    this.byId.set(r.task.id, { json: JSON.stringify(r), revision: 1 });
    return 1;
  }
  async put(r: TaskRecord, revision?: number) {
    const e = this.byId.get(r.task.id);
    if (revision !== undefined && e?.revision !== revision) return false;
    const next = (e?.revision ?? 0) + 1;
    this.byId.set(r.task.id, { json: JSON.stringify(r), revision: next });
    return next;
  }
  async list(principal: string) {
    return [...this.byId.values()].map((e) => JSON.parse(e.json) as TaskRecord).filter((r) => r.principal === principal);
  }
}

/** TaskEvents' contract, in memory: what was published, replayed, then followed as it comes. */
class MemoryEvents {
  readonly byTask = new Map<string, StoredEvent[]>();
  private wake: (() => void)[] = [];
  async publish(taskId: string, e: StoredEvent) {
    this.byTask.set(taskId, [...(this.byTask.get(taskId) ?? []), JSON.parse(JSON.stringify(e)) as StoredEvent]);
    for (const w of this.wake.splice(0)) w();
  }
  async *follow(taskId: string, signal: AbortSignal) {
    for (let i = 0; !signal.aborted; ) {
      const have = this.byTask.get(taskId) ?? [];
      if (i < have.length) {
        yield have[i++]!;
        continue;
      }
      await new Promise<void>((r) => this.wake.push(r));
    }
  }
}

const sid = makeSessionId("a2atst", randomBytes(16));
const nc = { publish: () => {}, subscribe: () => ({ unsubscribe: () => {} }) };

function setup() {
  const tasks = new MemoryTasks();
  const h = a2aHandler({ tasks: tasks as unknown as TaskStore, events: new MemoryEvents(), nc: () => nc as never });
  const ctx: HandlerContext = { log: captureLog().log, working: () => {}, signal: new AbortController().signal, cancelRequest: () => {}, committed: () => {} };
  const run = async (body: unknown, principal = "alice") => {
    const out: { json: Record<string, unknown>; head?: unknown; last?: boolean }[] = [];
    const req = {
      body: Buffer.from(typeof body === "string" ? body : JSON.stringify(body)),
      sid,
      rid: "ga1",
      op: "rpc" as Operation<"a2a">,
      principal,
      target: "echo",
    };
    for await (const r of h(req, ctx)) out.push({ json: JSON.parse(r.body.toString()) as Record<string, unknown>, head: r.head, last: r.last });
    return out;
  };
  return { tasks, run };
}

const rpc = (id: unknown, method: string, params?: unknown) => ({ jsonrpc: "2.0", id, method, ...(params !== undefined ? { params } : {}) });
const msgV1 = (text: string) => ({ message: { messageId: "m", role: "ROLE_USER", parts: [{ text }] } });
const msgV03 = (text: string) => ({ message: { kind: "message", messageId: "m", role: "user", parts: [{ kind: "text", text }] } });

t.test("send: v1.0 wraps the task ({task}), v0.3 tags it (kind); one JSON body", async (t) => {
  const { run } = setup();
  const [v1] = await run(rpc(1, "SendMessage", msgV1("a b")));
  t.match(v1, { head: { status: 200, stream: false }, last: true, json: { id: 1, result: { task: { status: { state: "TASK_STATE_COMPLETED" } } } } });
  const [v03] = await run(rpc(2, "message/send", msgV03("a b")));
  t.match(v03?.json, {
    id: 2,
    result: {
      kind: "task",
      status: { state: "completed" },
      artifacts: [
        {
          parts: [
            { kind: "text", text: "a " },
            { kind: "text", text: "b" },
          ],
        },
      ],
    },
  });
});

t.test("stream: an event stream head on the first event, the last one ends it; v0.3 marks the final status", async (t) => {
  const { run } = setup();
  const frames = await run(rpc("s", "message/stream", msgV03("x y")));
  t.match(frames[0], { head: { status: 200, stream: true } });
  t.equal(frames.filter((f) => f.head !== undefined).length, 1, "one head");
  t.same(
    frames.map((f) => (f.json.result as { kind: string }).kind),
    ["task", "status-update", "artifact-update", "artifact-update", "status-update"],
  );
  t.match(frames.at(-1), { last: true, json: { id: "s", result: { final: true, status: { state: "completed" } } } });
});

t.test("resubscribe: the task's every event from its first, each once, the last one ending it — in the asker's version", async (t) => {
  const { run } = setup();
  const [sent] = await run(rpc(1, "SendMessage", msgV1("p q")));
  const id = (sent!.json.result as { task: { id: string } }).task.id;
  const v03 = await run(rpc(2, "tasks/resubscribe", { id }));
  t.same(
    v03.map((f) => (f.json.result as { kind: string }).kind),
    ["task", "status-update", "artifact-update", "artifact-update", "status-update"],
  );
  t.match(v03[0], { head: { status: 200, stream: true } });
  t.match(v03.at(-1), { last: true, json: { id: 2, result: { final: true } } });
  const v1 = await run(rpc(3, "SubscribeToTask", { id }));
  t.same(
    v1.map((f) => Object.keys(f.json.result as object)[0]),
    ["task", "statusUpdate", "artifactUpdate", "artifactUpdate", "statusUpdate"],
  );
  t.match((await run(rpc(4, "SubscribeToTask", { id }), "mallory"))[0]?.json, { error: { code: -32001 } }, "not another principal's");
});

t.test("another principal's task does not exist for them", async (t) => {
  const { run } = setup();
  const [sent] = await run(rpc(1, "SendMessage", msgV1("mine")));
  const id = (sent!.json.result as { task: { id: string } }).task.id;
  t.match((await run(rpc(2, "GetTask", { id }), "alice"))[0]?.json, { result: { id } });
  t.match((await run(rpc(3, "GetTask", { id }), "mallory"))[0]?.json, { error: { code: -32001 } });
  t.match((await run(rpc(4, "CancelTask", { id }), "mallory"))[0]?.json, { error: { code: -32001 } });
  t.match((await run(rpc(5, "ListTasks", {}), "mallory"))[0]?.json, { result: { tasks: [], totalSize: 0 } }, "nor in their list");
  t.match((await run(rpc(6, "CancelTask", { id }), "alice"))[0]?.json, { error: { code: -32002 } }, "a finished task cannot be canceled");
});

t.test("errors in A2A's codes", async (t) => {
  const { run } = setup();
  t.match((await run("{bad"))[0]?.json, { id: null, error: { code: -32700 } });
  t.match((await run(rpc(1, "Nope")))[0]?.json, { id: 1, error: { code: -32601 } });
  t.match((await run(rpc(2, "SendMessage", { message: { messageId: "m", role: "ROLE_USER", parts: [] } })))[0]?.json, { error: { code: -32602 } });
  t.match((await run(rpc(3, "tasks/pushNotificationConfig/set", {})))[0]?.json, { error: { code: -32003 } });
  t.match((await run(rpc(4, "GetTask", { id: "../../x" })))[0]?.json, { error: { code: -32001 } }, "an id that is not one: not found, never a subject");
  t.same(await run({ jsonrpc: "2.0", method: "SendMessage", params: msgV1("no id") }), [], "no id: nothing runs, nothing answers");
});

t.test("any method and params: exactly one final response with the request's id, never a throw (property)", async (t) => {
  const methods = [
    "SendMessage",
    "message/send",
    "SendStreamingMessage",
    "message/stream",
    "GetTask",
    "tasks/get",
    "CancelTask",
    "tasks/cancel",
    "ListTasks",
    "SubscribeToTask",
    "x",
  ];
  const value = fc.jsonValue({ maxDepth: 3 });
  const params = fc.oneof(
    fc.constant(undefined),
    fc.record(
      {
        message: fc.oneof(
          value,
          fc.record({ messageId: fc.string(), role: fc.constantFrom("ROLE_USER", "user", "x"), parts: fc.array(value, { maxLength: 3 }) }),
        ),
      },
      { requiredKeys: [] },
    ),
    fc.dictionary(fc.constantFrom("id", "historyLength", "status", "pageSize", "pageToken", "contextId"), value, { maxKeys: 3 }),
  );
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...methods), params, fc.oneof(fc.integer(), fc.string({ maxLength: 6 })), async (method, p, id) => {
      const { run } = setup();
      const frames = await run(rpc(id, method, p));
      const finals = frames.filter((f) => f.last);
      return finals.length === 1 && frames.at(-1)?.last === true && finals[0]!.json.id === id;
    }),
    fuzzOptions(),
  );
  t.pass("never threw");
});

t.test("an upstream agent's answer, either version's shape, read or refused — never a throw (property)", async (t) => {
  const { readUpstreamResult } = await import("./shapes.js");
  t.match(readUpstreamResult({ task: { id: "t", contextId: "c", status: { state: "TASK_STATE_WORKING" } } }), {
    upstreamId: "t",
    task: { status: { state: "working" } },
  });
  t.match(
    readUpstreamResult({ kind: "task", id: "t", status: { state: "completed" }, artifacts: [{ artifactId: "a", parts: [{ kind: "text", text: "x" }] }] }),
    {
      task: { status: { state: "completed" }, artifacts: [{ parts: [{ text: "x" }] }] },
    },
  );
  t.match(readUpstreamResult({ statusUpdate: { status: { state: "TASK_STATE_CANCELED" } } }), { event: { kind: "status", status: { state: "canceled" } } });
  t.match(readUpstreamResult({ kind: "artifact-update", artifact: { artifactId: "a", parts: [{ kind: "text", text: "y" }] }, append: true }), {
    event: { kind: "artifact", append: true },
  });
  t.match(readUpstreamResult({ kind: "message", messageId: "m", role: "agent", parts: [{ kind: "text", text: "hi" }] }), { message: { role: "agent" } });
  t.equal(readUpstreamResult({ task: { id: 5, status: {} } }), undefined);
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => {
      readUpstreamResult(v);
      readUpstreamResult({ task: v });
      readUpstreamResult({ kind: "status-update", status: v });
      return true;
    }),
    fuzzOptions(),
  );
  t.pass("never threw");
});

t.test("bounds from the review: echo's updates, secrets read back, where an agent's credential may go", async (t) => {
  const { wordsOf, MAX_UPDATES } = await import("./agent_echo.js");
  const long = "w ".repeat(5000);
  const pieces = wordsOf(long);
  t.ok(pieces.length <= MAX_UPDATES, `${pieces.length} updates for 5000 words`);
  t.equal(pieces.join(""), long, "joined, the text itself");
  t.same(wordsOf(" a  b"), [" a  ", "b"]);

  const { configOut } = await import("./push.js");
  const c = { id: "c", url: "http://h/", token: "secret", authentication: { schemes: ["Bearer"], credentials: "k" }, version: "1.0" as const };
  t.match(configOut("t", c, "1.0"), { token: "secret", authentication: { credentials: "k" } }, "as set: all of it");
  t.same(
    configOut("t", c, "1.0", true),
    { taskId: "t", id: "c", url: "http://h/", authentication: { schemes: ["Bearer"] } },
    "read back: no token, no credentials",
  );

  const { endpointOf } = await import("./agent_upstream.js");
  const cfg = { name: "a", url: "http://agent.example:8000/", headers: { Authorization: "Bearer x" } };
  t.match(endpointOf({ supportedInterfaces: [{ url: "http://agent.example:8000/rpc", protocolBinding: "JSONRPC", protocolVersion: "1.0" }] }, cfg), {
    version: "1.0",
  });
  t.equal(
    endpointOf({ supportedInterfaces: [{ url: "http://169.254.169.254/rpc", protocolBinding: "JSONRPC", protocolVersion: "1.0" }] }, cfg),
    undefined,
    "a card pointing elsewhere: the credential does not follow",
  );
  t.equal(endpointOf({ url: "http://other.example/", preferredTransport: "JSONRPC" }, cfg), undefined);
});

t.test("an agent's update names its task: its id is known without the task itself", async (t) => {
  const { readUpstreamResult } = await import("./shapes.js");
  t.match(readUpstreamResult({ statusUpdate: { taskId: "up-1", status: { state: "TASK_STATE_WORKING" } } }), { upstreamId: "up-1" });
  t.match(readUpstreamResult({ kind: "artifact-update", taskId: "up-2", artifact: { artifactId: "a", parts: [] } }), { upstreamId: "up-2" });
  t.notOk("upstreamId" in (readUpstreamResult({ statusUpdate: { status: { state: "TASK_STATE_WORKING" } } }) ?? {}), "none named: none");
});
