// RADIANT as one MCP server in front of many: the methods a client calls, each
// routed to the upstream server that owns the tool, prompt or resource. With
// one server, names, URIs and cursors pass through untouched; with several,
// tool and prompt names are `<server>_<name>`, cursors say which server's page
// comes next, resources go where their URI was listed (the bridge knows), and
// capabilities are the union of the servers'.
import type { McpServerConfig } from "@radiant/infra/mcp-servers";
import { readServerRequestId, type CallTarget, type RpcObject, type UpstreamOpened } from "@radiant/wire";
import type { HandlerContext } from "../handler.js";
import { MCP_PROTOCOL_VERSION, MCP_SUPPORTED_VERSIONS, SERVER_INFO, type McpCall, type McpExtras, type McpMethod } from "../handler_mcp.js";
import type { RpcRequest } from "../jsonrpc.js";
import { RpcError, rpcErrors, rpcMessage, rpcResult, type Reply } from "../reply.js";
import type { BridgeClient } from "./bridge_client.js";

const RESUME_CAPABILITY = { "radiant/resume": {} };
/** how long `initialize` waits for every upstream to open */
const OPEN_TIMEOUT_MS = 120_000;

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : {});

/**
 * A cursor of several servers' lists: the servers that have more, each with its own cursor.
 * A client that never follows cursors (many do not) still sees every server's first page.
 */
export type Pages = [server: number, cursor: string][];

export function encodeCursor(pages: Pages): string {
  return Buffer.from(JSON.stringify(pages)).toString("base64url");
}
/** a client's cursor: at most this long (an upstream's own cursors ride inside it) */
const MAX_CURSOR = 64 * 1024;

export function decodeCursor(c: unknown, servers: number): Pages | undefined {
  if (typeof c !== "string" || c.length > MAX_CURSOR) return undefined;
  try {
    const v = JSON.parse(Buffer.from(c, "base64url").toString("utf8")) as unknown;
    if (!Array.isArray(v) || v.length === 0 || v.length > servers) return undefined;
    const seen = new Set<number>();
    for (const p of v) {
      if (!Array.isArray(p) || p.length !== 2 || !Number.isInteger(p[0]) || p[0] < 0 || p[0] >= servers || typeof p[1] !== "string" || seen.has(p[0]))
        return undefined;
      seen.add(p[0]);
    }
    return v as Pages;
  } catch {
    return undefined;
  }
}

/** `<server>_<name>` → its server and its own name (server names have no `_`). */
export function splitName(prefixed: unknown, servers: readonly string[]): { server: string; name: string } | undefined {
  if (typeof prefixed !== "string") return undefined;
  const at = prefixed.indexOf("_");
  if (at <= 0) return undefined;
  const server = prefixed.slice(0, at);
  return servers.includes(server) ? { server, name: prefixed.slice(at + 1) } : undefined;
}

/** The capabilities of several servers as one: each kind any of them has, listChanged/subscribe if any has it. */
export function unionCapabilities(caps: readonly Obj[], someDown: boolean): Obj {
  const out: Obj = {};
  const flag = (kind: string, key: string) => caps.some((c) => obj(c[kind])[key] === true);
  const has = (kind: string) => someDown || caps.some((c) => c[kind] !== undefined);
  if (has("tools")) out.tools = { listChanged: true };
  if (has("prompts")) out.prompts = { listChanged: true };
  if (has("resources")) out.resources = { subscribe: someDown || flag("resources", "subscribe"), listChanged: true };
  if (has("logging")) out.logging = {};
  if (has("completions")) out.completions = {};
  return out;
}

export function federation(servers: readonly McpServerConfig[], bridge: BridgeClient): { methods: Record<string, McpMethod>; extras: McpExtras } {
  const names = servers.map((s) => s.name);
  const single = names.length === 1 ? names[0] : undefined;

  /** Run one request on one upstream: what it sends meanwhile, then its response. */
  async function* forward(req: RpcRequest, ctx: HandlerContext, call: McpCall, target: CallTarget, msg: Obj): AsyncIterable<Reply> {
    for await (const f of bridge.call({ sid: call.sid, key: call.key, target, msg: { ...msg, id: req.id } }, ctx.signal)) {
      if (f.t === "msg" || f.t === "result") yield rpcMessage(f.msg);
    }
  }

  const asMsg = (req: RpcRequest, params: Obj | undefined): Obj => ({ jsonrpc: "2.0", method: req.method, ...(params !== undefined ? { params } : {}) });

  /**
   * tools/list, prompts/list, resources/list, resources/templates/list: every server's page at once
   * (or, with a cursor, the next page of each server that has one), merged.
   */
  const list = (key: string, prefix: boolean): McpMethod =>
    async function* (req, ctx, call) {
      if (single) return yield* forward(req, ctx, call, { server: single }, asMsg(req, req.params));
      const asked = req.params?.cursor;
      const pages: [number, string | undefined][] | undefined = asked === undefined ? names.map((_, i) => [i, undefined]) : decodeCursor(asked, names.length);
      if (!pages) throw new RpcError(rpcErrors.invalidParams, "Invalid params: unknown cursor");
      const got = await Promise.all(
        pages.map(async ([i, cursor]) => {
          const server = names[i]!;
          const params: Obj = { ...obj(req.params) };
          if (cursor === undefined) delete params.cursor;
          else params.cursor = cursor;
          const notes: Reply[] = [];
          try {
            for await (const f of bridge.call(
              { sid: call.sid, key: `${call.key}.${i}`, target: { server }, msg: { ...asMsg(req, params), id: req.id } },
              ctx.signal,
            )) {
              if (f.t === "msg") notes.push(rpcMessage(f.msg));
              else if (f.t === "result") return { i, server, notes, msg: f.msg, error: undefined };
            }
            return { i, server, notes, msg: undefined, error: undefined };
          } catch (e) {
            if (!(e instanceof RpcError)) throw e;
            return { i, server, notes, msg: undefined, error: e };
          }
        }),
      );
      const items: unknown[] = [];
      const more: Pages = [];
      for (const g of got) {
        yield* g.notes;
        const result = g.msg?.result as Obj | undefined;
        if (!result || g.msg?.error !== undefined) {
          // a server that is down (or refuses) leaves a gap in the list, not an error: the others keep working
          ctx.log.warn({ server: g.server, err: g.error?.message ?? JSON.stringify(g.msg?.error) }, "MCP server left out of a list");
          continue;
        }
        const list = Array.isArray(result[key]) ? (result[key] as unknown[]) : [];
        for (const x of list) items.push(prefix ? { ...obj(x), name: `${g.server}_${String(obj(x).name)}` } : x);
        if (typeof result.nextCursor === "string") more.push([g.i, result.nextCursor]);
      }
      const failed = got.filter((g) => g.error);
      if (failed.length === got.length && failed[0]?.error) throw failed[0].error;
      yield rpcResult(req.id, { [key]: items, ...(more.length > 0 ? { nextCursor: encodeCursor(more) } : {}) });
    };

  /** tools/call, prompts/get: the server named by the prefix, its own name restored. */
  const byName: McpMethod = async function* (req, ctx, call) {
    if (single) return yield* forward(req, ctx, call, { server: single }, asMsg(req, req.params));
    const at = splitName(req.params?.name, names);
    if (!at)
      throw new RpcError(rpcErrors.invalidParams, `Invalid params: unknown ${req.method === "tools/call" ? "tool" : "prompt"}: ${String(req.params?.name)}`);
    yield* forward(req, ctx, call, { server: at.server }, asMsg(req, { ...req.params, name: at.name }));
  };

  /** resources/read, subscribe, unsubscribe: wherever the URI was listed. */
  const byUri: McpMethod = async function* (req, ctx, call) {
    if (single) return yield* forward(req, ctx, call, { server: single }, asMsg(req, req.params));
    const uri = req.params?.uri;
    if (typeof uri !== "string") throw new RpcError(rpcErrors.invalidParams, 'Invalid params: "uri" must be a string');
    yield* forward(req, ctx, call, { uri }, asMsg(req, req.params));
  };

  const complete: McpMethod = async function* (req, ctx, call) {
    if (single) return yield* forward(req, ctx, call, { server: single }, asMsg(req, req.params));
    const ref = obj(req.params?.ref);
    if (ref.type === "ref/resource" && typeof ref.uri === "string") return yield* forward(req, ctx, call, { uri: ref.uri }, asMsg(req, req.params));
    const at = splitName(ref.name, names);
    if (ref.type !== "ref/prompt" || !at) throw new RpcError(rpcErrors.invalidParams, "Invalid params: unknown completion reference");
    yield* forward(req, ctx, call, { server: at.server }, asMsg(req, { ...req.params, ref: { ...ref, name: at.name } }));
  };

  /** logging/setLevel: every server (that logs) gets it. */
  const setLevel: McpMethod = async function* (req, ctx, call) {
    if (single) return yield* forward(req, ctx, call, { server: single }, asMsg(req, req.params));
    let ok = 0;
    let last: RpcError | undefined;
    for (const [i, server] of names.entries()) {
      try {
        for await (const r of forward(req, ctx, { sid: call.sid, key: `${call.key}.${i}` }, { server }, asMsg(req, req.params))) if (!r.response) yield r;
        ok++;
      } catch (e) {
        if (!(e instanceof RpcError)) throw e;
        last = e;
      }
    }
    if (ok === 0 && last) throw last;
    yield rpcResult(req.id, {});
  };

  const initialize: McpMethod = async function* (req, _ctx, call) {
    const params = obj(req.params);
    const opened = await bridge.open(call.sid, params, OPEN_TIMEOUT_MS);
    yield rpcResult(req.id, initializeResult(params, opened.upstreams, single !== undefined));
  };

  const passOn: McpMethod = async function* (req, ctx, call) {
    if (single) return yield* forward(req, ctx, call, { server: single }, asMsg(req, req.params));
    throw new RpcError(rpcErrors.methodNotFound, `Method not found: ${req.method}`);
  };

  const rootsChanged: McpMethod = async function* (req, _ctx, call) {
    bridge.notify(call.sid, asMsg(req, req.params));
  };

  return {
    methods: {
      initialize,
      "tools/list": list("tools", true),
      "tools/call": byName,
      "prompts/list": list("prompts", true),
      "prompts/get": byName,
      "resources/list": list("resources", false),
      "resources/templates/list": list("resourceTemplates", false),
      "resources/read": byUri,
      "resources/subscribe": byUri,
      "resources/unsubscribe": byUri,
      "completion/complete": complete,
      "logging/setLevel": setLevel,
      "notifications/roots/list_changed": rootsChanged,
    },
    extras: {
      fallback: passOn,
      onResponse: (msg, call) => {
        if (readServerRequestId(msg.id)) bridge.respond(call.sid, msg as RpcObject);
      },
    },
  };
}

/** What the client is told at `initialize`: one server's own answer, or the union of several. */
export function initializeResult(params: Obj, ups: readonly UpstreamOpened[], single: boolean): Obj {
  const first = ups[0];
  if (single && first?.ok) {
    const caps = obj(first.result.capabilities);
    return { ...first.result, capabilities: { ...caps, experimental: { ...obj(caps.experimental), ...RESUME_CAPABILITY } } };
  }
  const asked = params.protocolVersion;
  const protocolVersion = typeof asked === "string" && MCP_SUPPORTED_VERSIONS.includes(asked) ? asked : MCP_PROTOCOL_VERSION;
  const up = ups.filter((u): u is Extract<UpstreamOpened, { ok: true }> => u.ok);
  const instructions = up
    .map((u) => (typeof u.result.instructions === "string" && u.result.instructions !== "" ? `${u.server}: ${u.result.instructions}` : ""))
    .filter((s) => s !== "")
    .join("\n\n");
  return {
    protocolVersion,
    capabilities: {
      ...unionCapabilities(
        up.map((u) => obj(u.result.capabilities)),
        up.length < ups.length,
      ),
      experimental: RESUME_CAPABILITY,
    },
    serverInfo: SERVER_INFO,
    ...(instructions !== "" ? { instructions } : {}),
  };
}
