// MCP methods that exist only when WORKER_TEST_METHODS=true: they let the
// end-to-end tests make a worker stream, throw or hang on demand.
import { rpcNotification, rpcResult, type Reply } from "./reply.js";
import type { McpMethod } from "./handler_mcp.js";

function count(v: unknown, dflt: number, max: number): number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 ? Math.min(v, max) : dflt;
}

export const testMethods: Record<string, McpMethod> = {
  async *"radiant.test/echo"(req) {
    yield rpcResult(req.id, req.params ?? {});
  },
  /** `count` notifications, then a result: a stream whose every frame the tests count */
  async *"radiant.test/stream"(req, ctx): AsyncIterable<Reply> {
    const n = count(req.params?.count, 10, 1_000_000);
    const pad = "x".repeat(count(req.params?.pad, 0, 64 * 1024));
    for (let i = 0; i < n; i++) {
      if (i % 1000 === 999) ctx.working();
      yield rpcNotification("notifications/radiant.test/chunk", { i, pad });
    }
    yield rpcResult(req.id, { count: n });
  },
  /** answers after `ms`: a request a worker holds unacked for a while */
  async *"radiant.test/sleep"(req) {
    await new Promise((r) => setTimeout(r, count(req.params?.ms, 1000, 60_000)));
    yield rpcResult(req.id, { slept: true });
  },
  /** the worker process dies holding the request: a poison message */
  async *"radiant.test/crash"() {
    process.exit(70);
  },
  async *"radiant.test/throw"() {
    throw new Error("radiant.test/throw: the handler failed on purpose");
  },
  async *"radiant.test/hang"() {
    await new Promise(() => {});
  },
};
