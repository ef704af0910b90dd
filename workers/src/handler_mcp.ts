// MCP (2025-03-26 and neighbours) over JSON-RPC: the lifecycle and ping. Tools,
// resources and prompts are proxied to upstream servers in a later step.
import { parseJson, readRpc, type RpcRequest } from "./jsonrpc.js";
import { RpcError, rpcError, rpcErrors, rpcResult, type Reply } from "./reply.js";
import type { Handler, HandlerContext } from "./handler.js";

export const MCP_PROTOCOL_VERSION = "2025-03-26";
/** versions we answer in, newest first; a client asking for one of these gets it back */
export const MCP_SUPPORTED_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];
export const SERVER_INFO = { name: "radiant-gateway", version: "0.1.0" };

export type McpMethod = (req: RpcRequest, ctx: HandlerContext) => AsyncIterable<Reply>;

async function* initialize(req: RpcRequest): AsyncIterable<Reply> {
  const asked = req.params?.protocolVersion;
  const protocolVersion = typeof asked === "string" && MCP_SUPPORTED_VERSIONS.includes(asked) ? asked : MCP_PROTOCOL_VERSION;
  yield rpcResult(req.id, {
    protocolVersion,
    capabilities: { experimental: { "radiant/resume": {} } },
    serverInfo: SERVER_INFO,
  });
}

async function* ping(req: RpcRequest): AsyncIterable<Reply> {
  yield rpcResult(req.id, {});
}

export const mcpMethods: Record<string, McpMethod> = {
  initialize,
  ping,
};

/** notifications we accept and do not answer */
const quietNotifications = new Set(["notifications/initialized", "notifications/cancelled", "notifications/progress", "notifications/roots/list_changed"]);

async function* one(v: unknown, ctx: HandlerContext, methods: Record<string, McpMethod>): AsyncIterable<Reply> {
  const m = readRpc(v);
  if (m.kind === "response") return; // a client's answer to a server request: none are issued yet
  if (m.kind === "invalid") {
    yield rpcError(m.id, m.error.code, m.error.message);
    return;
  }
  const { req } = m;
  const method = Object.hasOwn(methods, req.method) ? methods[req.method] : undefined;
  if (!req.hasId) {
    // a notification never gets a reply, not even an error (JSON-RPC 2.0 §4.1)
    if (method === undefined && !quietNotifications.has(req.method)) ctx.log.debug({ method: req.method }, "unknown notification");
    if (method) for await (const _ of method(req, ctx));
    return;
  }
  if (!method) {
    yield rpcError(req.id, rpcErrors.methodNotFound, `Method not found: ${req.method}`);
    return;
  }
  const related = JSON.stringify(req.id);
  try {
    for await (const r of method(req, ctx)) {
      if (r.responseTo === undefined) r.relatedTo = related;
      yield r;
    }
  } catch (e) {
    if (e instanceof RpcError) yield rpcError(req.id, e.code, e.message, e.data);
    else throw e;
  }
}

export function mcpHandler(methods: Record<string, McpMethod> = mcpMethods): Handler {
  return async function* (body, ctx) {
    let v: unknown;
    try {
      v = parseJson(body);
    } catch (e) {
      yield rpcError(null, (e as RpcError).code, (e as RpcError).message);
      return;
    }
    if (Array.isArray(v)) {
      // A batch (2025-03-26). Each response is its own frame: the gateway adds
      // seq_num to objects, and JSON-RPC clients match responses by id.
      if (v.length === 0) {
        yield rpcError(null, rpcErrors.invalidRequest, "Invalid Request: empty batch");
        return;
      }
      for (const item of v) yield* one(item, ctx, methods);
      return;
    }
    yield* one(v, ctx, methods);
  };
}
