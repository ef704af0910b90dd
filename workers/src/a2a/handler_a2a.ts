// A2A over JSON-RPC, both versions, told apart by method name: v1.0's
// (`SendMessage`, `GetTask`, …) and v0.3's (`message/send`, `tasks/get`, …).
// Tasks are kept in NATS KV (task_store.ts), each its principal's; the agent
// behind `/a2a/<name>` runs here (only the built-in `echo` so far). Over plain
// HTTP the first reply says how the response begins: an event stream for the
// streaming methods (every event a JSON-RPC response with the request's id),
// else one JSON body — errors included, with HTTP 200, as A2A's servers do.
import { randomUUID } from "node:crypto";
import type { NatsConnection } from "@nats-io/nats-core";
import { subjects } from "@radiant/wire";
import type { Handler, HandlerContext, Request } from "../handler.js";
import { parseJson, readRpc, type RpcRequest } from "../jsonrpc.js";
import { RpcError, rpcAnyResult, rpcError, rpcErrors, rpcResult, type Reply } from "../reply.js";
import { echoAgent } from "./agent_echo.js";
import { cancelUpstream, sendUpstream, type UpstreamAgents } from "./agent_upstream.js";
import { configOut, type PushConfig, type Pusher, readPushConfig, withConfig } from "./push.js";
import {
  apply,
  eventOut,
  type Message,
  readMessage,
  readState,
  type TaskEvent,
  taskOut,
  taskResult,
  type Task,
  TERMINAL,
  type UpstreamResult,
  type Version,
} from "./shapes.js";
import type { TaskEvents } from "./task_events.js";
import type { TaskRecord, TaskStore } from "./task_store.js";

/** A2A's own JSON-RPC codes (the same in both versions). */
export const a2aErrors = {
  taskNotFound: -32001,
  taskNotCancelable: -32002,
  pushNotSupported: -32003,
  unsupportedOperation: -32004,
} as const;

type Op = "send" | "stream" | "get" | "cancel" | "list" | "subscribe" | "push" | "extendedCard";
const METHODS: Record<string, { op: Op; v: Version }> = {
  SendMessage: { op: "send", v: "1.0" },
  SendStreamingMessage: { op: "stream", v: "1.0" },
  GetTask: { op: "get", v: "1.0" },
  CancelTask: { op: "cancel", v: "1.0" },
  ListTasks: { op: "list", v: "1.0" },
  SubscribeToTask: { op: "subscribe", v: "1.0" },
  CreateTaskPushNotificationConfig: { op: "push", v: "1.0" },
  GetTaskPushNotificationConfig: { op: "push", v: "1.0" },
  ListTaskPushNotificationConfigs: { op: "push", v: "1.0" },
  DeleteTaskPushNotificationConfig: { op: "push", v: "1.0" },
  GetExtendedAgentCard: { op: "extendedCard", v: "1.0" },
  "message/send": { op: "send", v: "0.3" },
  "message/stream": { op: "stream", v: "0.3" },
  "tasks/get": { op: "get", v: "0.3" },
  "tasks/cancel": { op: "cancel", v: "0.3" },
  "tasks/resubscribe": { op: "subscribe", v: "0.3" },
  "tasks/pushNotificationConfig/set": { op: "push", v: "0.3" },
  "tasks/pushNotificationConfig/get": { op: "push", v: "0.3" },
  "tasks/pushNotificationConfig/list": { op: "push", v: "0.3" },
  "tasks/pushNotificationConfig/delete": { op: "push", v: "0.3" },
  "agent/getAuthenticatedExtendedCard": { op: "extendedCard", v: "0.3" },
};

const JSON_HEAD = { status: 200, stream: false } as const;
const SSE_HEAD = { status: 200, stream: true } as const;
/** how long a CancelTask waits for the running agent to end the task before ending it itself (its runner is gone) */
const CANCEL_WAIT_MS = 3000;
const LIST_PAGE = 50;
/** tasks one worker runs at once (each a runner until it ends): past it a send is refused, retryable */
const MAX_RUNNING = 1000;
let running = 0;

export interface A2aDeps {
  /** the agents behind the gateway (RADIANT_A2A_CONFIG) */
  upstream?: UpstreamAgents;
  tasks: TaskStore;
  /** push notifications (none: the push methods answer "not supported") */
  pusher?: Pusher;
  events: Pick<TaskEvents, "publish" | "follow">;
  nc: () => Pick<NatsConnection, "publish" | "subscribe">;
}

const one = (r: Reply): Reply => ({ ...r, head: JSON_HEAD, last: true });

export function a2aHandler(deps: A2aDeps): Handler<"a2a"> {
  const jsonRpc = rpcHandler(deps);
  return async function* (req, ctx) {
    if (req.op !== "rest") return yield* jsonRpc(req, ctx, undefined);
    // the HTTP+JSON binding: the gateway made its path a method (`{"method", "params"}`); the answer is the binding's
    let call: { method?: unknown; params?: unknown };
    try {
      call = parseJson(req.body) as typeof call;
    } catch {
      call = {};
    }
    const rpc = { jsonrpc: "2.0", id: 0, method: call.method, params: call.params ?? {} };
    for await (const r of jsonRpc(req, ctx, rpc)) yield restReply(r);
  };
}

/** A JSON-RPC reply as the HTTP+JSON binding says it: the result alone, an error as `{error: {code, status, message, details}}` with its HTTP status. */
function restReply(r: Reply): Reply {
  const o = JSON.parse(r.body.toString("utf8")) as { result?: unknown; error?: { code: number; message: string } };
  if (o.error) {
    const [status, name, reason] = REST_ERRORS[o.error.code] ?? [500, "INTERNAL", "INTERNAL"];
    const body = {
      error: {
        code: status,
        status: name,
        message: o.error.message,
        details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason, domain: "a2a-protocol.org" }],
      },
    };
    return { body: Buffer.from(JSON.stringify(body)), response: true, head: { status, stream: false }, last: true };
  }
  return { body: Buffer.from(JSON.stringify(o.result ?? null)), response: true, ...(r.head ? { head: r.head } : {}), ...(r.last ? { last: true } : {}) };
}

/** JSON-RPC code → the HTTP+JSON binding's status, its name, and the reason A2A's clients map to an error class */
const REST_ERRORS: Record<number, [number, string, string]> = {
  [-32001]: [404, "NOT_FOUND", "TASK_NOT_FOUND"],
  [-32002]: [400, "FAILED_PRECONDITION", "TASK_NOT_CANCELABLE"],
  [-32003]: [400, "UNIMPLEMENTED", "PUSH_NOTIFICATION_NOT_SUPPORTED"],
  [-32004]: [400, "UNIMPLEMENTED", "UNSUPPORTED_OPERATION"],
  [-32600]: [400, "INVALID_ARGUMENT", "INVALID_REQUEST"],
  [-32601]: [404, "NOT_FOUND", "METHOD_NOT_FOUND"],
  [-32602]: [400, "INVALID_ARGUMENT", "INVALID_PARAMS"],
  [-32700]: [400, "INVALID_ARGUMENT", "PARSE_ERROR"],
};

/** JSON-RPC: the client's message (`given`: one made of an HTTP+JSON call). */
function rpcHandler(deps: A2aDeps) {
  return async function* (req: Request, ctx: HandlerContext, given: unknown): AsyncIterable<Reply> {
    let v: unknown = given;
    if (v === undefined) {
      try {
        v = parseJson(req.body);
      } catch (e) {
        yield one(rpcError(null, (e as RpcError).code, (e as RpcError).message));
        return;
      }
    }
    const m = readRpc(v);
    if (m.kind === "response") return;
    if (m.kind === "invalid") {
      yield one(rpcError(m.id, m.error.code, m.error.message));
      return;
    }
    const rpc = m.req;
    if (!rpc.hasId) return; // A2A has no notifications: nothing to answer
    const method = Object.hasOwn(METHODS, rpc.method) ? METHODS[rpc.method] : undefined;
    if (!method) {
      yield one(rpcError(rpc.id, rpcErrors.methodNotFound, `Method not found: ${rpc.method}`));
      return;
    }
    try {
      yield* run(deps, req, ctx, rpc, method.op, method.v);
    } catch (e) {
      if (!(e instanceof RpcError)) throw e;
      yield one(rpcError(rpc.id, e.code, e.message, e.data));
    }
  };
}

/** One request of a client, and what answering it needs. */
interface A2aCall {
  deps: A2aDeps;
  req: Request;
  ctx: HandlerContext;
  rpc: RpcRequest;
  params: Record<string, unknown>;
  v: Version;
}

async function* run(deps: A2aDeps, req: Request, ctx: HandlerContext, rpc: RpcRequest, op: Op, v: Version): AsyncIterable<Reply> {
  const params = rpc.params ?? {};
  const call: A2aCall = { deps, req, ctx, rpc, params, v };
  switch (op) {
    case "send":
    case "stream":
      return yield* send(call, op === "stream");
    case "get": {
      const found = await deps.tasks.get(params.id, req.principal);
      if (!found) throw notFound(params.id);
      const h = params.historyLength;
      yield one(rpcResult(rpc.id, taskOut(found.record.task, v, typeof h === "number" && Number.isInteger(h) ? h : undefined)));
      return;
    }
    case "cancel":
      yield one(rpcResult(rpc.id, taskOut(await cancel(deps, req.principal, params.id), v)));
      return;
    case "list": {
      const state = readState(params.status);
      const contextId = typeof params.contextId === "string" && params.contextId !== "" ? params.contextId : undefined;
      const size = typeof params.pageSize === "number" && params.pageSize > 0 ? Math.min(Math.trunc(params.pageSize), 100) : LIST_PAGE;
      const from = typeof params.pageToken === "string" && /^\d{1,6}$/.test(params.pageToken) ? Number(params.pageToken) : 0;
      const all = (await deps.tasks.list(req.principal)).filter(
        (r) => (state === undefined || r.task.status.state === state) && (contextId === undefined || r.task.contextId === contextId),
      );
      const page = all.slice(from, from + size);
      yield one(
        rpcResult(rpc.id, {
          tasks: page.map((r) => taskOut(r.task, v, 0)),
          nextPageToken: from + size < all.length ? String(from + size) : "",
          pageSize: size,
          totalSize: all.length,
        }),
      );
      return;
    }
    case "push":
      yield one(rpcAnyResult(rpc.id, await pushMethod(call, rpc.method)));
      return;
    case "subscribe":
      return yield* resubscribe(call);
    case "extendedCard":
      throw new RpcError(a2aErrors.unsupportedOperation, "This agent has no extended card");
  }
}

const notFound = (id: unknown): RpcError =>
  new RpcError(a2aErrors.taskNotFound, `Task not found: ${typeof id === "string" ? id.slice(0, 64) : typeof id === "number" ? String(id) : "(not a task id)"}`);

/** SendMessage / message/send (the final task, one JSON body) and their streaming forms (every event). */
async function* send(c: A2aCall, streaming: boolean): AsyncIterable<Reply> {
  const { deps, req, ctx, rpc, params, v } = c;
  const message = readMessage(params.message);
  if (typeof message === "string") throw new RpcError(rpcErrors.invalidParams, `Invalid params: ${message}`);
  if (message.taskId !== undefined) throw new RpcError(a2aErrors.unsupportedOperation, "Continuing a task with a new message is not supported by this agent");
  const config = (params.configuration ?? {}) as Record<string, unknown>;
  const pushAsked = config.taskPushNotificationConfig ?? config.pushNotificationConfig;
  const push = pushAsked === undefined || pushAsked === null ? [] : [readPushConfig(pushAsked, v)];
  if (push.length > 0 && !deps.pusher) throw new RpcError(a2aErrors.pushNotSupported, "Push notifications are not supported here");
  if (running >= MAX_RUNNING) throw new RpcError(rpcErrors.internal, `${MAX_RUNNING} tasks run on this worker already: retry later`);
  const agent = req.target ?? "echo";
  let upstream: AsyncIterable<UpstreamResult> | undefined;
  if (agent !== "echo") {
    if (!deps.upstream?.has(agent)) throw new RpcError(a2aErrors.unsupportedOperation, `No agent ${agent} here`);
    const endpoint = await deps.upstream.endpoint(agent);
    // from here the agent may have the message: never sent twice (a timeout ends the request, it does not run it again)
    ctx.committed();
    // opened before the task is made: an agent that cannot be reached is the client's error, not a failed task.
    // Until it answers, the request's end stops it; after, the task's runner owns the answer.
    const opening = new AbortController();
    const stop = () => opening.abort(ctx.signal.reason);
    ctx.signal.addEventListener("abort", stop, { once: true });
    try {
      upstream = await sendUpstream(endpoint, message, opening.signal);
    } finally {
      ctx.signal.removeEventListener("abort", stop);
    }
  }
  const id = randomUUID();
  const contextId = message.contextId ?? randomUUID();
  const first: Message = { ...message, taskId: id, contextId };
  const task: Task = { id, contextId, status: { state: "submitted", timestamp: new Date().toISOString() }, artifacts: [], history: [first] };
  const record: TaskRecord = {
    task,
    principal: req.principal,
    created: Date.now(),
    ...(upstream ? { upstream: { agent, taskId: "" } } : {}),
    ...(push.length > 0 ? { push } : {}),
  };
  const revision = await deps.tasks.create(record);
  ctx.committed();
  await deps.events.publish(id, { task });
  // the task runs on its own: a client that leaves (or a request cut short) leaves it running
  running++;
  void runTask(deps, ctx, record, revision, upstream ? fromUpstream(record, upstream) : echoEvents(deps, id, first)).finally(() => running--);
  if (!streaming && (config.returnImmediately === true || config.blocking === false)) {
    yield { ...rpcResult(rpc.id, taskResult(task, v)), head: JSON_HEAD, last: true };
    return;
  }
  if (streaming) {
    yield* follow(c, id);
    return;
  }
  let final: Task | undefined;
  for await (const f of follow(c, id)) if (f.last) final = f.task;
  yield { ...rpcResult(rpc.id, taskResult(final ?? task, v)), head: JSON_HEAD, last: true };
}

/** The agent at work on a task: each event applied, stored in KV and in the task's events. Stopped by a CancelTask only. */
async function runTask(deps: A2aDeps, ctx: HandlerContext, record: TaskRecord, revision: number, events: AsyncIterable<TaskEvent>): Promise<void> {
  const task = record.task;
  try {
    for await (const e of events) {
      apply(task, e);
      let written = await deps.tasks.put(record, revision);
      while (written === false) {
        // someone else wrote the task: a CancelTask that ended it (theirs is the last word), or a push config
        const now = await deps.tasks.get(task.id, record.principal);
        if (!now || TERMINAL.has(now.record.task.status.state)) return;
        record.push = now.record.push;
        written = await deps.tasks.put(record, now.revision);
      }
      revision = written;
      await deps.events.publish(task.id, { event: e });
      if (e.kind === "status" && record.push?.length) deps.pusher?.notify(task, record.push);
      if (TERMINAL.has(task.status.state)) break;
    }
  } catch (e) {
    ctx.log.warn({ task: task.id, err: String(e) }, "an A2A task stopped: its state may lag behind");
  }
}

/** The echo agent's events; a CancelTask (from any worker) reaches it on the task's cancel subject. */
async function* echoEvents(deps: A2aDeps, id: string, first: Message): AsyncIterable<TaskEvent> {
  let cancel: () => void = () => {};
  const cancelled = new Promise<void>((r) => (cancel = r));
  const sub = deps.nc().subscribe(subjects.a2aCancel(id), { callback: () => cancel() });
  try {
    yield* echoAgent(first, cancelled, new AbortController().signal);
  } finally {
    sub.unsubscribe();
  }
}

/** An agent's answers as this task's events: its task's id noted (a cancel names it), a bare message the task's last word. */
async function* fromUpstream(record: TaskRecord, results: AsyncIterable<UpstreamResult>): AsyncIterable<TaskEvent> {
  for await (const r of results) {
    if ("task" in r) {
      record.upstream = { agent: record.upstream!.agent, taskId: r.upstreamId };
      // an agent that answers at once sends its whole task: its artifacts, then where it stands
      for (const artifact of r.task.artifacts) yield { kind: "artifact", artifact, append: false, lastChunk: true };
      if (r.task.status.state !== record.task.status.state) yield { kind: "status", status: r.task.status };
    } else if ("event" in r) {
      if (r.upstreamId !== undefined && record.upstream!.taskId === "") record.upstream = { agent: record.upstream!.agent, taskId: r.upstreamId };
      yield r.event;
    } else yield { kind: "status", status: { state: "completed", timestamp: new Date().toISOString(), message: r.message } };
  }
}

/** A task's events as stream frames in version `v`, from its first; the last (the task ended) is marked. */
async function* follow({ deps, ctx, rpc, v }: A2aCall, id: string): AsyncIterable<Reply & { task: Task }> {
  let task: Task | undefined;
  let head = true;
  for await (const stored of deps.events.follow(id, ctx.signal)) {
    let result: Record<string, unknown>;
    let end = false;
    if ("task" in stored) {
      task = stored.task;
      result = taskResult(task, v);
    } else {
      if (!task) continue; // the snapshot comes first; an event before it is not this task's story
      apply(task, stored.event);
      result = eventOut(task, stored.event, v);
      end = TERMINAL.has(task.status.state);
    }
    yield { ...rpcResult(rpc.id, result), ...(head ? { head: SSE_HEAD } : {}), ...(end ? { last: true } : {}), task };
    head = false;
    if (end) return;
  }
}

/**
 * SubscribeToTask / tasks/resubscribe: the task's events from its first — the task as created, then
 * each status and artifact update — and then the live ones, each once, until it ends. A client cut off
 * in the middle of a stream gets everything, in order, whatever worker or gateway process it reaches.
 */
async function* resubscribe(c: A2aCall): AsyncIterable<Reply> {
  const found = await c.deps.tasks.get(c.params.id, c.req.principal);
  if (!found) throw notFound(c.params.id);
  yield* follow(c, found.record.task.id);
}

/** The push-config methods of both versions: a task's webhooks, kept with it. */
async function pushMethod({ deps, req, params, v }: A2aCall, method: string): Promise<unknown> {
  if (!deps.pusher) throw new RpcError(a2aErrors.pushNotSupported, "Push notifications are not supported here");
  const taskId = v === "1.0" ? params.taskId : method === "tasks/pushNotificationConfig/set" ? params.taskId : params.id;
  const configId = v === "1.0" ? params.id : params.pushNotificationConfigId;
  const found = await deps.tasks.get(taskId, req.principal);
  if (!found) throw notFound(taskId);
  const id = found.record.task.id;
  const list = found.record.push ?? [];
  const edit = async (f: (l: PushConfig[]) => PushConfig[]) => {
    for (let i = 0; i < 5; i++) {
      const now = i === 0 ? found : await deps.tasks.get(id, req.principal);
      if (!now) throw notFound(id);
      now.record.push = f(now.record.push ?? []);
      if ((await deps.tasks.put(now.record, now.revision)) !== false) return;
    }
    throw new RpcError(rpcErrors.internal, "The task changed under the request too many times: try again");
  };
  switch (method) {
    case "CreateTaskPushNotificationConfig":
    case "tasks/pushNotificationConfig/set": {
      const c = readPushConfig(v === "1.0" ? params : params.pushNotificationConfig, v);
      await edit((l) => withConfig(l, c));
      return configOut(id, c, v);
    }
    case "GetTaskPushNotificationConfig":
    case "tasks/pushNotificationConfig/get": {
      const c = configId === undefined && list.length === 1 ? list[0] : list.find((x) => x.id === configId);
      if (!c) throw new RpcError(rpcErrors.invalidParams, `Invalid params: no push config ${String(configId)} on task ${id}`);
      return configOut(id, c, v, true);
    }
    case "ListTaskPushNotificationConfigs":
      return { configs: list.map((c) => configOut(id, c, v, true)), nextPageToken: "" };
    case "tasks/pushNotificationConfig/list":
      return list.map((c) => configOut(id, c, v, true));
    default:
      await edit((l) => l.filter((x) => x.id !== configId));
      return null;
  }
}

/** CancelTask: the running agent is told and ends the task `canceled`; a task nobody runs any more is ended here. */
async function cancel(deps: A2aDeps, principal: string, id: unknown): Promise<Task> {
  const found = await deps.tasks.get(id, principal);
  if (!found) throw notFound(id);
  const task = found.record.task;
  if (TERMINAL.has(task.status.state)) throw new RpcError(a2aErrors.taskNotCancelable, `Task ${task.id} is ${task.status.state}: it cannot be canceled`);
  const up = found.record.upstream;
  if (up && deps.upstream) {
    // the agent behind the gateway cancels it; its stream (if someone reads it) brings the end
    if (up.taskId === "") throw new RpcError(a2aErrors.taskNotCancelable, `Task ${task.id} has not started at agent '${up.agent}' yet: try again`);
    await cancelUpstream(await deps.upstream.endpoint(up.agent), up.taskId);
  } else deps.nc().publish(subjects.a2aCancel(task.id));
  const until = Date.now() + CANCEL_WAIT_MS;
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    const now = await deps.tasks.get(task.id, principal);
    if (now && TERMINAL.has(now.record.task.status.state)) return now.record.task;
  }
  // its agent did not answer (its worker is gone): the task ends here, unless it ended meanwhile
  for (let i = 0; i < 5; i++) {
    const now = await deps.tasks.get(task.id, principal);
    if (!now) throw notFound(id);
    if (TERMINAL.has(now.record.task.status.state)) return now.record.task;
    const ended = { kind: "status", status: { state: "canceled", timestamp: new Date().toISOString() } } as const;
    apply(now.record.task, ended);
    if ((await deps.tasks.put(now.record, now.revision)) !== false) {
      // its followers (a resubscribe) see it end too
      await deps.events.publish(task.id, { event: ended });
      return now.record.task;
    }
  }
  throw new RpcError(rpcErrors.internal, "The task changed under the cancel too many times: try again");
}
