// MCP (2025-03-26 and neighbours) over JSON-RPC: the framing (batches, notifications,
// responses), the lifecycle, ping and cancellation. With MCP servers configured,
// federation.ts adds every other method (the bridge reaches the servers).
import { rpcRequestId, type SessionId } from "@radiant/wire";
import { parseJson, readRpc, type RpcRequest } from "./jsonrpc.js";
import { RpcError, rpcError, rpcErrors, rpcResult, type Reply } from "./reply.js";
import type { Handler, HandlerContext } from "./handler.js";

export const MCP_PROTOCOL_VERSION = "2025-03-26";
/** versions we answer in, newest first; a client asking for one of these gets it back */
export const MCP_SUPPORTED_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];
export const SERVER_INFO = { name: "radiant-gateway", version: "0.1.0" };

/** Which request of which session a method runs for: `key` is unique to it within the session (a batch's items differ). */
export interface McpCall {
  sid: SessionId;
  key: string;
}

/** A method: its replies (notifications while it works, then its response). It should stop when ctx.signal fires. */
export type McpMethod = (req: RpcRequest, ctx: HandlerContext, call: McpCall) => AsyncIterable<Reply>;

/** What a handler does beside its methods. */
export interface McpExtras {
  /** a method no entry names (federation: a single upstream takes it) */
  fallback?: McpMethod;
  /** a JSON-RPC response from the client: its answer to a request the server sent it */
  onResponse?(msg: Record<string, unknown>, call: McpCall): void;
}

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

/** `notifications/cancelled` {requestId}: stop that request of the session wherever it runs. */
async function* cancelled(req: RpcRequest, ctx: HandlerContext): AsyncIterable<Reply> {
  const id = req.params?.requestId;
  if ((typeof id === "string" || (typeof id === "number" && Number.isFinite(id))) && req.hasId === false) {
    ctx.cancelRequest(rpcRequestId(JSON.stringify(id)));
  }
}

export const mcpMethods: Record<string, McpMethod> = {
  initialize,
  ping,
  "notifications/cancelled": cancelled,
};

/** notifications we accept and do not answer */
const quietNotifications = new Set(["notifications/initialized", "notifications/progress", "notifications/roots/list_changed"]);

/** Whether a batch item will be answered (a request with an id, or something invalid). */
function answered(v: unknown): boolean {
  const m = readRpc(v);
  return m.kind === "invalid" || (m.kind === "request" && m.req.hasId);
}

/** One JSON-RPC message's replies; its response is marked `last` when `final`. */
async function* one(
  v: unknown,
  ctx: HandlerContext,
  methods: Record<string, McpMethod>,
  extras: McpExtras,
  final: boolean,
  call: McpCall,
): AsyncIterable<Reply> {
  const end = (r: Reply): Reply => (final && r.response ? { ...r, last: true } : r);
  const m = readRpc(v);
  if (m.kind === "response") {
    extras.onResponse?.(v as Record<string, unknown>, call);
    return;
  }
  if (m.kind === "invalid") {
    yield end(rpcError(m.id, m.error.code, m.error.message));
    return;
  }
  const { req } = m;
  const method = Object.hasOwn(methods, req.method) ? methods[req.method] : req.method.startsWith("notifications/") ? undefined : extras.fallback;
  if (!req.hasId) {
    // a notification never gets a reply, not even an error (JSON-RPC 2.0 §4.1); a request without an id
    // (MCP requires one) is not run: nobody could have its answer
    if (method === undefined || !req.method.startsWith("notifications/")) {
      if (!quietNotifications.has(req.method)) ctx.log.debug({ method: req.method }, "notification not handled");
      return;
    }
    try {
      for await (const _ of method(req, ctx, call));
    } catch (e) {
      ctx.log.debug({ method: req.method, err: String(e) }, "notification failed");
    }
    return;
  }
  if (!method) {
    yield end(rpcError(req.id, rpcErrors.methodNotFound, `Method not found: ${req.method}`));
    return;
  }
  try {
    for await (const r of method(req, ctx, call)) yield end(r);
  } catch (e) {
    if (e instanceof RpcError) yield end(rpcError(req.id, e.code, e.message, e.data));
    else throw e;
  }
}

export function mcpHandler(methods: Record<string, McpMethod> = mcpMethods, extras: McpExtras = {}): Handler<"mcp"> {
  return async function* (req, ctx) {
    const callOf = (item: unknown): McpCall => {
      const id = (item as { id?: unknown } | null)?.id;
      return { sid: req.sid, key: id === undefined ? req.rid : `${req.rid}.${JSON.stringify(id)}` };
    };
    let v: unknown;
    try {
      v = parseJson(req.body);
    } catch (e) {
      yield { ...rpcError(null, (e as RpcError).code, (e as RpcError).message), last: true };
      return;
    }
    if (Array.isArray(v)) {
      // A batch (2025-03-26). Each response is its own frame: the gateway adds
      // seq_num to objects, and JSON-RPC clients match responses by id. The
      // last item that gets a response ends the reply.
      if (v.length === 0) {
        yield { ...rpcError(null, rpcErrors.invalidRequest, "Invalid Request: empty batch"), last: true };
        return;
      }
      let lastAnswered = -1;
      v.forEach((item, i) => {
        if (answered(item)) lastAnswered = i;
      });
      for (let i = 0; i < v.length && !ctx.signal.aborted; i++) yield* one(v[i], ctx, methods, extras, i === lastAnswered, callOf(v[i]));
      return;
    }
    yield* one(v, ctx, methods, extras, true, { sid: req.sid, key: req.rid });
  };
}
