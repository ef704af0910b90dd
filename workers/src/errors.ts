// Replies for requests the handler itself could not answer, in the request's protocol.
import { protocolErrorJson, type ErrorKind } from "@radiant/infra/errors";
import type { Protocol } from "@radiant/infra/wire";
import { parseJson, readRpc } from "./jsonrpc.js";
import type { JsonRpcId, Reply } from "./reply.js";

/** The JSON-RPC request ids in a frame (each of a batch's), or [null] when there is none. */
function rpcIds(body: Uint8Array): JsonRpcId[] {
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

function errorFor(proto: Protocol, kind: ErrorKind, message: string, id: JsonRpcId): Reply {
  const idJson = JSON.stringify(id);
  return { body: Buffer.from(protocolErrorJson(proto, kind, message, idJson)), ...(id !== null ? { responseTo: idJson } : {}) };
}

/** One error reply for a frame (the first request id of a batch names it). */
export function protocolError(proto: Protocol, kind: ErrorKind, message: string, body: Uint8Array): Reply {
  const rpc = proto === "mcp" || proto === "a2a";
  return errorFor(proto, kind, message, rpc ? rpcIds(body)[0]! : null);
}

/** The replies for a request that could not be handled: one error per request id, so no caller waits in vain. */
export function errorReplies(proto: Protocol, body: Uint8Array, reason: string): Reply[] {
  const message = `Internal error: ${reason}`;
  if (proto !== "mcp" && proto !== "a2a") return [errorFor(proto, "internal", message, null)];
  return rpcIds(body).map((id) => errorFor(proto, "internal", message, id));
}
