// Telling the protocols apart on a socket (docs/protocols.md): there is no URL,
// so the subprotocol decides first, then the frame's top-level keys, then a
// few byte patterns, then the configured default for LLM bodies.
import type { Protocol } from "@radiant/wire";
import { Key, type Peek } from "./peek.js";

/**
 * How frames look to a client: "json" splices seq_num/resume_token in front,
 * "mcp" is strict JSON-RPC with seq in `_meta`, "plain" is the stored bytes as
 * they are (MCP Streamable HTTP: the SSE event id carries the seq).
 */
export type Framing = "json" | "mcp" | "plain";

const bytes = (s: string) => Buffer.from(s, "latin1");
const A2A_METHOD_PREFIXES = ["message/", "tasks/resubscribe", "tasks/pushNotificationConfig/", "agent/"].map(bytes);
/** A2A v1.0's methods: PascalCase, never an MCP method */
const A2A_V1_METHODS = [
  "SendMessage",
  "SendStreamingMessage",
  "GetTask",
  "ListTasks",
  "CancelTask",
  "SubscribeToTask",
  "CreateTaskPushNotificationConfig",
  "GetTaskPushNotificationConfig",
  "ListTaskPushNotificationConfigs",
  "DeleteTaskPushNotificationConfig",
  "GetExtendedAgentCard",
].map(bytes);
/** in both A2A and MCP 2025-11-25; MCP's params carry `taskId`, A2A's `id` */
const SHARED_TASK_METHODS = ["tasks/get", "tasks/cancel"].map(bytes);
const TASK_ID = bytes('"taskId"');
const ANTHROPIC_HINTS = ['"input_schema"', '"tool_use"', '"tool_result"', '"media_type"'].map(bytes);
const OPENAI_HINTS = ['"developer"', '"tool_calls"', '"function"', '"image_url"', '"system"', '"tool"'].map(bytes);

function startsWith(b: Buffer, start: number, end: number, prefix: Buffer): boolean {
  return end - start >= prefix.length && b.compare(prefix, 0, prefix.length, start, start + prefix.length) === 0;
}

function equals(b: Buffer, start: number, end: number, word: Buffer): boolean {
  return end - start === word.length && b.compare(word, 0, word.length, start, end) === 0;
}

function jsonRpcProtocol(b: Buffer, p: Peek): Protocol {
  const s = p.methodStart;
  const e = p.methodEnd;
  if (s < 0) return "mcp"; // a response or an invalid message: MCP clients answer server requests
  if (A2A_METHOD_PREFIXES.some((x) => startsWith(b, s, e, x))) return "a2a";
  // v1.0's names are the only ones that start with a capital: an MCP frame never pays for the list
  if (b[s] !== undefined && b[s] >= 0x41 && b[s] <= 0x5a && A2A_V1_METHODS.some((x) => equals(b, s, e, x))) return "a2a";
  if (SHARED_TASK_METHODS.some((x) => equals(b, s, e, x))) {
    const hasTaskId = p.paramsStart >= 0 && b.subarray(p.paramsStart, p.paramsEnd).indexOf(TASK_ID) >= 0;
    return hasTaskId ? "mcp" : "a2a";
  }
  return "mcp";
}

function llmProtocol(b: Buffer, p: Peek, dflt: Protocol): Protocol {
  if (p.has(Key.system) || p.has(Key.stop_sequences) || p.has(Key.top_k)) return "anthropic";
  if (p.has(Key.stream_options) || p.has(Key.n) || p.has(Key.max_completion_tokens) || p.has(Key.response_format)) return "openai";
  if (ANTHROPIC_HINTS.some((h) => b.indexOf(h) >= 0)) return "anthropic";
  if (OPENAI_HINTS.some((h) => b.indexOf(h) >= 0)) return "openai";
  return dflt;
}

/**
 * The protocol of a frame already peeked at (`p.ok`), or undefined when it
 * matches none. On the `mcp` subprotocol every frame is MCP.
 */
export function detectProtocol(b: Buffer, p: Peek, framing: Framing, defaultLlm: Protocol): Protocol | undefined {
  if (framing !== "json" || p.array) return "mcp";
  if (p.has(Key.jsonrpc)) return jsonRpcProtocol(b, p);
  if (p.has(Key.contents)) return "google";
  if (p.has(Key.messages)) return llmProtocol(b, p, defaultLlm);
  if (p.has(Key.input) && p.has(Key.model)) return "openai"; // the Responses API
  return undefined;
}
