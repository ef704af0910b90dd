// One upstream MCP session: the bridge's end of one (client session, server)
// pair, over the SDK's client transports (stdio, Streamable HTTP, or the older
// HTTP+SSE when a server only speaks that). It owns the upstream's request ids:
// the client's requests go out under ids of its own, so a re-run, a cancel and
// a timeout each name exactly one upstream request.
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { Log } from "@radiant/infra/log";
import type { McpServerConfig } from "@radiant/infra/mcp-servers";
import { mcpGatewayErrors, type RpcObject } from "@radiant/wire";

/** Why a request to an upstream did not get its answer: the message names the server. */
export class UpstreamError extends Error {
  constructor(
    readonly server: string,
    readonly code: number,
    message: string,
    /** the server no longer knows the session (404): a fresh one may be opened and the request made again */
    readonly expired = false,
  ) {
    super(message);
  }
}

/** The HTTP status of an SDK transport's failure, if it was one. */
function httpStatus(e: unknown): number {
  const c = e instanceof StreamableHTTPError ? e : (e as { cause?: unknown } | null)?.cause;
  return c instanceof StreamableHTTPError ? (c.code ?? 0) : 0;
}
/** what the spec's backwards compatibility reads as "this server speaks the older HTTP+SSE": not an auth or rate answer */
const LEGACY_STATUSES = new Set([400, 404, 405]);
/** Starting a server (a process, `npx` fetching a package) takes longer than answering: at least this long for an open. */
const MIN_OPEN_TIMEOUT_MS = 30_000;
export const openTimeoutMs = (timeoutMs: number): number => Math.max(timeoutMs, MIN_OPEN_TIMEOUT_MS);
/** how long a DELETE of an upstream session may take: nobody waits for its answer */
const DELETE_TIMEOUT_MS = 5000;

export const bridgeErrors = mcpGatewayErrors;

/** What an upstream sends that belongs to no request of ours, or to one we route ourselves. */
export interface UpstreamEvents {
  /** a notification or a server→client request; `call` when it belongs to one request in flight */
  message(u: Upstream, msg: RpcObject, call: PendingCall | undefined): void;
  /** the session ended by itself (a process exited, a stream closed for good) */
  closed(u: Upstream, why: string): void;
}

export interface PendingCall {
  readonly upstreamId: number;
  readonly progressToken: unknown;
  /** a notification or request that belongs to this call */
  onMessage(msg: RpcObject): void;
}

interface Pending extends PendingCall {
  /** the bridge's own request (initialize, a restored subscription, a discovery page): server messages are never its */
  internal: boolean;
  resolve(msg: RpcObject): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/** What the bridge keeps about an upstream session (KV), so another bridge process can take it up again. */
export interface UpstreamState {
  /** the InitializeResult the server gave */
  init: RpcObject;
  /** Streamable HTTP: the server's Mcp-Session-Id */
  sessionId?: string;
  transport: "stdio" | "streamable-http" | "sse";
}

const STDERR_KEEP = 4096;

export class Upstream {
  private transport: Transport | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closedWhy: string | undefined;
  state: UpstreamState | undefined;
  /** the last lines a stdio server wrote to stderr: its crash says why */
  private stderrTail = "";

  constructor(
    readonly cfg: McpServerConfig,
    private readonly events: UpstreamEvents,
    private readonly log: Log,
  ) {}

  get name(): string {
    return this.cfg.name;
  }
  get ready(): boolean {
    return this.state !== undefined && this.closedWhy === undefined;
  }
  get inFlight(): number {
    return this.pending.size;
  }

  /** Open the session: initialize with the client's params, or take up a stored Streamable HTTP session. */
  async open(clientParams: RpcObject, stored?: UpstreamState): Promise<RpcObject> {
    if (stored?.transport === "streamable-http" && stored.sessionId && this.cfg.kind === "http") {
      const t = this.httpTransport(stored.sessionId);
      const version = stored.init.protocolVersion;
      if (typeof version === "string") t.setProtocolVersion(version);
      await this.attach(t);
      this.state = stored;
      // the server-sent stream a fresh session opens after `initialized`
      (t as unknown as { _startOrAuthSse(o: { resumptionToken: undefined }): Promise<void> })._startOrAuthSse({ resumptionToken: undefined }).catch(() => {});
      return stored.init;
    }
    const init = { jsonrpc: "2.0", method: "initialize", params: clientParams } as const;
    let kind: UpstreamState["transport"];
    let result: RpcObject;
    if (this.cfg.kind === "stdio") {
      kind = "stdio";
      await this.attach(this.stdioTransport());
      result = await this.request(init, undefined, undefined, openTimeoutMs(this.cfg.timeoutMs));
    } else if (stored?.transport === "sse") {
      // known to speak only the older transport: no Streamable HTTP attempt first
      kind = "sse";
      await this.attach(this.sseTransport());
      result = await this.request(init, undefined, undefined, openTimeoutMs(this.cfg.timeoutMs));
    } else {
      kind = "streamable-http";
      await this.attach(this.httpTransport(undefined));
      try {
        result = await this.request(init, undefined, undefined, openTimeoutMs(this.cfg.timeoutMs));
      } catch (e) {
        // the spec's backwards compatibility: the POST refused means the older HTTP+SSE transport
        if (!LEGACY_STATUSES.has(httpStatus(e))) throw e;
        await this.detach();
        this.closedWhy = undefined;
        kind = "sse";
        await this.attach(this.sseTransport());
        result = await this.request(init, undefined, undefined, openTimeoutMs(this.cfg.timeoutMs));
      }
    }
    const r = (result.result ?? {}) as RpcObject;
    if (result.error !== undefined)
      throw new UpstreamError(this.name, bridgeErrors.unavailable, `MCP server '${this.name}' refused to initialize: ${errorText(result.error)}`);
    const t = this.transport;
    if (t instanceof StreamableHTTPClientTransport && typeof r.protocolVersion === "string") t.setProtocolVersion(r.protocolVersion);
    await this.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    this.state = { init: r, transport: kind, ...(t instanceof StreamableHTTPClientTransport && t.sessionId ? { sessionId: t.sessionId } : {}) };
    return r;
  }

  /**
   * Send a request (its id is replaced by one of ours) and wait for the response, whose id is ours too.
   * `onMessage` takes what the server sends for this request meanwhile.
   */
  request(msg: RpcObject, onMessage?: (m: RpcObject) => void, onStart?: (upstreamId: number) => void, timeoutMs = this.cfg.timeoutMs): Promise<RpcObject> {
    if (this.closedWhy !== undefined) return Promise.reject(new UpstreamError(this.name, bridgeErrors.unavailable, this.closedWhy));
    const upstreamId = this.nextId++;
    const params = msg.params as RpcObject | undefined;
    const progressToken = (params?._meta as RpcObject | undefined)?.progressToken;
    return new Promise<RpcObject>((resolve, reject) => {
      const timeout = () => new UpstreamError(this.name, bridgeErrors.timeout, `MCP server '${this.name}' did not answer within ${timeoutMs} ms`);
      const p: Pending = {
        upstreamId,
        progressToken,
        internal: onMessage === undefined,
        onMessage: (m) => {
          // progress starts the wait again: a long tool that says how far it got is not timed out
          if (m.method === "notifications/progress") p.timer.refresh();
          onMessage?.(m);
        },
        resolve,
        reject,
        timer: setTimeout(() => {
          this.pending.delete(upstreamId);
          void this.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: upstreamId, reason: "timed out" } }).catch(() => {});
          reject(timeout());
        }, timeoutMs),
      };
      this.pending.set(upstreamId, p);
      onStart?.(upstreamId);
      this.send({ ...msg, id: upstreamId }).catch((e: unknown) => {
        const err = this.sendError(e);
        if (this.pending.delete(upstreamId)) {
          clearTimeout(p.timer);
          reject(err);
        }
        // the server forgot the session (it restarted, or it was ended): it is over for every request
        if (err.expired) this.close(err.message, false).catch(() => {});
      });
    });
  }

  /** Stop one of our requests (the client cancelled it): the server is told, the caller stops waiting. */
  cancel(upstreamId: number, reason: string): void {
    const p = this.pending.get(upstreamId);
    if (!p) return;
    this.pending.delete(upstreamId);
    clearTimeout(p.timer);
    p.reject(new UpstreamError(this.name, bridgeErrors.unavailable, "cancelled"));
    void this.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: upstreamId, reason } }).catch(() => {});
  }

  /** A message that needs no answer (a notification, a response to the server's own request). */
  async send(msg: RpcObject): Promise<void> {
    const t = this.transport;
    if (!t || this.closedWhy !== undefined)
      throw new UpstreamError(this.name, bridgeErrors.unavailable, this.closedWhy ?? `MCP server '${this.name}' is not connected`);
    await t.send(msg as JSONRPCMessage);
  }

  /**
   * End the session: the process stopped for stdio; for Streamable HTTP, a DELETE when `terminate`
   * (not when the bridge stops: the next bridge takes the session up by its id), never waited on long.
   */
  async close(why: string, terminate = true): Promise<void> {
    if (this.closedWhy !== undefined && this.transport === undefined) return;
    const t = this.transport;
    this.fail(why);
    if (terminate && t instanceof StreamableHTTPClientTransport && t.sessionId) {
      await Promise.race([t.terminateSession().catch(() => {}), new Promise((r) => setTimeout(r, DELETE_TIMEOUT_MS).unref())]);
    }
    await this.detach();
  }

  private stdioTransport(): Transport {
    const c = this.cfg;
    if (c.kind !== "stdio") throw new Error("not a stdio server");
    const t = new StdioClientTransport({ command: c.command, args: c.args, env: c.env, ...(c.cwd ? { cwd: c.cwd } : {}), stderr: "pipe" });
    t.stderr?.on("data", (b: Buffer) => {
      this.stderrTail = (this.stderrTail + b.toString("utf8")).slice(-STDERR_KEEP);
    });
    return t;
  }

  private httpTransport(sessionId: string | undefined): StreamableHTTPClientTransport {
    const c = this.cfg;
    if (c.kind !== "http") throw new Error("not an HTTP server");
    return new StreamableHTTPClientTransport(new URL(c.url), {
      requestInit: { headers: c.headers },
      ...(sessionId ? { sessionId } : {}),
      reconnectionOptions: { initialReconnectionDelay: 500, maxReconnectionDelay: 10_000, reconnectionDelayGrowFactor: 2, maxRetries: 5 },
    });
  }

  private sseTransport(): Transport {
    const c = this.cfg;
    if (c.kind !== "http") throw new Error("not an HTTP server");
    return new SSEClientTransport(new URL(c.url), { requestInit: { headers: c.headers } });
  }

  private async attach(t: Transport): Promise<void> {
    this.transport = t;
    t.onmessage = (m) => this.onMessage(m as unknown as RpcObject);
    t.onerror = (e) => {
      // the SDK gives up on a GET stream after its retries (or the server forgot the session): nothing would come from it again
      if (httpStatus(e) === 404 || /Maximum reconnection attempts/.test(e.message)) {
        this.log.warn({ server: this.name, err: e.message }, "upstream session lost");
        if (this.transport === t) void t.close();
      } else this.log.debug({ server: this.name, err: e.message }, "upstream transport error");
    };
    t.onclose = () => {
      if (this.transport !== t) return;
      const tail = this.stderrTail.trim().split("\n").slice(-3).join(" | ");
      const why = `MCP server '${this.name}' ${this.cfg.kind === "stdio" ? "exited" : "closed the session"}${tail ? ` (${tail})` : ""}`;
      const was = this.closedWhy === undefined;
      this.fail(why);
      this.transport = undefined;
      if (was) this.events.closed(this, why);
    };
    try {
      await t.start();
    } catch (e) {
      this.transport = undefined;
      throw this.sendError(e);
    }
  }

  private async detach(): Promise<void> {
    const t = this.transport;
    this.transport = undefined;
    if (t) await t.close().catch(() => {});
  }

  /** Every request in flight fails with `why`; nothing more is sent. */
  private fail(why: string): void {
    this.closedWhy ??= why;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new UpstreamError(this.name, bridgeErrors.unavailable, why));
    }
    this.pending.clear();
  }

  private sendError(e: unknown): UpstreamError {
    if (e instanceof UpstreamError) return e;
    const m = e instanceof Error ? e.message : String(e);
    const expired = this.state !== undefined && httpStatus(e) === 404;
    const err = new UpstreamError(
      this.name,
      bridgeErrors.unavailable,
      expired ? `MCP server '${this.name}' no longer knows the session` : `MCP server '${this.name}' is unavailable: ${m}`,
      expired,
    );
    (err as { cause?: unknown }).cause = e;
    return err;
  }

  private onMessage(m: RpcObject): void {
    const id = m.id;
    if (typeof m.method !== "string") {
      // a response to one of our requests
      const p = typeof id === "number" ? this.pending.get(id) : undefined;
      if (!p) return;
      this.pending.delete(p.upstreamId);
      clearTimeout(p.timer);
      p.resolve(m);
      return;
    }
    this.events.message(this, m, this.callOf(m));
  }

  /** The client's request in flight a server message belongs to: by progress token, else the only one in flight. */
  private callOf(m: RpcObject): PendingCall | undefined {
    if (m.method === "notifications/progress") {
      const token = (m.params as RpcObject | undefined)?.progressToken;
      for (const p of this.pending.values()) if (!p.internal && p.progressToken !== undefined && p.progressToken === token) return p;
      return undefined;
    }
    if (m.method === "notifications/cancelled" || (typeof m.method === "string" && m.method.endsWith("/list_changed"))) return undefined;
    let only: Pending | undefined;
    for (const p of this.pending.values()) {
      if (p.internal) continue;
      if (only) return undefined;
      only = p;
    }
    return only;
  }
}

export function errorText(e: unknown): string {
  const o = e as { message?: unknown; code?: unknown } | null;
  return typeof o?.message === "string" ? o.message : JSON.stringify(e);
}
