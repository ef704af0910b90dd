// Reading JSON-RPC 2.0 messages from a client frame (MCP and A2A share it).
import { RpcError, rpcErrors, type JsonRpcId } from "./reply.js";

export interface RpcRequest {
  id: JsonRpcId;
  /** false for notifications: they get no reply */
  hasId: boolean;
  method: string;
  params: Record<string, unknown> | undefined;
}

export type RpcMessage = { kind: "request"; req: RpcRequest } | { kind: "response"; id: JsonRpcId } | { kind: "invalid"; id: JsonRpcId; error: RpcError };

function validId(v: unknown): v is JsonRpcId {
  return typeof v === "string" || (typeof v === "number" && Number.isFinite(v)) || v === null;
}

/** Parse bytes into JSON; a JSON-RPC parse error if they are not JSON. */
export function parseJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8"));
  } catch {
    throw new RpcError(rpcErrors.parse, "Parse error: the frame is not valid JSON");
  }
}

export function readRpc(v: unknown): RpcMessage {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    return { kind: "invalid", id: null, error: new RpcError(rpcErrors.invalidRequest, "Invalid Request: not a JSON-RPC object") };
  }
  const o = v as Record<string, unknown>;
  const id = validId(o.id) ? o.id : null;
  if (o.jsonrpc !== "2.0") {
    return { kind: "invalid", id, error: new RpcError(rpcErrors.invalidRequest, 'Invalid Request: "jsonrpc" must be "2.0"') };
  }
  if ("id" in o && !validId(o.id)) {
    return { kind: "invalid", id: null, error: new RpcError(rpcErrors.invalidRequest, 'Invalid Request: "id" must be a string, a number or null') };
  }
  if (typeof o.method !== "string") {
    if ("result" in o || "error" in o) return { kind: "response", id };
    return { kind: "invalid", id, error: new RpcError(rpcErrors.invalidRequest, 'Invalid Request: "method" must be a string') };
  }
  if (o.params !== undefined && (typeof o.params !== "object" || o.params === null || Array.isArray(o.params))) {
    return { kind: "invalid", id, error: new RpcError(rpcErrors.invalidParams, 'Invalid params: "params" must be an object') };
  }
  return {
    kind: "request",
    req: { id, hasId: "id" in o, method: o.method, params: o.params as Record<string, unknown> | undefined },
  };
}
