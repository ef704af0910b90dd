// Encoding replies as the bytes a client will receive, with the `_meta` slot
// the gateway uses for the `mcp` framing (see wire.ts, MetaSlot).
import type { MetaSlot } from "@radiant/infra/wire";

export interface Reply {
  body: Buffer;
  metaSlot?: MetaSlot;
  /** the id (as JSON) of the request this reply answers: HTTP transports route it to the request's own stream */
  responseTo?: string;
  /** the id (as JSON) of the request a handler sent this message while working on */
  relatedTo?: string;
}

export type JsonRpcId = string | number | null;

/** JSON-RPC error codes: the standard ones and MCP's/A2A's. */
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
  if (_meta !== undefined && typeof _meta === "object" && _meta !== null) {
    const json = JSON.stringify({ _meta, ...rest });
    return { body: Buffer.from(prefix + json + suffix), metaSlot: { offset: bytes(prefix) + '{"_meta":{'.length, inMeta: true } };
  }
  return { body: Buffer.from(prefix + JSON.stringify(rest) + suffix), metaSlot: { offset: bytes(prefix) + 1, inMeta: false } };
}

/** the reply-routing id of a response: none for id null (nobody can be waiting for it) */
const answering = (id: JsonRpcId): string | undefined => (id === null ? undefined : JSON.stringify(id));

export function rpcResult(id: JsonRpcId, result: Record<string, unknown>): Reply {
  return { ...withMetaFirst(`{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":`, result, "}"), responseTo: answering(id) };
}

export function rpcNotification(method: string, params: Record<string, unknown>): Reply {
  return withMetaFirst(`{"jsonrpc":"2.0","method":${JSON.stringify(method)},"params":`, params, "}");
}

export function rpcError(id: JsonRpcId, code: number, message: string, data?: unknown): Reply {
  const error = data === undefined ? { code, message } : { code, message, data };
  return { body: Buffer.from(JSON.stringify({ jsonrpc: "2.0", id, error })), responseTo: answering(id) };
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
