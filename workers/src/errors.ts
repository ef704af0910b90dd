// Replies for requests the handler itself could not answer, in the request's
// protocol: JSON-RPC protocols get one error per request id of the frame (so no
// caller waits in vain), LLM protocols their own error body.
import { errorStatus, protocolErrorJson, type ErrorKind, type Protocol } from "@radiant/wire";
import { parseJson, readRpc } from "./jsonrpc.js";
import type { JsonRpcId, Reply } from "./reply.js";

export const isJsonRpc = (proto: Protocol): boolean => proto === "mcp" || proto === "a2a";

/** The JSON-RPC request ids in a frame (each of a batch's), or [null] when there is none. */
export function rpcIds(body: Uint8Array): JsonRpcId[] {
  const ids: JsonRpcId[] = [];
  try {
    const v = parseJson(body);
    for (const item of Array.isArray(v) ? v : [v]) {
      const m = readRpc(item);
      if (m.kind === "request" && m.req.hasId) ids.push(m.req.id);
      else if (m.kind === "invalid") ids.push(m.id);
    }
  } catch {
    // not JSON: the id is null
  }
  return ids.length > 0 ? ids : [null];
}

/** The error replies for a frame: one per request id for JSON-RPC, one body otherwise; the last is marked `last`. */
export function errorReplies(proto: Protocol, body: Uint8Array, kind: ErrorKind, message: string): Reply[] {
  const rpc = isJsonRpc(proto);
  const ids = rpc ? rpcIds(body) : [null];
  return ids.map((id, i) => ({
    body: Buffer.from(protocolErrorJson(proto, kind, message, JSON.stringify(id))),
    // an LLM API answers an error with its status (a plain HTTP response begins with the first message's head);
    // Anthropic's stream names its error event
    ...(rpc ? { response: true } : { head: { status: errorStatus(kind), stream: false } }),
    ...(proto === "anthropic" ? { event: "error" } : {}),
    ...(i === ids.length - 1 ? { last: true } : {}),
  }));
}

/** The replies for a request that could not be handled at all (nothing of its answer was stored). */
export function internalErrorReplies(proto: Protocol, body: Uint8Array, reason: string): Reply[] {
  return errorReplies(proto, body, "internal", `Internal error: ${reason}`);
}

/** The text of the error that ends an answer cut short after part of it was stored. */
export const interruptedMessage = (reason: string): string => `Internal error: the answer was interrupted (${reason}); what arrived before this is incomplete`;

/** The replies that end an answer cut short: what was stored stays, this says it is incomplete. */
export function interruptedReplies(proto: Protocol, body: Uint8Array, reason: string): Reply[] {
  return errorReplies(proto, body, "internal", interruptedMessage(reason));
}

/** The replies that end an LLM answer its client cancelled (or left): what was stored stays, this says it stops there. */
export function cancelledReplies(proto: Protocol, body: Uint8Array, reason: string): Reply[] {
  return errorReplies(proto, body, "internal", `The answer was cancelled (${reason}); what arrived before this is incomplete`);
}
