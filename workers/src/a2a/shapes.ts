// A2A's objects as RADIANT keeps them (one shape, close to v1.0's), and as each
// protocol version writes and reads them: v1.0 (proto-JSON: `TASK_STATE_*`,
// `ROLE_*`, parts keyed by their kind, results wrapped `{task}` / `{statusUpdate}`)
// and v0.3 (`kind`-tagged objects, lowercase states, `final` on status events).

export type Version = "1.0" | "0.3";
export const TASK_STATES = ["submitted", "working", "completed", "failed", "canceled", "input-required", "rejected", "auth-required"] as const;
export type TaskState = (typeof TASK_STATES)[number];
export const TERMINAL: ReadonlySet<TaskState> = new Set<TaskState>(["completed", "failed", "canceled", "rejected"]);

export interface Part {
  text?: string;
  data?: unknown;
  url?: string;
  raw?: string;
  mediaType?: string;
  filename?: string;
}
export interface Message {
  messageId: string;
  role: "user" | "agent";
  parts: Part[];
  contextId?: string;
  taskId?: string;
}
export interface TaskStatus {
  state: TaskState;
  timestamp: string;
  message?: Message;
}
export interface Artifact {
  artifactId: string;
  name?: string;
  parts: Part[];
}
export interface Task {
  id: string;
  contextId: string;
  status: TaskStatus;
  artifacts: Artifact[];
  history: Message[];
}
export type TaskEvent = { kind: "status"; status: TaskStatus } | { kind: "artifact"; artifact: Artifact; append: boolean; lastChunk: boolean };

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : undefined);

// ---- reading what a client sent (either version's shapes are taken) ---------------------

function readPart(v: unknown): Part | undefined {
  const o = obj(v);
  if (!o) return undefined;
  const p: Part = {};
  if (typeof o.text === "string") p.text = o.text;
  else if (o.data !== undefined) p.data = o.data;
  else if (obj(o.file)) {
    const f = obj(o.file)!;
    if (typeof f.uri === "string") p.url = f.uri;
    if (typeof f.bytes === "string") p.raw = f.bytes;
    if (typeof f.mimeType === "string") p.mediaType = f.mimeType;
    if (typeof f.name === "string") p.filename = f.name;
  } else if (typeof o.url === "string") p.url = o.url;
  else if (typeof o.raw === "string") p.raw = o.raw;
  else return undefined;
  if (typeof o.mediaType === "string") p.mediaType = o.mediaType;
  if (typeof o.filename === "string") p.filename = o.filename;
  return p;
}

/** A client's message, or why it is not one. */
export function readMessage(v: unknown): Message | string {
  const o = obj(v);
  if (!o) return '"message" must be an object';
  if (typeof o.messageId !== "string" || o.messageId === "" || o.messageId.length > 256) return '"message.messageId" must be a non-empty string';
  const role =
    o.role === "ROLE_USER" || o.role === "user" || o.role === 1 ? "user" : o.role === "ROLE_AGENT" || o.role === "agent" || o.role === 2 ? "agent" : undefined;
  if (!role) return '"message.role" must be ROLE_USER or ROLE_AGENT ("user" or "agent" in v0.3)';
  if (!Array.isArray(o.parts) || o.parts.length === 0) return '"message.parts" must be a non-empty array';
  const parts: Part[] = [];
  for (const x of o.parts) {
    const p = readPart(x);
    if (!p) return "each part must hold text, data, a file, a url or raw bytes";
    parts.push(p);
  }
  const m: Message = { messageId: o.messageId, role, parts };
  if (typeof o.contextId === "string" && o.contextId !== "") m.contextId = o.contextId;
  if (typeof o.taskId === "string" && o.taskId !== "") m.taskId = o.taskId;
  return m;
}

/** The text of a message: its text parts, joined. */
export const textOf = (m: Message): string =>
  m.parts
    .map((p) => p.text ?? "")
    .filter((t) => t !== "")
    .join("\n");

const V1_STATES: Record<TaskState, string> = {
  submitted: "TASK_STATE_SUBMITTED",
  working: "TASK_STATE_WORKING",
  completed: "TASK_STATE_COMPLETED",
  failed: "TASK_STATE_FAILED",
  canceled: "TASK_STATE_CANCELED",
  "input-required": "TASK_STATE_INPUT_REQUIRED",
  rejected: "TASK_STATE_REJECTED",
  "auth-required": "TASK_STATE_AUTH_REQUIRED",
};

/** A state filter as a client sends it (either version's spelling, or a number of v1.0's enum); unknown: none. */
export function readState(v: unknown): TaskState | undefined {
  if (typeof v === "number") return TASK_STATES[v - 1];
  if (typeof v !== "string") return undefined;
  if ((TASK_STATES as readonly string[]).includes(v)) return v as TaskState;
  return (Object.entries(V1_STATES).find(([, s]) => s === v)?.[0] as TaskState | undefined) ?? undefined;
}

// ---- writing, version by version ----------------------------------------------------------

function partOut(p: Part, v: Version): Obj {
  if (v === "1.0") return { ...p };
  if (p.text !== undefined) return { kind: "text", text: p.text };
  if (p.data !== undefined) return { kind: "data", data: p.data };
  const file: Obj = {};
  if (p.url !== undefined) file.uri = p.url;
  if (p.raw !== undefined) file.bytes = p.raw;
  if (p.mediaType !== undefined) file.mimeType = p.mediaType;
  if (p.filename !== undefined) file.name = p.filename;
  return { kind: "file", file };
}

export function messageOut(m: Message, v: Version): Obj {
  const out: Obj = v === "1.0" ? {} : { kind: "message" };
  out.messageId = m.messageId;
  if (m.contextId !== undefined) out.contextId = m.contextId;
  if (m.taskId !== undefined) out.taskId = m.taskId;
  out.role = v === "1.0" ? (m.role === "user" ? "ROLE_USER" : "ROLE_AGENT") : m.role;
  out.parts = m.parts.map((p) => partOut(p, v));
  return out;
}

function statusOut(s: TaskStatus, v: Version): Obj {
  return { state: v === "1.0" ? V1_STATES[s.state] : s.state, timestamp: s.timestamp, ...(s.message ? { message: messageOut(s.message, v) } : {}) };
}

const artifactOut = (a: Artifact, v: Version): Obj => ({
  artifactId: a.artifactId,
  ...(a.name !== undefined ? { name: a.name } : {}),
  parts: a.parts.map((p) => partOut(p, v)),
});

/** A task as GetTask / tasks/get answer it; `historyLength` keeps the last so many messages. */
export function taskOut(t: Task, v: Version, historyLength?: number): Obj {
  const history = historyLength === undefined ? t.history : historyLength <= 0 ? [] : t.history.slice(-historyLength);
  return {
    ...(v === "0.3" ? { kind: "task" } : {}),
    id: t.id,
    contextId: t.contextId,
    status: statusOut(t.status, v),
    artifacts: t.artifacts.map((a) => artifactOut(a, v)),
    history: history.map((m) => messageOut(m, v)),
  };
}

/** A stream's event (the `result` of its JSON-RPC response). */
export function eventOut(t: Task, e: TaskEvent, v: Version): Obj {
  if (e.kind === "status") {
    const body = { taskId: t.id, contextId: t.contextId, status: statusOut(e.status, v) };
    return v === "1.0" ? { statusUpdate: body } : { kind: "status-update", ...body, final: TERMINAL.has(e.status.state) };
  }
  const body = { taskId: t.id, contextId: t.contextId, artifact: artifactOut(e.artifact, v), append: e.append, lastChunk: e.lastChunk };
  return v === "1.0" ? { artifactUpdate: body } : { kind: "artifact-update", ...body };
}

/** The first event of a stream, and SendMessage's answer: the task. */
export const taskResult = (t: Task, v: Version): Obj => (v === "1.0" ? { task: taskOut(t, v) } : taskOut(t, v));

/** An event applied to a task (an artifact chunk with `append` adds its parts to the artifact of the same id). */
export function apply(t: Task, e: TaskEvent): void {
  if (e.kind === "status") {
    t.status = e.status;
    if (e.status.message) t.history.push(e.status.message);
    return;
  }
  const have = t.artifacts.find((a) => a.artifactId === e.artifact.artifactId);
  if (have && e.append) have.parts.push(...e.artifact.parts);
  else if (have) have.parts = [...e.artifact.parts];
  else t.artifacts.push({ ...e.artifact, parts: [...e.artifact.parts] });
}

// ---- reading what an upstream agent sent (either version) --------------------------------

function readStatus(v: unknown): TaskStatus | undefined {
  const o = obj(v);
  const state = readState(o?.state);
  if (!o || !state) return undefined;
  const s: TaskStatus = { state, timestamp: typeof o.timestamp === "string" ? o.timestamp : new Date().toISOString() };
  const m = o.message === undefined ? undefined : readMessage(o.message);
  if (m !== undefined && typeof m !== "string") s.message = m;
  return s;
}

function readArtifact(v: unknown): Artifact | undefined {
  const o = obj(v);
  if (!o || typeof o.artifactId !== "string" || !Array.isArray(o.parts)) return undefined;
  const parts = o.parts.map(readPart).filter((p): p is Part => p !== undefined);
  return { artifactId: o.artifactId, ...(typeof o.name === "string" ? { name: o.name } : {}), parts };
}

/** What an upstream's result (or stream event) is, whichever version it speaks; undefined: none of these. */
export type UpstreamResult = { task: Task; upstreamId: string } | { event: TaskEvent; upstreamId?: string } | { message: Message };

export function readUpstreamResult(v: unknown): UpstreamResult | undefined {
  const o = obj(v);
  if (!o) return undefined;
  const kind = o.kind;
  const taskObj = obj(o.task) ?? (kind === "task" ? o : undefined);
  if (taskObj) {
    const status = readStatus(taskObj.status);
    if (typeof taskObj.id !== "string" || !status) return undefined;
    const artifacts = (Array.isArray(taskObj.artifacts) ? taskObj.artifacts : []).map(readArtifact).filter((a): a is Artifact => a !== undefined);
    const history = (Array.isArray(taskObj.history) ? taskObj.history : []).map(readMessage).filter((m): m is Message => typeof m !== "string");
    return {
      upstreamId: taskObj.id,
      task: { id: taskObj.id, contextId: typeof taskObj.contextId === "string" ? taskObj.contextId : "", status, artifacts, history },
    };
  }
  // an update names its task: an agent that never sends the task itself is still known by its id
  const idOf = (u: Obj) => (typeof u.taskId === "string" && u.taskId !== "" ? { upstreamId: u.taskId } : {});
  const statusObj = obj(o.statusUpdate) ?? (kind === "status-update" ? o : undefined);
  if (statusObj) {
    const status = readStatus(statusObj.status);
    return status ? { event: { kind: "status", status }, ...idOf(statusObj) } : undefined;
  }
  const artObj = obj(o.artifactUpdate) ?? (kind === "artifact-update" ? o : undefined);
  if (artObj) {
    const artifact = readArtifact(artObj.artifact);
    return artifact
      ? { event: { kind: "artifact", artifact, append: artObj.append === true, lastChunk: artObj.lastChunk === true }, ...idOf(artObj) }
      : undefined;
  }
  const msgObj = obj(o.message) ?? (kind === "message" ? o : undefined);
  if (msgObj) {
    const m = readMessage(msgObj);
    return typeof m === "string" ? undefined : { message: m };
  }
  return undefined;
}
