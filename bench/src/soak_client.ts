// One load process of bench:soak (a process holds at most ~19,000 sockets:
// the open-file limit is 20,000). Driven over IPC by soak.ts: open sessions,
// sample ping round trips, run the reconnect storm, close.
import { stopWithParent } from "@radiant/infra/proc";
import { LiteClosed, openLite, pooled, sendText, type LiteConn } from "./ws_lite.js";
import type { SoakCommand, SoakReply } from "./soak_protocol.js";

const conns: LiteConn[] = [];
let port = 0;
let addresses: string[] = [];
const addressOf = (i: number) => addresses[i % addresses.length]!;

function reply(r: SoakReply): void {
  process.send!(r);
}

async function open(n: number, concurrency: number): Promise<void> {
  let failed = 0;
  const t0 = performance.now();
  await pooled(
    Array.from({ length: n }, (_, i) => i),
    concurrency,
    async (i) => {
      try {
        conns.push(await openLite(port, "127.0.0.1", addressOf(i)));
      } catch {
        failed++;
      }
    },
  );
  reply({ type: "opened", opened: conns.length, failed, seconds: (performance.now() - t0) / 1000 });
}

/** `count` MCP pings through the full path, one every `everyMs`, each from a random session. */
async function sample(count: number, everyMs: number): Promise<void> {
  const rtts: number[] = [];
  let lost = 0;
  const waits: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const c = conns[Math.floor(Math.random() * conns.length)]!;
    const id = `p${process.pid}-${i}`;
    const marker = `"id":"${id}"`;
    waits.push(
      new Promise<void>((resolve) => {
        const t0 = performance.now();
        const timer = setTimeout(() => {
          lost++;
          c.onText = undefined;
          resolve();
        }, 30_000);
        c.onText = (text) => {
          if (!text.includes(marker)) return;
          clearTimeout(timer);
          rtts.push(Math.round((performance.now() - t0) * 1000));
          c.onText = undefined;
          resolve();
        };
        sendText(c, `{"jsonrpc":"2.0","id":"${id}","method":"ping"}`);
      }),
    );
    await new Promise((r) => setTimeout(r, everyMs));
  }
  await Promise.all(waits);
  reply({ type: "sampled", rttsUs: rtts, lost });
}

/**
 * Every session sends a request that answers after `sleepMs`, then drops
 * without a goodbye and resumes at once; after its session frame it sends the
 * request again (as a client does for a request without answer: the gateway
 * runs it once). Each must get exactly one answer.
 */
async function storm(count: number, sleepMs: number, concurrency: number, timeoutMs: number): Promise<void> {
  const stormed = conns.slice(0, count);
  const request = `{"jsonrpc":"2.0","id":"storm","method":"radiant.test/sleep","params":{"ms":${sleepMs}}}`;
  const answers = new Map<LiteConn, number>();
  let errors = 0;
  let retried = 0;
  let resumedAgain = 0;
  const errorKinds: Record<string, number> = {};
  const watch = (c: LiteConn) => {
    c.onText = (text) => {
      if (!text.includes('"id":"storm"')) return;
      // an error frame names the request too, but it is no answer
      if (text.includes('"result"')) answers.set(c, (answers.get(c) ?? 0) + 1);
      else {
        errors++;
        const why = /"message":"([^"]{0,80})/.exec(text)?.[1] ?? "?";
        errorKinds[why] = (errorKinds[why] ?? 0) + 1;
        // "could not be queued": as a client does, send it again (the gateway runs it once)
        if (why.startsWith("Service unavailable")) {
          retried++;
          sendText(c, request);
        }
      }
    };
  };
  for (const c of stormed) {
    watch(c);
    sendText(c, request);
  }
  // the gateway reads them in: a moment, then every socket drops at once
  await new Promise((r) => setTimeout(r, 300));
  const t0 = performance.now();
  for (const c of stormed) c.socket.destroy();
  let resumed = 0;
  let refused = 0;
  let deferred = 0;
  let failed = 0;
  const failures: Record<string, number> = {};
  let lastResumeAt = 0;
  // every step has a deadline: a run always ends, and says what it could not finish
  const resumeUntil = Date.now() + timeoutMs;
  const resumeOne = async (c: LiteConn, i: number, again: boolean) => {
    const path = `/ws?resume=${encodeURIComponent(c.token)}&last_seq=${c.lastSeq}`;
    for (let attempt = 0; ; attempt++) {
      try {
        await openLite(port, "127.0.0.1", addressOf(i), path, c, true, 30_000);
        if (again) resumedAgain++;
        else if (c.resumed === true) resumed++;
        else refused++;
        lastResumeAt = performance.now();
        sendText(c, request);
        return;
      } catch (e) {
        const why = e instanceof LiteClosed ? `close ${e.code}` : (e as Error).message.replace(/\d+ ms/, "N ms");
        const later = why.includes("503") || why === "close 1013";
        if (later) deferred++;
        if (Date.now() > resumeUntil) {
          failed++;
          failures[why] = (failures[why] ?? 0) + 1;
          return;
        }
        // told to come back (or the connection failed): a jittered, growing pause, as a real client would
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(5000, 100 * 2 ** Math.min(attempt, 6))));
      }
    }
  };
  await pooled(stormed, concurrency, (c, i) => resumeOne(c, i, false));
  const resumeSeconds = (lastResumeAt - t0) / 1000;
  const until = Date.now() + timeoutMs;
  const indexOf = new Map(stormed.map((c, i) => [c, i]));
  while (answers.size < stormed.length && Date.now() < until) {
    // told after the session frame to come back (1013: HISTORY could not be read in time; 1012: a restart): resume again, as a client does
    const back = stormed.filter((c) => !answers.has(c) && (c.closedBy === 1013 || c.closedBy === 1012));
    if (back.length > 0) await pooled(back, concurrency, (c) => resumeOne(c, indexOf.get(c)!, true));
    await new Promise((r) => setTimeout(r, 100));
  }
  const answeredSeconds = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 1000)); // a late duplicate would show up here
  let duplicates = 0;
  for (const n of answers.values()) if (n > 1) duplicates += n - 1;
  // what became of the sessions that got no result: still open and waiting, or closed (by the server: its code)
  const lostKinds: Record<string, number> = {};
  for (const c of stormed) {
    if (answers.has(c)) continue;
    const why = c.closedBy !== undefined ? `closed ${c.closedBy}` : c.closed ? "socket closed" : "open, waiting";
    lostKinds[why] = (lostKinds[why] ?? 0) + 1;
  }
  reply({
    type: "stormed",
    sessions: stormed.length,
    resumed,
    refused,
    deferred,
    failed,
    failures,
    lost: stormed.length - answers.size,
    errors,
    errorKinds,
    lostKinds,
    retried,
    resumedAgain,
    duplicates,
    resumeSeconds,
    answeredSeconds,
    unanswered: stormed
      .filter((c) => !answers.has(c))
      .map((c) => c.sid)
      .slice(0, 100),
  });
}

process.on("message", (m: SoakCommand) => {
  switch (m.type) {
    case "open":
      port = m.port;
      addresses = m.addresses;
      void open(m.n, m.concurrency);
      break;
    case "sample":
      void sample(m.count, m.everyMs);
      break;
    case "storm":
      void storm(m.count, m.sleepMs, m.concurrency, m.timeoutMs);
      break;
    case "close":
      for (const c of conns) c.socket.destroy();
      process.exit(0);
  }
});
stopWithParent(() => process.exit(0));
reply({ type: "ready" });
