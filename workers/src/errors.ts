// Replies for requests the handler itself could not answer, in the request's protocol.
import { protocolErrorJson, type ErrorKind } from "@radiant/infra/errors";
import type { Protocol } from "@radiant/infra/wire";
import { parseJson, readRpc } from "./jsonrpc.js";
import type { JsonRpcId, Reply } from "./reply.js";

/** The first JSON-RPC request id in a frame (a batch's first), or null. */
function firstRpcId(body: Uint8Array): JsonRpcId {
  try {
    const v = parseJson(body);
    for (const item of Array.isArray(v) ? v : [v]) {
      const m = readRpc(item);
      if (m.kind === "request" && m.req.hasId) return m.req.id;
      if (m.kind === "invalid") return m.id;
    }
  } catch {
    // not JSON: the id is null
  }
  return null;
}

export function protocolError(proto: Protocol, kind: ErrorKind, message: string, body: Uint8Array): Reply {
  const idJson = proto === "mcp" || proto === "a2a" ? JSON.stringify(firstRpcId(body)) : "null";
  return { body: Buffer.from(protocolErrorJson(proto, kind, message, idJson)) };
}

/** The reply for a request that could not be handled. */
export function errorReply(proto: Protocol, body: Uint8Array, reason: string): Reply {
  return protocolError(proto, "internal", `Internal error: ${reason}`, body);
}
