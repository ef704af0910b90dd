// End to end: cancellation reaches a running handler — a cancel notice (the
// gateway's, or MCP notifications/cancelled through a worker), "client gone",
// and ended.{sid}. The request stops, the worker logs why, an End arrives.
import t, { type Test } from "tap";
import { rpcRequestId } from "@radiant/wire";
import { chunkIndices, framesOf, waitFor, WorkerStack, type Session, type WorkerProc } from "./harness.js";

const rpc = (id: number | string, method: string, params?: Record<string, unknown>) => ({ jsonrpc: "2.0", id, method, ...(params ? { params } : {}) });

/** The worker logged "request cancelled" for `rid` with `reason` (radiant.test/wait does). */
const loggedCancel = (w: WorkerProc, rid: string, reason: string) =>
  w.lines().some((l) => l.msg === "request cancelled" && l.rid === rid && l.reason === reason);

/** Wait until the worker holds a request (delivered, not acked), and a moment more for it to start. */
async function held(stack: WorkerStack): Promise<void> {
  await waitFor("the request delivered", async () => (await stack.ackPending()) === 1, 10_000);
  await new Promise((r) => setTimeout(r, 200));
}

async function endMarkerOnly(t: Test, s: Session, rid: string): Promise<void> {
  const msgs = await s.ended(rid, 5000);
  t.same(
    msgs.map((m) => [m.size, m.framesHeader, m.end]),
    [[0, "none", true]],
    "an End marker, nothing else",
  );
}

const stack = await WorkerStack.start(t);
const w = await stack.startWorker();

t.test("a cancel notice stops radiant.test/wait: logged with its reason, End marker, acked", async (t) => {
  const s = await stack.session();
  const { rid } = await s.send(rpc("w1", "radiant.test/wait"));
  await held(stack);
  const before = Date.now();
  s.cancel(rid, "cancelled by the client");
  await endMarkerOnly(t, s, rid);
  t.ok(Date.now() - before < 2000, "promptly");
  await waitFor("the log line", async () => loggedCancel(w, rid, "cancelled by the client"), 5000);
  await waitFor("INBOX empty", async () => (await stack.inboxMessages()) === 0, 5000);
  t.pass("acked");
  s.close();
});

t.test("the gateway's 'client gone' notice: the same path, its reason", async (t) => {
  const s = await stack.session();
  const { rid } = await s.send(rpc(2, "radiant.test/wait"));
  await held(stack);
  s.cancel(rid, "client gone");
  await endMarkerOnly(t, s, rid);
  await waitFor("the log line", async () => loggedCancel(w, rid, "client gone"), 5000);
  t.pass("logged: client gone");
  s.close();
});

t.test("MCP notifications/cancelled stops a slow stream: what was produced, then End; no result", async (t) => {
  const s = await stack.session();
  const { rid } = await s.send(rpc("slow", "radiant.test/stream", { count: 1000, delayMs: 20 }));
  t.equal(rid, rpcRequestId('"slow"'));
  await s.until("some chunks", () => chunkIndices(s.of(rid)).length >= 10, 10_000);
  await s.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: "slow", reason: "user" } });
  const msgs = await s.ended(rid, 5000);
  const idx = chunkIndices(msgs);
  t.ok(idx.length < 200, `stopped after ${idx.length} of 1000 chunks`);
  t.same(
    idx,
    Array.from({ length: idx.length }, (_, i) => i),
    "each chunk once, in order",
  );
  t.notOk(
    framesOf(msgs).some((f) => "result" in f || "error" in f),
    "no response to a cancelled request",
  );
  t.equal(msgs.filter((m) => m.end).length, 1);
  t.ok(msgs[msgs.length - 1]!.end, "End last");
  await waitFor("aborted log", async () => w.lines().some((l) => l.msg === "request aborted" && l.rid === rid && l.reason === "cancelled by the client"), 5000);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(s.of(rid).length, msgs.length, "nothing after End");
  s.close();
});

t.test("ended.{sid} stops every request of the session", async (t) => {
  const s = await stack.session();
  const a = await s.send(rpc("a", "radiant.test/wait"));
  const b = await s.send(rpc("b", "radiant.test/stream", { count: 1000, delayMs: 20 }));
  await s.until("some chunks", () => chunkIndices(s.of(b.rid)).length >= 3, 10_000);
  await s.end();
  await endMarkerOnly(t, s, a.rid);
  const bm = await s.ended(b.rid, 5000);
  t.ok(chunkIndices(bm).length < 200);
  await waitFor("the log line", async () => loggedCancel(w, a.rid, "session ended"), 5000);
  t.pass("logged: session ended");
  // another session is untouched
  const other = await stack.session();
  const o = await other.send(rpc(1, "ping"));
  t.same(framesOf(await other.ended(o.rid)), [{ jsonrpc: "2.0", id: 1, result: {} }]);
  s.close();
  other.close();
});

t.test("a cancel that overtakes its request still stops it", async (t) => {
  const s = await stack.session();
  const rid = rpcRequestId('"early"');
  s.cancel(rid);
  await stack.nc.flush();
  await new Promise((r) => setTimeout(r, 100));
  await s.send(rpc("early", "radiant.test/wait"));
  await endMarkerOnly(t, s, rid);
  s.close();
});
