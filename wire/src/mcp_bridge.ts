// The MCP bridge's contract: how workers reach the upstream MCP sessions the
// bridge owns. Core NATS, JSON bodies (the bridge is not on the gateway's hot
// path: a worker parses an MCP request anyway). The bridge holds one upstream
// session per (client session, upstream server); workers hold nothing.
//
// - open (request/reply): the client's `initialize` params → each upstream's
//   InitializeResult, or why it is down.
// - call (request with a reply inbox, answered by a stream): one JSON-RPC
//   request for one upstream; the bridge sends `msg` frames (notifications and
//   server→client requests that belong to the call), `alive` while it waits,
//   then `result` (the upstream's response, with the client's id) or `fail`.
//   A call is keyed by (session, request id): the same key again while it runs
//   (a worker died, its INBOX message was delivered to another) attaches to it.
// - cancel / respond / notify (publish): stop a call; the client's answer to a
//   server→client request; a client notification for every upstream.
import { isSessionId, type SessionId } from "./session_id.js";

export const mcpBridgeSubjects = {
  open: "mcpb.open",
  call: "mcpb.call",
  cancel: "mcpb.cancel",
  respond: "mcpb.respond",
  notify: "mcpb.notify",
} as const;
/** every bridge process serves the same subjects in this queue group */
export const MCP_BRIDGE_QUEUE = "radiant-mcp-bridge";
/** the bridge's store of upstream sessions (a NATS KV bucket) */
export const MCP_SESSIONS_BUCKET = "MCP_SESSIONS";
/** while a call waits, the bridge says so this often; a worker that hears nothing for 3× this gives up on the bridge */
export const MCP_ALIVE_MS = 5000;

/** The JSON-RPC error codes of federation (MCP leaves -32000…-32099 to servers); `data.server` names the upstream. */
export const mcpGatewayErrors = {
  /** the upstream cannot be reached, exited, or refused the session */
  unavailable: -32010,
  /** the upstream did not answer within its timeoutMs */
  timeout: -32011,
  /** the upstream's answer is larger than a message may be */
  tooLarge: -32012,
  /** the MCP bridge itself is not running */
  noBridge: -32013,
  /** MCP's own: a resource URI no server lists */
  resourceNotFound: -32002,
} as const;

/** A JSON-RPC message as parsed JSON (validated where it is used). */
export type RpcObject = Record<string, unknown>;

/** Where a call goes: a configured server by name, or the one whose resources hold `uri`. */
export type CallTarget = { server: string } | { uri: string };

export interface OpenRequest {
  sid: SessionId;
  /** the client's InitializeRequest params */
  params: RpcObject;
}
export type UpstreamOpened = { server: string; ok: true; result: RpcObject } | { server: string; ok: false; error: string };
export interface OpenReply {
  upstreams: UpstreamOpened[];
}

export interface CallRequest {
  sid: SessionId;
  /** the request id the gateway gave the client's frame: the call's key */
  key: string;
  target: CallTarget;
  /** the client's JSON-RPC request (its id is restored on the result) */
  msg: RpcObject;
}
export type CallFrame =
  | { t: "msg"; msg: RpcObject }
  | { t: "alive" }
  | { t: "result"; server: string; msg: RpcObject }
  | { t: "fail"; code: number; message: string; server?: string };

export interface CancelRequest {
  sid: SessionId;
  key: string;
}
export interface RespondRequest {
  sid: SessionId;
  /** the response as the client sent it: its id is the bridge's (serverRequestId) */
  msg: RpcObject;
}
export interface NotifyRequest {
  sid: SessionId;
  msg: RpcObject;
}

// ---- server→client request ids ----------------------------------------------------
// An upstream's request to the client gets an id that names the upstream and
// its own id, so the client's answer finds its way back from any worker:
// `<server>:<the upstream's id as JSON>`.
export function serverRequestId(server: string, upstreamId: string | number): string {
  return `${server}:${JSON.stringify(upstreamId)}`;
}

export function readServerRequestId(id: unknown): { server: string; upstreamId: string | number } | undefined {
  if (typeof id !== "string") return undefined;
  const at = id.indexOf(":");
  if (at <= 0) return undefined;
  let upstreamId: unknown;
  try {
    upstreamId = JSON.parse(id.slice(at + 1));
  } catch {
    return undefined;
  }
  if (typeof upstreamId !== "string" && !(typeof upstreamId === "number" && Number.isFinite(upstreamId))) return undefined;
  return { server: id.slice(0, at), upstreamId };
}

/** A body of one of the bridge's requests, parsed and checked (the session id above all: it names a KV key). */
export function readBridgeBody<T extends { sid: SessionId }>(data: Uint8Array): T | undefined {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
  return isSessionId((v as { sid?: unknown }).sid) ? (v as T) : undefined;
}

export function encodeBridge(v: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(v));
}
