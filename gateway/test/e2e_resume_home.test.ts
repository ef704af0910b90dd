// A session resumed on a gateway process other than the one that made it (its
// home) is forwarded by its home: after a reconnect storm the NATS server
// holds one forwarding subscription per process, not one per session. Every
// message still arrives once, in order; a home killed -9 leaves its sessions
// to subscriptions of their own, and what it did not forward is read back.
import t from "tap";
import { execFileSync } from "node:child_process";
import { Client, eventually, liveRoutes, openSession, rpc, startStack, type Frame } from "./harness.js";

const stack = await startStack(t, { gatewayProcesses: 2 });
const subs = (prefix: string) => stack.nats.subscriptionsUnder(prefix);
const localPort = (c: Client) => (c.ws as unknown as { _socket: { localPort: number } })._socket.localPort;

/** The pid of the gateway process holding the server side of a client socket (ss). */
function holderPid(c: Client): number {
  const out = execFileSync("ss", ["-tnpH", "state", "established", `( dport = :${localPort(c)} )`], { encoding: "utf8" });
  const m = /pid=(\d+)/.exec(out);
  if (!m) throw new Error(`no process holds :${localPort(c)}: ${out}`);
  return Number(m[1]);
}

async function forwardedIn(): Promise<number> {
  const text = await (await fetch(`${stack.healthUrl}/metrics`)).text();
  return Number(/^radiant_sessions_forwarded_in (\d+)/m.exec(text)?.[1] ?? Number.NaN);
}

/** A stream of `n` chunks on a session: every chunk once, in order, then its result. */
async function streamOnce(c: Client, id: string, n: number, timeoutMs = 30_000): Promise<boolean> {
  c.send(rpc(id, "radiant.test/stream", { count: n }));
  const frames: Frame[] = [];
  while (!frames.some((f) => f.id === id && "result" in f)) frames.push(await c.next(timeoutMs));
  const chunks = frames.filter((f) => f.method).map((f) => (f.params as { i: number }).i);
  return JSON.stringify(chunks) === JSON.stringify(Array.from({ length: n }, (_, i) => i));
}

t.test("resumed away from home: forwarded by the home, no subscription each; a home killed -9 leaves them to subscriptions of their own", async (t) => {
  const n = 80;
  const opened = await Promise.all(Array.from({ length: n }, () => openSession(stack.wsUrl)));
  const pidOfHome = new Map<string, number>();
  for (const o of opened) pidOfHome.set(String(o.session.sid).slice(0, 6), holderPid(o.c));
  t.equal(pidOfHome.size, 2, "both processes made sessions");
  const outBefore = await subs("out.");
  for (const o of opened) o.c.ws.terminate();

  // every session resumes; the kernel hands each to either process
  const resumed = await Promise.all(
    opened.map(async ({ session }) => {
      const c = await Client.connect(`${stack.wsUrl}?resume=${encodeURIComponent(session.resume_token!)}&last_seq=0`);
      t.match(await c.next(), { type: "session", sid: session.sid, resumed: true });
      const homePid = pidOfHome.get(String(session.sid).slice(0, 6))!;
      return { c, homePid, holder: holderPid(c) };
    }),
  );
  const away = resumed.filter((r) => r.holder !== r.homePid);
  t.ok(away.length > 0 && away.length < n, `${away.length} of ${n} resumed away from home`);
  await eventually("the away ones forwarded by their homes", async () => (await forwardedIn()) === away.length);
  t.equal((await liveRoutes(stack)).away, 0, "no session holds a subscription of its own");
  t.equal(await subs("out."), outBefore, "as the NATS server counts them: no subscription per session");
  t.equal(await subs("fwd."), 2, "one forwarding subscription per process");

  const ok = await Promise.all(resumed.map((r, i) => streamOnce(r.c, `s${i}`, 20)));
  t.equal(ok.filter(Boolean).length, n, "every session: every chunk once, in order, at home or away");

  // kill -9 one process: the sessions the other holds for it must not go deaf
  const victim = away[0]!.homePid;
  const orphans = resumed.filter((r) => r.homePid === victim && r.holder !== victim);
  t.ok(orphans.length > 0, `${orphans.length} sessions held by the survivor have the killed process as their home`);
  process.kill(victim, "SIGKILL");
  // asked at once: their replies reach nobody until the survivor sees the home is gone and reads them back
  const after = await Promise.all(orphans.map((r, i) => streamOnce(r.c, `k${i}`, 20)));
  t.equal(after.filter(Boolean).length, orphans.length, "each got every chunk once, in order");
  t.equal((await liveRoutes(stack)).away >= orphans.length, true, "now each with a subscription of its own");
  for (const r of resumed) r.c.ws.terminate();
});
