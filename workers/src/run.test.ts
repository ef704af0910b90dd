// The request lifecycle's policy, row by row, with a fake publisher and fake
// timers: what is published, and whether the INBOX message is acked, naked or
// termed. Then every source of cancellation reaching a handler.
import t from "tap";
import { randomBytes } from "node:crypto";
import { controlHeaders, makeSessionId, replyMsgId, rpcRequestId, type CancelReason, type InboxEnvelope } from "@radiant/wire";
import { PublishError } from "@radiant/infra/publish";
import type { Handler, HandlerContext } from "./handler.js";
import { rpcNotification, rpcResult, type Reply } from "./reply.js";
import { backoffMs, RequestRun, type Outcome, type RunDeps, type Stored } from "./run.js";
import { Running } from "./running.js";
import { mcpHandler, mcpMethods } from "./handler_mcp.js";
import { testMethods } from "./handler_test_methods.js";
import { captureLog, FakePublisher, FakeTimers, tick, type Decoded } from "../test/fakes.js";

const TIMEOUT_MS = 1000;
const SEQ = 7;
const WATCH_MS = 333;
const ACK_WAIT_MS = 30_000;

interface Setup {
  handler: Handler;
  body?: unknown;
  proto?: InboxEnvelope["proto"];
  rid?: string;
  sid?: InboxEnvelope["sid"];
  deliveryCount?: number;
  /** how long before the run JetStream stored the INBOX message */
  ageMs?: number;
  pub?: FakePublisher;
  stored?: (env: InboxEnvelope, seq: number) => Promise<Stored>;
  runningElsewhere?: () => Promise<boolean>;
  working?: () => void;
  coalesceMs?: number;
  cancelRequest?: RunDeps["cancelRequest"];
  publishRetryMs?: number;
}

function setup(o: Setup) {
  const pub = o.pub ?? new FakePublisher();
  const timers = new FakeTimers();
  const { log, lines } = captureLog();
  const env: InboxEnvelope = {
    v: 2,
    sid: o.sid ?? makeSessionId("rtest1", randomBytes(16)),
    proto: o.proto ?? "mcp",
    op: "rpc",
    rid: o.rid ?? rpcRequestId("1"),
    principal: "anonymous",
    ts: Date.now(),
    body: Buffer.from(JSON.stringify(o.body ?? { jsonrpc: "2.0", id: 1, method: "x" })),
  };
  let probes = 0;
  const run = new RequestRun(
    env,
    { seq: SEQ, deliveryCount: o.deliveryCount ?? 1, storedAtMs: Date.now() - (o.ageMs ?? 0), working: o.working ?? (() => {}) },
    o.handler,
    {
      publisher: pub,
      log,
      timers,
      coalesceMs: o.coalesceMs ?? 0,
      handlerTimeoutMs: TIMEOUT_MS,
      maxDeliver: 5,
      ackWaitMs: ACK_WAIT_MS,
      stored: async (e, s) => {
        probes++;
        return o.stored ? o.stored(e, s) : "none";
      },
      runningElsewhere: o.runningElsewhere ?? (async () => false),
      watchMs: WATCH_MS,
      cancelRequest: o.cancelRequest ?? (() => {}),
      ...(o.publishRetryMs !== undefined ? { publishRetryMs: o.publishRetryMs } : {}),
    },
  );
  return { run, pub, timers, lines, env, probes: () => probes };
}

/** A handler that records its signal and plays a script. */
function scripted(script: (ctx: HandlerContext) => AsyncGenerator<Reply>): { handler: Handler; ran: () => boolean; signal: () => AbortSignal | undefined } {
  let signal: AbortSignal | undefined;
  let ran = false;
  return {
    handler: (_req, ctx) => {
      ran = true;
      signal = ctx.signal;
      return script(ctx);
    },
    ran: () => ran,
    signal: () => signal,
  };
}

const chunk = (i: number) => rpcNotification("notifications/c", { i });
const never = () => new Promise<never>(() => {});
const untilAborted = (ctx: HandlerContext) => new Promise<void>((r) => ctx.signal.addEventListener("abort", () => r(), { once: true }));
const errorOf = (m: Decoded, i = 0) => JSON.parse(m.texts[i]!) as { id: unknown; error: { code: number; message: string } };

t.test("completes → End on its last message → ack", async (t) => {
  const h = scripted(async function* () {
    yield chunk(0);
    yield { ...rpcResult(1, {}), last: true };
  });
  const { run, pub } = setup({ handler: h.handler });
  t.same(await run.run(), { kind: "ack" });
  t.same(
    pub.messages.map((m) => m.end),
    [false, true],
  );
});

t.test("completes without a `last`: the pending batch, or an End marker, ends it → ack", async (t) => {
  const h = scripted(async function* () {
    yield chunk(0);
    yield chunk(1);
  });
  const { run, pub } = setup({ handler: h.handler });
  t.same(await run.run(), { kind: "ack" });
  const msgs = pub.messages;
  t.same(
    msgs.map((m) => [m.texts.length, m.end]),
    [
      [1, false],
      [1, false],
      [0, true],
    ],
    "coalescing off: an End marker",
  );
});

t.test("the INBOX message is acked only after every publish was acked", async (t) => {
  const pub = new FakePublisher("manual");
  const h = scripted(async function* () {
    yield chunk(0);
    yield { ...rpcResult(1, {}), last: true };
  });
  const { run } = setup({ handler: h.handler, pub });
  let outcome: Outcome | undefined;
  void run.run().then((o) => (outcome = o));
  await tick();
  t.equal(pub.sent.length, 2, "both published without waiting for acks");
  t.equal(outcome, undefined);
  pub.sent[1]!.resolve();
  await tick();
  t.equal(outcome, undefined, "the first is still not acked");
  pub.sent[0]!.resolve();
  await tick();
  t.same(outcome, { kind: "ack" });
});

t.test("throws before anything was published → one error per request id (the last with End) → term", async (t) => {
  const h = scripted(async function* () {
    throw new Error("boom");
  });
  const body = [
    { jsonrpc: "2.0", id: "a", method: "x" },
    { jsonrpc: "2.0", method: "n" },
    { jsonrpc: "2.0", id: 2, method: "y" },
  ];
  const { run, pub } = setup({ handler: h.handler, body });
  t.match(await run.run(), { kind: "term" });
  const [m] = pub.messages;
  t.equal(pub.messages.length, 1, "one message");
  t.equal(m!.end, true);
  t.same([errorOf(m!, 0).id, errorOf(m!, 1).id], ["a", 2]);
  t.equal(errorOf(m!).error.code, -32603);
  t.match(errorOf(m!).error.message, /Internal error: the handler failed/);
  t.ok(
    m!.frames.every((f) => f.response),
    "marked responses",
  );
});

t.test("throws with a reply pending in the window (nothing published yet) → error replies, the pending reply dropped", async (t) => {
  const h = scripted(async function* () {
    yield chunk(0);
    yield chunk(1);
    throw new Error("boom");
  });
  const pub = new FakePublisher("manual");
  const { run } = setup({ handler: h.handler, pub, coalesceMs: 5 });
  const p = run.run();
  await tick();
  pub.sent[0]!.reject(new PublishError("timeout", true));
  t.same(await p, { kind: "nak", delayMs: backoffMs(1) }, "its first publish then failed: nothing stored → nak");
  t.equal(pub.sent.length, 1, "the pending reply was not published");
});

t.test("throws after part of the answer was acked → interrupted (msg id …:interrupted, with the ids, End) → term", async (t) => {
  const h = scripted(async function* () {
    yield chunk(0);
    await new Promise((r) => setTimeout(r, 5));
    throw new Error("boom");
  });
  const { run, pub } = setup({
    handler: h.handler,
    body: [
      { jsonrpc: "2.0", id: 1, method: "x" },
      { jsonrpc: "2.0", id: 2, method: "y" },
    ],
  });
  t.match(await run.run(), { kind: "term", reason: /interrupted: the handler failed/ });
  const last = pub.messages[pub.messages.length - 1]!;
  t.equal(pub.sent[pub.sent.length - 1]!.msgId, replyMsgId(run.sid, SEQ, "interrupted"));
  t.equal(last.end, true);
  t.same([errorOf(last, 0).id, errorOf(last, 1).id], [1, 2]);
  t.match(errorOf(last).error.message, /the answer was interrupted \(the handler failed\); what arrived before this is incomplete/);
  t.equal(pub.messages.length, 2, "the chunk, then the error: nothing else");
});

t.test("timed out with nothing published → nak with backoff; on the last delivery → error reply + term", async (t) => {
  for (const deliveryCount of [1, 3]) {
    const h = scripted(async function* (ctx) {
      await untilAborted(ctx);
    });
    const { run, pub, timers } = setup({ handler: h.handler, deliveryCount });
    const p = run.run();
    await tick();
    timers.fire(TIMEOUT_MS);
    t.same(await p, { kind: "nak", delayMs: backoffMs(deliveryCount) }, `delivery ${deliveryCount}`);
    t.equal(h.signal()!.reason, "timed out");
    t.equal(pub.sent.length, 0);
  }
  const h = scripted(async function* (ctx) {
    await untilAborted(ctx);
  });
  const { run, pub, timers } = setup({ handler: h.handler, deliveryCount: 5 });
  const p = run.run();
  await tick();
  timers.fire(TIMEOUT_MS);
  t.match(await p, { kind: "term" });
  t.match(errorOf(pub.messages[0]!).error.message, /the request timed out 5 times/);
  t.equal(pub.messages[0]!.end, true);
});

t.test("timed out after the handler committed (a provider was called) with nothing published → an error, never a second call", async (t) => {
  const h = scripted(async function* (ctx) {
    ctx.committed();
    await untilAborted(ctx);
  });
  const { run, pub, timers } = setup({ handler: h.handler, deliveryCount: 1 });
  const p = run.run();
  await tick();
  timers.fire(TIMEOUT_MS);
  t.match(await p, { kind: "term" });
  t.match(errorOf(pub.messages[0]!).error.message, /timed out/);
  t.equal(pub.messages[0]!.end, true);
});

t.test("timed out after part of the answer was acked → interrupted → term (no retry)", async (t) => {
  const h = scripted(async function* (ctx) {
    yield chunk(0);
    await untilAborted(ctx);
  });
  const { run, pub, timers } = setup({ handler: h.handler });
  const p = run.run();
  await tick();
  await tick();
  timers.fire(TIMEOUT_MS);
  t.match(await p, { kind: "term", reason: /interrupted: timed out/ });
  t.same(
    pub.messages.map((m) => m.end),
    [false, true],
  );
  t.equal(pub.sent[1]!.msgId, replyMsgId(run.sid, SEQ, "interrupted"));
});

t.test("worker stopping with nothing published → nak at once (another worker runs it)", async (t) => {
  const h = scripted(async function* (ctx) {
    await untilAborted(ctx);
  });
  const { run, pub } = setup({ handler: h.handler });
  const p = run.run();
  await tick();
  run.abort("worker stopping");
  t.same(await p, { kind: "nak", delayMs: 0 });
  t.equal(pub.sent.length, 0, "no End marker: the other worker's answer ends it");
});

t.test("worker stopping after part of the answer was acked → interrupted → term", async (t) => {
  const h = scripted(async function* (ctx) {
    yield chunk(0);
    await untilAborted(ctx);
  });
  const { run, pub } = setup({ handler: h.handler });
  const p = run.run();
  await tick();
  await tick();
  run.abort("worker stopping");
  t.match(await p, { kind: "term", reason: /interrupted: the worker stopped/ });
  t.match(errorOf(pub.messages[1]!).error.message, /interrupted \(the worker stopped\)/);
});

t.test("a publish that failed with nothing acked → nak with backoff (the redelivery decides)", async (t) => {
  const h = scripted(async function* () {
    yield chunk(0);
    yield { ...rpcResult(1, {}), last: true };
  });
  const { run } = setup({ handler: h.handler, pub: new FakePublisher("auto", () => new PublishError("timeout: no ack", true)), deliveryCount: 2 });
  t.same(await run.run(), { kind: "nak", delayMs: backoffMs(2) });
});

t.test("a publish that failed after another was acked → interrupted → term", async (t) => {
  const h = scripted(async function* () {
    yield chunk(0);
    await new Promise((r) => setTimeout(r, 5));
    yield chunk(1);
    yield { ...rpcResult(1, {}), last: true };
  });
  const pub = new FakePublisher("auto", (_s, i) => (i === 1 ? new PublishError("timeout", true) : undefined));
  const { run } = setup({ handler: h.handler, pub });
  t.match(await run.run(), { kind: "term", reason: /interrupted: a reply could not be stored/ });
  t.equal(pub.sent.length, 3, "chunk 0, chunk 1 (failed), the interrupted error — the result never went");
  t.equal(pub.sent[2]!.msgId, replyMsgId(run.sid, SEQ, "interrupted"));
});

t.test("a reply that can never be stored (too large) with nothing acked → error reply → term, no retries", async (t) => {
  const h = scripted(async function* () {
    yield { ...rpcResult(1, { big: true }), last: true };
  });
  const pub = new FakePublisher("auto", (_s, i) => (i === 0 ? new PublishError("too large", false, true) : undefined));
  const { run } = setup({ handler: h.handler, pub });
  t.match(await run.run(), { kind: "term" });
  t.match(errorOf(pub.messages[1]!).error.message, /too large/);
});

t.test("the interrupted error itself cannot be stored → nak (the redelivery finds the partial answer)", async (t) => {
  const h = scripted(async function* () {
    yield chunk(0);
    await new Promise((r) => setTimeout(r, 5));
    throw new Error("boom");
  });
  const pub = new FakePublisher("auto", (_s, i) => (i >= 1 ? new PublishError("timeout", true) : undefined));
  const { run } = setup({ handler: h.handler, pub });
  t.same(await run.run(), { kind: "nak", delayMs: backoffMs(1) });
});

t.test("a redelivery first reads HISTORY: part of an answer → interrupted, the handler not run → term", async (t) => {
  const h = scripted(async function* () {
    yield { ...rpcResult(1, {}), last: true };
  });
  const s = setup({ handler: h.handler, deliveryCount: 2, stored: async () => "partial" });
  t.match(await s.run.run(), { kind: "term" });
  t.notOk(h.ran(), "no second generation");
  t.equal(s.pub.sent.length, 1);
  t.equal(s.pub.sent[0]!.msgId, replyMsgId(s.run.sid, SEQ, "interrupted"));
  t.match(errorOf(s.pub.messages[0]!).error.message, /interrupted \(the worker handling it stopped\)/);
  t.equal(s.pub.messages[0]!.end, true);
});

t.test("a delivery counted as the first but older than half an ack wait (nats-server after a SIGKILL) reads HISTORY too", async (t) => {
  const h = scripted(async function* () {
    yield { ...rpcResult(1, {}), last: true };
  });
  const s = setup({ handler: h.handler, deliveryCount: 1, ageMs: ACK_WAIT_MS, stored: async () => "partial" });
  t.match(await s.run.run(), { kind: "term" }, "part of its answer stored: ended as interrupted");
  t.notOk(h.ran(), "no second generation");
  t.equal(s.pub.sent[0]!.msgId, replyMsgId(s.run.sid, SEQ, "interrupted"));

  // nothing stored: run at once, without asking whether someone runs it (a backlog must not wait on that probe)
  let probed = 0;
  const fresh = scripted(async function* () {
    yield { ...rpcResult(1, {}), last: true };
  });
  const o = setup({
    handler: fresh.handler,
    ageMs: ACK_WAIT_MS,
    runningElsewhere: async () => {
      probed++;
      return true;
    },
  });
  t.same(await o.run.run(), { kind: "ack" });
  t.ok(fresh.ran(), "run");
  t.equal(o.probes(), 1, "HISTORY read");
  t.equal(probed, 0, "no running probe");

  // young: a true first delivery, no lookup at all
  const y = setup({
    handler: scripted(async function* () {
      yield { ...rpcResult(1, {}), last: true };
    }).handler,
    ageMs: 10,
  });
  t.same(await y.run.run(), { kind: "ack" });
  t.equal(y.probes(), 0, "no HISTORY read for a young first delivery");
});

t.test("a redelivery while the earlier delivery still runs (a broker restart): watched, kept in progress, never run twice nor cut short", async (t) => {
  /** step the watch: let the run reach its pause, then end the pause */
  const step = async (timers: FakeTimers) => {
    for (let i = 0; i < 20 && timers.fire(WATCH_MS) === 0; i++) await tick();
  };
  {
    // part of the answer stored, its runner alive; then it completes → ack, nothing published here
    let stored: Stored = "partial";
    let working = 0;
    const h = scripted(async function* () {
      yield { ...rpcResult(1, {}), last: true };
    });
    const s = setup({ handler: h.handler, deliveryCount: 2, stored: async () => stored, runningElsewhere: async () => true, working: () => working++ });
    const outcome = s.run.run();
    await step(s.timers);
    await step(s.timers);
    stored = "complete";
    await step(s.timers);
    t.same(await outcome, { kind: "ack" });
    t.notOk(h.ran(), "no second generation");
    t.equal(s.pub.sent.length, 0, "nothing published by the watcher");
    t.ok(working >= 3, "kept in progress while it watched");
  }
  {
    // nothing stored yet, its runner alive; then the runner is gone with nothing stored → run here
    let alive = true;
    const h = scripted(async function* () {
      yield { ...rpcResult(1, {}), last: true };
    });
    const s = setup({ handler: h.handler, deliveryCount: 2, stored: async () => "none", runningElsewhere: async () => alive });
    const outcome = s.run.run();
    await step(s.timers);
    t.notOk(h.ran(), "not while the earlier one runs");
    alive = false;
    await step(s.timers);
    t.same(await outcome, { kind: "ack" });
    t.ok(h.ran(), "run here once nobody runs it");
  }
  {
    // part stored, its runner dies → interrupted
    let alive = true;
    const h = scripted(async function* () {
      yield { ...rpcResult(1, {}), last: true };
    });
    const s = setup({ handler: h.handler, deliveryCount: 2, stored: async () => "partial", runningElsewhere: async () => alive });
    const outcome = s.run.run();
    await step(s.timers);
    alive = false;
    await step(s.timers);
    t.match(await outcome, { kind: "term", reason: /interrupted/ });
    t.notOk(h.ran());
    t.equal(s.pub.sent[0]!.msgId, replyMsgId(s.run.sid, SEQ, "interrupted"));
  }
  {
    // the worker stops while watching → straight back for another worker
    const h = scripted(async function* () {
      yield { ...rpcResult(1, {}), last: true };
    });
    const s = setup({ handler: h.handler, deliveryCount: 2, stored: async () => "partial", runningElsewhere: async () => true });
    const outcome = s.run.run();
    for (let i = 0; i < 20 && s.timers.pending.size === 0; i++) await tick();
    s.run.abort("worker stopping");
    t.same(await outcome, { kind: "nak", delayMs: 0 });
    t.equal(s.pub.sent.length, 0);
  }
});

t.test("a redelivery: a complete answer stored → ack, nothing published; none stored → run; unreadable → nak", async (t) => {
  {
    const h = scripted(async function* () {
      yield { ...rpcResult(1, {}), last: true };
    });
    const s = setup({ handler: h.handler, deliveryCount: 2, stored: async () => "complete" });
    t.same(await s.run.run(), { kind: "ack" });
    t.notOk(h.ran());
    t.equal(s.pub.sent.length, 0);
  }
  {
    const h = scripted(async function* () {
      yield { ...rpcResult(1, {}), last: true };
    });
    const s = setup({ handler: h.handler, deliveryCount: 2 });
    t.same(await s.run.run(), { kind: "ack" });
    t.ok(h.ran(), "nothing stored: it runs");
    t.equal(s.probes(), 1);
  }
  {
    const h = scripted(async function* () {
      yield { ...rpcResult(1, {}), last: true };
    });
    const s = setup({ handler: h.handler, deliveryCount: 3, stored: async () => Promise.reject(new Error("no JetStream")) });
    t.same(await s.run.run(), { kind: "nak", delayMs: backoffMs(3) });
    t.notOk(h.ran());
  }
  {
    const h = scripted(async function* () {
      yield { ...rpcResult(1, {}), last: true };
    });
    const s = setup({ handler: h.handler });
    await s.run.run();
    t.equal(s.probes(), 0, "a first delivery reads nothing");
  }
});

t.test("a hung handler that ignores its signal does not hold the run", async (t) => {
  const h = scripted(async function* () {
    yield chunk(0);
    await never();
  });
  for (const reason of ["cancelled by the client", "worker stopping", "timed out"] as CancelReason[]) {
    const { run, timers } = setup({ handler: h.handler });
    const p = run.run();
    await tick();
    if (reason === "timed out") timers.fire(TIMEOUT_MS);
    else run.abort(reason);
    const outcome = await Promise.race([p, new Promise((r) => setTimeout(() => r("hung"), 2000))]);
    t.not(outcome, "hung", reason);
  }
});

// ---- sources of cancellation ------------------------------------------------

async function runningWith(reason: (r: Running<RequestRun>, run: RequestRun) => void, expect: CancelReason) {
  const running = new Running<RequestRun>();
  const h = scripted(async function* (ctx) {
    yield chunk(0);
    await untilAborted(ctx);
  });
  const other = scripted(async function* (ctx) {
    await untilAborted(ctx);
  });
  const s = setup({ handler: h.handler });
  const o = setup({ handler: other.handler, rid: rpcRequestId('"other"'), sid: s.run.sid });
  running.add(s.run);
  running.add(o.run);
  const p = s.run.run();
  const po = o.run.run();
  await tick();
  await tick();
  reason(running, s.run);
  const outcome = await p;
  running.delete(s.run);
  return { outcome, s, h, other, o, po, running, expect };
}

t.test("(a) a cancel notice on cancel.{sid}: that request stops (reason from the notice), End marker, ack; others run on", async (t) => {
  const r = await runningWith(
    (running, run) => running.onCancelNotice(`cancel.${run.sid}`, controlHeaders({ kind: "cancel", rid: run.rid, reason: "cancelled by the client" })),
    "cancelled by the client",
  );
  t.same(r.outcome, { kind: "ack" });
  t.equal(r.h.signal()!.reason, "cancelled by the client");
  t.same(
    r.s.pub.messages.map((m) => [m.texts.length, m.end]),
    [
      [1, false],
      [0, true],
    ],
    "the chunk, then an End marker",
  );
  t.notOk(r.other.signal()!.aborted, "another request of the session runs on");
  t.ok(r.s.lines.some((l) => l.msg === "request aborted" && l.reason === "cancelled by the client"));
  r.o.run.abort("worker stopping");
  await r.po;
});

t.test("(a) MCP notifications/cancelled {requestId} → cancelRequest(rpcRequestId(JSON of the id))", async (t) => {
  const asked: string[] = [];
  const h = mcpHandler(mcpMethods);
  const { run, pub } = setup({
    handler: h as Handler,
    body: { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: "w 1", reason: "user" } },
    cancelRequest: (_sid, rid) => asked.push(rid),
  });
  t.same(await run.run(), { kind: "ack" });
  t.same(asked, [rpcRequestId('"w 1"')]);
  t.equal(pub.sent.length, 0, "a notification gets no reply");
  // and through the registry, the request with that id stops
  const running = new Running<RequestRun>();
  const w = setup({ handler: mcpHandler({ ...testMethods }) as Handler, body: { jsonrpc: "2.0", id: 5, method: "radiant.test/wait" }, rid: rpcRequestId("5") });
  running.add(w.run);
  const p = w.run.run();
  await tick();
  const c = setup({
    handler: h as Handler,
    sid: w.run.sid,
    rid: "gcancelnote1",
    body: { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 5 } },
    cancelRequest: (sid, rid) => running.cancel(sid, rid, "cancelled by the client"),
  });
  await c.run.run();
  t.same(await p, { kind: "ack" });
  t.ok(
    w.lines.some((l) => l.msg === "request cancelled" && l.reason === "cancelled by the client"),
    "radiant.test/wait logs it",
  );
  t.same(
    w.pub.messages.map((m) => [m.size, m.end]),
    [[0, true]],
    "publishes nothing itself; the End marker ends it",
  );
});

t.test("(b) ended.{sid}: every request of the session stops with 'session ended'", async (t) => {
  const r = await runningWith((running, run) => running.onEnded(`ended.${run.sid}`), "session ended");
  t.same(r.outcome, { kind: "ack" });
  t.equal(r.h.signal()!.reason, "session ended");
  t.equal(r.s.pub.messages[r.s.pub.messages.length - 1]!.end, true);
  t.same(await r.po, { kind: "ack" }, "the session's other request too");
  t.equal(r.other.signal()!.reason, "session ended");
});

t.test("(c) the gateway's 'client gone' notice: same path, its reason", async (t) => {
  const r = await runningWith(
    (running, run) => running.onCancelNotice(`cancel.${run.sid}`, controlHeaders({ kind: "cancel", rid: run.rid, reason: "client gone" })),
    "client gone",
  );
  t.same(r.outcome, { kind: "ack" });
  t.equal(r.h.signal()!.reason, "client gone");
  t.equal(r.s.pub.messages[r.s.pub.messages.length - 1]!.end, true);
  r.o.run.abort("worker stopping");
  await r.po;
});

t.test("(c) an LLM answer cut short by its client ends with an error saying so (a reader resuming it must not take it for whole)", async (t) => {
  const running = new Running<RequestRun>();
  const h = scripted(async function* (ctx) {
    yield { body: Buffer.from('{"choices":[]}'), head: { status: 200, stream: true } };
    await untilAborted(ctx);
  });
  const s = setup({ handler: h.handler, proto: "openai", rid: "gllm1", body: { model: "m", messages: [] } });
  running.add(s.run);
  const p = s.run.run();
  await tick();
  await tick();
  running.onCancelNotice(`cancel.${s.run.sid}`, controlHeaders({ kind: "cancel", rid: s.run.rid, reason: "client gone" }));
  t.same(await p, { kind: "ack" });
  const last = s.pub.messages[s.pub.messages.length - 1]!;
  t.ok(last.end, "End");
  t.match(JSON.parse(last.texts[last.texts.length - 1]!), { error: { message: /cancelled \(client gone\)/ } });
});

t.test("(d) the worker stopping: every request aborted with 'worker stopping'", async (t) => {
  const r = await runningWith((running) => running.abortAll("worker stopping"), "worker stopping");
  t.match(r.outcome, { kind: "term", reason: /interrupted: the worker stopped/ }, "one with an acked chunk: interrupted");
  t.same(await r.po, { kind: "nak", delayMs: 0 }, "one with nothing published: back to INBOX");
  t.equal(r.other.signal()!.reason, "worker stopping");
});

t.test("(e) WORKER_HANDLER_TIMEOUT_MS: aborted with 'timed out'", async (t) => {
  const h = scripted(async function* (ctx) {
    await untilAborted(ctx);
  });
  const { run, timers } = setup({ handler: h.handler });
  const p = run.run();
  await tick();
  t.equal(timers.fire(TIMEOUT_MS), 1);
  await p;
  t.equal(h.signal()!.reason, "timed out");
});

t.test("a notice that overtook its request: the request stops as it starts", async (t) => {
  const running = new Running<RequestRun>();
  const h = scripted(async function* () {
    yield { ...rpcResult(1, {}), last: true };
  });
  const s = setup({ handler: h.handler });
  running.onCancelNotice(`cancel.${s.run.sid}`, controlHeaders({ kind: "cancel", rid: s.run.rid, reason: "cancelled by the client" }));
  running.add(s.run);
  t.same(await s.run.run(), { kind: "ack" });
  t.notOk(h.ran(), "never started");
  t.same(
    s.pub.messages.map((m) => [m.size, m.end]),
    [[0, true]],
    "an End marker for whoever waits",
  );
  const e = setup({ handler: h.handler });
  running.onEnded(`ended.${e.run.sid}`);
  running.add(e.run);
  t.equal(e.run.signal.reason, "session ended");
});

t.test("notices that are not ours are ignored", async (t) => {
  const running = new Running<RequestRun>();
  const h = scripted(async function* (ctx) {
    await untilAborted(ctx);
  });
  const s = setup({ handler: h.handler });
  running.add(s.run);
  const p = s.run.run();
  await tick();
  t.equal(running.onCancelNotice(`cancel.${s.run.sid}`, undefined), undefined, "no header");
  t.equal(running.onCancelNotice(`cancel.not-a-sid`, controlHeaders({ kind: "cancel", rid: s.run.rid, reason: "client gone" })), undefined);
  t.equal(running.onCancelNotice(`cancel.${s.run.sid}`, controlHeaders({ kind: "ended" })), undefined, "another kind");
  t.same(running.onCancelNotice(`cancel.${s.run.sid}`, controlHeaders({ kind: "cancel", rid: "gsomeoneelse", reason: "client gone" }))?.running, 0);
  t.equal(running.onEnded("ended.*"), undefined);
  t.notOk(h.signal()!.aborted);
  s.run.abort("worker stopping");
  await p;
});

t.test("a redelivery while HISTORY cannot be read (a cluster electing its leader): looked at again, in progress, not nakked at once", async (t) => {
  let failures = 2;
  let working = 0;
  const h = scripted(async function* () {
    yield { ...rpcResult(1, {}), last: true };
  });
  const s = setup({
    handler: h.handler,
    deliveryCount: 2,
    publishRetryMs: 10 * WATCH_MS,
    stored: async () => {
      if (failures-- > 0) throw new Error("no responders");
      return "none";
    },
    working: () => working++,
  });
  const outcome = s.run.run();
  for (let k = 0; k < 2; k++) for (let i = 0; i < 20 && s.timers.fire(WATCH_MS) === 0; i++) await tick();
  t.same(await outcome, { kind: "ack" }, "read at the third look: nothing stored, run here");
  t.ok(h.ran());
  t.equal(working, 2, "kept in progress meanwhile");

  // still unreadable past the publish retry time: nakked (a later delivery looks again)
  const h2 = scripted(async function* () {
    yield { ...rpcResult(1, {}), last: true };
  });
  const s2 = setup({ handler: h2.handler, deliveryCount: 2, publishRetryMs: 2 * WATCH_MS, stored: async () => Promise.reject(new Error("no responders")) });
  const outcome2 = s2.run.run();
  for (let k = 0; k < 3; k++) for (let i = 0; i < 20 && s2.timers.fire(WATCH_MS) === 0; i++) await tick();
  t.match(await outcome2, { kind: "nak" });
  t.notOk(h2.ran());
});
