// MCP methods that exist only when WORKER_TEST_METHODS=true: they let the
// tests make a worker stream, wait, throw or hang on demand. Each stops when
// ctx.signal fires (radiant.test/hang with `deaf: true` ignores it on purpose:
// the worker must not wait for such a handler).
import { setTimeout as sleep } from "node:timers/promises";
import { rpcNotification, rpcResult, type Reply } from "./reply.js";
import type { HandlerContext } from "./handler.js";
import type { McpMethod } from "./handler_mcp.js";

function count(v: unknown, dflt: number, max: number): number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 ? Math.min(v, max) : dflt;
}

/** Resolves when the request is aborted (at once if it is already). */
function aborted(ctx: HandlerContext): Promise<void> {
  if (ctx.signal.aborted) return Promise.resolve();
  return new Promise((r) => ctx.signal.addEventListener("abort", () => r(), { once: true }));
}

export const testMethods: Record<string, McpMethod> = {
  async *"radiant.test/echo"(req) {
    yield rpcResult(req.id, req.params ?? {});
  },
  /**
   * `count` notifications (`pad`: bytes of padding each, `delayMs`: a pause
   * before each after the first), then a result: a stream whose every frame the
   * tests count. Stops when aborted.
   */
  async *"radiant.test/stream"(req, ctx): AsyncIterable<Reply> {
    const n = count(req.params?.count, 10, 1_000_000);
    const pad = "x".repeat(count(req.params?.pad, 0, 64 * 1024));
    const delayMs = count(req.params?.delayMs, 0, 60_000);
    for (let i = 0; i < n; i++) {
      if (ctx.signal.aborted) return;
      if (delayMs > 0 && i > 0) await sleep(delayMs, undefined, { signal: ctx.signal });
      if (i % 1000 === 999) ctx.working();
      yield rpcNotification("notifications/radiant.test/chunk", { i, pad });
    }
    yield rpcResult(req.id, { count: n });
  },
  /** answers after `ms` (a request a worker holds unacked for a while); stops when aborted */
  async *"radiant.test/sleep"(req, ctx) {
    await sleep(count(req.params?.ms, 1000, 60_000), undefined, { signal: ctx.signal });
    yield rpcResult(req.id, { slept: true });
  },
  /** answers only when aborted — and then publishes nothing itself; logs the reason */
  async *"radiant.test/wait"(_req, ctx) {
    await aborted(ctx);
    ctx.log.info({ reason: ctx.signal.reason as unknown }, "request cancelled");
  },
  /** the worker process dies holding the request: a poison message */
  async *"radiant.test/crash"() {
    process.exit(70);
  },
  async *"radiant.test/throw"() {
    throw new Error("radiant.test/throw: the handler failed on purpose");
  },
  /** never answers; ends when aborted, unless `deaf: true` (then it ignores its signal and never ends) */
  async *"radiant.test/hang"(req, ctx) {
    if (req.params?.deaf === true) await new Promise(() => {});
    await aborted(ctx);
  },
};
