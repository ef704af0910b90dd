// Encoding replies as the bytes a client will receive, with the `_meta` slot
// the gateway uses for the `mcp` framing (see @radiant/wire reply.ts).
import type { MetaSlot, ResponseHead } from "@radiant/wire";

/** One frame a handler produces: the JSON text the client will see, and what the gateway needs to know about it. */
export interface Reply {
  body: Buffer;
  /** `mcp` framing: where `"_meta":{"radiant/seq_num":N}` may be spliced (results and notification params) */
  slot?: MetaSlot;
  /** a JSON-RPC response (the answer, not something sent while working on it) */
  response?: boolean;
  /** the SSE event name the protocol needs (Anthropic's `event:` lines) */
  event?: string;
  /** the last frame of the request's reply: the message holding it carries End */
  last?: boolean;
  /** on the first frame of a reply to a plain HTTP request: how the response begins (status, stream or JSON) */
  head?: ResponseHead;
}

export type JsonRpcId = string | number | null;

/** JSON-RPC error codes: the standard ones. */
export const rpcErrors = {
  parse: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internal: -32603,
} as const;

const bytes = (s: string): number => Buffer.byteLength(s);

/** An object serialised so that a `_meta` can be spliced in: `_meta` (if any) goes first. */
function withMetaFirst(prefix: string, obj: Record<string, unknown>, suffix: string): Reply {
  const { _meta, ...rest } = obj;
  if (_meta !== undefined && typeof _meta === "object" && _meta !== null && !Array.isArray(_meta)) {
    const json = JSON.stringify({ _meta, ...rest });
    return { body: Buffer.from(prefix + json + suffix), slot: { offset: bytes(prefix) + '{"_meta":{'.length, inMeta: true } };
  }
  return { body: Buffer.from(prefix + JSON.stringify(rest) + suffix), slot: { offset: bytes(prefix) + 1, inMeta: false } };
}

export function rpcResult(id: JsonRpcId, result: Record<string, unknown>): Reply {
  return { ...withMetaFirst(`{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":`, result, "}"), response: true };
}

/** A result that may be any JSON value (A2A answers some methods with null or an array): an object keeps its `_meta` slot. */
export function rpcAnyResult(id: JsonRpcId, result: unknown): Reply {
  if (typeof result === "object" && result !== null && !Array.isArray(result)) return rpcResult(id, result as Record<string, unknown>);
  return { body: Buffer.from(`{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${JSON.stringify(result ?? null)}}`), response: true };
}

export function rpcNotification(method: string, params: Record<string, unknown>): Reply {
  return withMetaFirst(`{"jsonrpc":"2.0","method":${JSON.stringify(method)},"params":`, params, "}");
}

export function rpcError(id: JsonRpcId, code: number, message: string, data?: unknown): Reply {
  const error = data === undefined ? { code, message } : { code, message, data };
  return { body: Buffer.from(JSON.stringify({ jsonrpc: "2.0", id, error })), response: true };
}

/** A request handler found the request at fault: answer with this error, do not retry. */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

/**
 * Any JSON-RPC message an upstream sent (a notification, a server→client request, a response),
 * serialised with the `_meta` slot where the `mcp` framing splices the position: in `params`
 * (made `{}` when absent: an empty params object means the same) or in `result`.
 */
export function rpcMessage(msg: Record<string, unknown>): Reply {
  if (typeof msg.method === "string") {
    const id = "id" in msg ? `"id":${JSON.stringify(msg.id)},` : "";
    const params = typeof msg.params === "object" && msg.params !== null && !Array.isArray(msg.params) ? (msg.params as Record<string, unknown>) : {};
    return withMetaFirst(`{"jsonrpc":"2.0",${id}"method":${JSON.stringify(msg.method)},"params":`, params, "}");
  }
  const id = (msg.id ?? null) as JsonRpcId;
  if (typeof msg.result === "object" && msg.result !== null && !Array.isArray(msg.result)) return rpcResult(id, msg.result as Record<string, unknown>);
  const e = (msg.error ?? {}) as { code?: unknown; message?: unknown; data?: unknown };
  return rpcError(id, typeof e.code === "number" ? e.code : rpcErrors.internal, typeof e.message === "string" ? e.message : "Internal error", e.data);
}
