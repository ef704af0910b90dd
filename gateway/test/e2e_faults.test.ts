// Faults we can produce on one machine; each test counts that every expected
// message arrived exactly once, in order. The client library drives some of
// them, raw sockets the others, so the client cannot hide a gateway bug.
import t from "tap";
import { execFileSync } from "node:child_process";
import WebSocket from "ws";
import { RadiantClient, type Frame, type WebSocketCtor } from "@radiant/client";
import { Client, eventually, inboxState, openSession, rpc, startStack } from "./harness.js";

const stack = await startStack(t, {
  workers: 2,
  gatewayProcesses: 2,
  workerEnv: { WORKER_ACK_WAIT_MS: "2000" },
});
const chunkNo = (f: Frame) => (f.params as { i: number }).i;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Collect a client's frames until `done` says so. */
function collect(c: RadiantClient, done: (fs: Frame[]) => boolean, timeoutMs = 60_000): Promise<Frame[]> {
  const frames: Frame[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out with ${frames.length} frames`)), timeoutMs);
    c.on("message", (f) => {
      frames.push(f);
      if (done(frames)) {
        clearTimeout(timer);
        resolve(frames);
      }
    });
  });
}

/** The pid of the gateway process holding the server side of a client socket (ss). */
function holderPid(localPort: number): number {
  const out = execFileSync("ss", ["-tnpH", "state", "established", `( dport = :${localPort} )`], { encoding: "utf8" });
  const m = /pid=(\d+)/.exec(out);
  if (!m) throw new Error(`no process holds :${localPort}: ${out}`);
  return Number(m[1]);
}

t.test("2. two gateway processes on one port: kill -9 the one holding the client mid-stream; it resumes through the other", async (t) => {
  const c = new RadiantClient({ url: stack.wsUrl, WebSocket: WebSocket as unknown as WebSocketCtor, backoffMs: 50 });
  const sessions: boolean[] = [];
  c.on("session", (s) => sessions.push(s.resumed));
  await eventually("a session", () => sessions.length === 1);
  const n = 3000;
  const all = collect(c, (fs) => fs.some((f) => f.id === "s"));
  // paced: replies are coalesced, and an unpaced stream would be over before the kill
  c.send(rpc("s", "radiant.test/stream", { count: n, delayMs: 1 }));
  await eventually("the stream under way", () => c.lastSeq > 0);
  const sock = (c as unknown as { ws: { _socket: { localPort: number } } }).ws._socket;
  const pid = holderPid(sock.localPort);
  process.kill(pid, "SIGKILL");
  const frames = await all;
  t.same(frames.filter((f) => f.method).map(chunkNo), range(n), "every chunk once, in order");
  t.same(sessions, [false, true], "one resume");
  t.not(holderPid((c as unknown as { ws: { _socket: { localPort: number } } }).ws._socket.localPort), pid, "served by another process");
  c.close();
});

t.test("3. nats-server stopped and restarted mid-stream: once it is back every reply arrives, once", async (t) => {
  const c = new RadiantClient({ url: stack.wsUrl, WebSocket: WebSocket as unknown as WebSocketCtor, backoffMs: 50 });
  await eventually("a session", () => c.sid !== undefined);
  const n = 2000;
  const all = collect(c, (fs) => fs.some((f) => f.id === "s"), 90_000);
  c.send(rpc("s", "radiant.test/stream", { count: n, delayMs: 1 }));
  await eventually("the stream under way", () => c.lastSeq > 0);
  await stack.nats.stop();
  await new Promise((r) => setTimeout(r, 1000));
  await stack.nats.start();
  const frames = await all;
  t.same(frames.filter((f) => f.method).map(chunkNo), range(n), "every chunk once, in order");
  c.close();
});

t.test("4. kill -9 a worker holding unacked requests: the other one answers them; each request answered once", async (t) => {
  const { c } = await openSession(stack.wsUrl);
  const n = 40;
  for (let i = 0; i < n; i++) c.send(rpc(i, "radiant.test/sleep", { ms: 1500 }));
  await eventually("the workers hold every request", async () => (await inboxState(stack)).ackPending === n);
  const victim = stack.workers[0]!;
  victim.child.kill("SIGKILL");
  const got = await c.take(n, 60_000);
  t.same(
    got.map((f) => f.id).sort((a, b) => Number(a) - Number(b)),
    range(n),
    "every request answered exactly once",
  );
  await new Promise((r) => setTimeout(r, 2500));
  t.equal(c.frames.length, n + 1, "and no late duplicates");
  await c.close();
  await stack.startWorker();
});

t.test("7. reconnect storm: 1,000 sessions dropped and resumed at once; nothing lost", async (t) => {
  const n = 1000;
  const sessions: { c: Client; session: Frame; first: Frame[] }[] = [];
  for (let i = 0; i < n; i += 100) {
    const batch = await Promise.all(Array.from({ length: 100 }, () => openSession(stack.wsUrl)));
    for (const b of batch) b.c.send(rpc("s", "radiant.test/stream", { count: 4 }));
    for (const b of batch) sessions.push({ ...b, first: await b.c.take(2) });
  }
  for (const s of sessions) s.c.ws.terminate();
  const resumed = await Promise.all(
    sessions.map(async (s) => {
      const r = await Client.connect(`${stack.wsUrl}?resume=${encodeURIComponent(s.session.resume_token!)}&last_seq=${s.first.at(-1)!.seq_num}`);
      const hello = await r.next(60_000);
      const rest = await r.take(3, 60_000); // chunks 2 and 3, then the result
      r.ws.terminate();
      return { hello, frames: [...s.first, ...rest] };
    }),
  );
  t.equal(resumed.filter((r) => r.hello.resumed === true).length, n, "every session resumed");
  const complete = resumed.filter((r) => JSON.stringify(r.frames.slice(0, 4).map(chunkNo)) === "[0,1,2,3]" && r.frames[4]?.id === "s");
  t.equal(complete.length, n, "every session got chunks 0..3 and its result, once, in order");
});
