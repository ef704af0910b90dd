// A worker's side of the MCP bridge (workers/src/mcp_bridge): open a client
// session's upstream sessions, run one call and take its frames as they come,
// pass on what the client sends that is not a request.
import { createInbox, type NatsConnection } from "@nats-io/nats-core";
import {
  encodeBridge,
  MCP_ALIVE_MS,
  mcpGatewayErrors,
  mcpBridgeSubjects,
  CLIENT_SIDE_REASONS,
  type CallFrame,
  type CancelReason,
  type CallRequest,
  type OpenReply,
  type RpcObject,
  type SessionId,
} from "@radiant/wire";
import { RpcError } from "../reply.js";

const NO_BRIDGE = mcpGatewayErrors.noBridge;

export class BridgeClient {
  constructor(private readonly nc: () => NatsConnection) {}

  async open(sid: SessionId, params: RpcObject, timeoutMs: number): Promise<OpenReply> {
    try {
      const m = await this.nc().request(mcpBridgeSubjects.open, encodeBridge({ sid, params }), { timeout: timeoutMs });
      return m.json<OpenReply>();
    } catch (e) {
      throw new RpcError(NO_BRIDGE, `The MCP bridge did not answer: ${(e as Error).message}`);
    }
  }

  /**
   * One request to one upstream: the frames that belong to it (notifications, server→client
   * requests), then its result; a `fail` frame throws as a JSON-RPC error. An abort tells the
   * bridge to cancel the upstream request.
   */
  async *call(req: CallRequest, signal: AbortSignal): AsyncIterable<CallFrame> {
    const nc = this.nc();
    const inbox = createInbox();
    const queue: CallFrame[] = [];
    let wake: (() => void) | undefined;
    let error: Error | undefined;
    const push = (f: CallFrame) => {
      queue.push(f);
      wake?.();
    };
    let heard = Date.now();
    const sub = nc.subscribe(inbox, {
      callback: (err, m) => {
        heard = Date.now();
        if (err || m.headers?.code === 503) {
          error = new RpcError(NO_BRIDGE, "The MCP bridge is not running: no MCP server can be reached");
          wake?.();
          return;
        }
        try {
          push(m.json<CallFrame>());
        } catch {
          // not a frame of ours: ignored
        }
      },
    });
    const watchdog = setInterval(() => {
      if (Date.now() - heard > 3 * MCP_ALIVE_MS) {
        error = new RpcError(NO_BRIDGE, "The MCP bridge stopped answering");
        wake?.();
      }
    }, MCP_ALIVE_MS);
    const onAbort = () => {
      // the client's cancel stops the call upstream; a worker stopping or timed out does not: the
      // request runs again on another delivery, which takes the bridge's call over
      if (CLIENT_SIDE_REASONS.has(signal.reason as CancelReason)) nc.publish(mcpBridgeSubjects.cancel, encodeBridge({ sid: req.sid, key: req.key }));
      wake?.();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      nc.publish(mcpBridgeSubjects.call, encodeBridge(req), { reply: inbox });
      for (;;) {
        const f = queue.shift();
        if (f) {
          if (f.t === "alive") continue;
          if (f.t === "fail") throw new RpcError(f.code, f.message, f.server !== undefined ? { server: f.server } : undefined);
          yield f;
          if (f.t === "result") return;
          continue;
        }
        if (error) throw error;
        if (signal.aborted) return;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    } finally {
      clearInterval(watchdog);
      signal.removeEventListener("abort", onAbort);
      sub.unsubscribe();
    }
  }

  /** The client's answer to a server→client request. */
  respond(sid: SessionId, msg: RpcObject): void {
    this.nc().publish(mcpBridgeSubjects.respond, encodeBridge({ sid, msg }));
  }

  /** A client notification every upstream gets (roots changed). */
  notify(sid: SessionId, msg: RpcObject): void {
    this.nc().publish(mcpBridgeSubjects.notify, encodeBridge({ sid, msg }));
  }
}
