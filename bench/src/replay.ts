// bench:replay — replay speed (10,000 missed messages to one resuming client;
// `--missed N` for a longer replay, less at the mercy of a few milliseconds'
// noise) and resume latency (from the upgrade request to the first replayed frame).
// The missed messages are one streamed answer's frames, which the worker
// stores a thousand to a HISTORY message; `--singly` makes them answers to as
// many requests, each stored on its own (the replay reads one HISTORY message per frame).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { Stack } from "@radiant/infra/stack";
import { newHistogram, percentilesMs } from "./latency.js";
import { table, writeResult } from "./results.js";

const quick = process.argv.includes("--quick");
const missedAt = process.argv.indexOf("--missed");
const MISSED = missedAt > 0 ? Number(process.argv[missedAt + 1]) : quick ? 2000 : 10_000;
const RESUMES = quick ? 20 : 200;
const SINGLY = process.argv.includes("--singly");
/** requests a singly-stored source keeps unanswered at once (under GATEWAY_MAX_INFLIGHT) */
const WINDOW = 256;
const DEADLINE_S = 60 + MISSED / 1000;

type Frame = { seq_num?: number; resume_token?: string; id?: unknown; type?: string };

/** Open a socket and collect frames until `until` says stop; resolves with the frames and timings. */
function session(url: string, until: (f: Frame, n: number) => boolean, onOpen?: (ws: WebSocket) => void) {
  const t0 = process.hrtime.bigint();
  const frames: Frame[] = [];
  let firstAfterSession = 0n;
  return new Promise<{ frames: Frame[]; firstMs: number; totalMs: number; ws: WebSocket }>((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on("open", () => onOpen?.(ws));
    ws.on("message", (d) => {
      const f = JSON.parse(d.toString()) as Frame;
      frames.push(f);
      if (frames.length === 2) firstAfterSession = process.hrtime.bigint();
      if (until(f, frames.length)) {
        const end = process.hrtime.bigint();
        resolve({ frames, firstMs: Number(firstAfterSession - t0) / 1e6, totalMs: Number(end - t0) / 1e6, ws });
      }
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), "radiant-bench-"));
// HISTORY keeps 10,000 messages a session by default: a longer replay needs room for all of it
const stack = await Stack.start({
  dir,
  env: { HISTORY_MAX_MSGS_PER_SESSION: String(Math.max(10_000, MISSED + 10)) },
  workerEnv: { WORKER_TEST_METHODS: "true" },
});

/** MISSED echo requests, WINDOW unanswered at a time */
function echoes(ws: WebSocket): void {
  let sent = 0;
  const send = (k: number) => {
    for (; k > 0 && sent < MISSED; k--) ws.send(`{"jsonrpc":"2.0","id":${sent++},"method":"radiant.test/echo"}`);
  };
  ws.once("message", () => {
    send(WINDOW);
    ws.on("message", () => send(1));
  });
}

// every step has an end: a replay that stalls says so instead of waiting forever
const deadline = setTimeout(() => {
  process.stderr.write(`bench:replay: not done within ${DEADLINE_S} s\n`);
  void stack.stop().finally(() => process.exit(1));
}, DEADLINE_S * 1000);

// a session that received MISSED messages; then pretend it saw none of them
const source = SINGLY
  ? await session(stack.wsUrl, (_f, n) => n === MISSED + 1, echoes)
  : await session(
      stack.wsUrl,
      (f) => f.id === "s",
      (ws) => ws.once("message", () => ws.send(JSON.stringify({ jsonrpc: "2.0", id: "s", method: "radiant.test/stream", params: { count: MISSED - 1 } }))),
    );
source.ws.terminate();
const token = source.frames[0]!.resume_token!;
const firstSeq = source.frames[1]!.seq_num!;
const lastSeq = source.frames.at(-1)!.seq_num!;

const replay = await session(`${stack.wsUrl}?resume=${encodeURIComponent(token)}&last_seq=${firstSeq - 1}`, (_f, n) => n === MISSED + 1);
replay.ws.terminate();
const replaySeconds = (replay.totalMs - replay.firstMs) / 1000;

const h = newHistogram();
for (let i = 0; i < RESUMES; i++) {
  const r = await session(`${stack.wsUrl}?resume=${encodeURIComponent(token)}&last_seq=${lastSeq - 1}`, (_f, n) => n === 2);
  h.recordValue(Math.round(r.firstMs * 1000));
  r.ws.terminate();
}
clearTimeout(deadline);
await stack.stop();
rmSync(dir, { recursive: true, force: true });

const latency = percentilesMs(h);
const out = {
  replay_msgs: MISSED,
  stored: SINGLY ? "one HISTORY message each" : "1,000 to a HISTORY message",
  replay_seconds: Number(replaySeconds.toFixed(3)),
  replay_msgs_per_s: Math.round(MISSED / replaySeconds),
  resumes: RESUMES,
  resume_latency_ms: { p50: latency.p50, p99: latency.p99, max: latency.max },
};
const path = writeResult(SINGLY ? "replay_singly" : "replay", out);
process.stdout.write(
  `${table([
    ["measure", "value"],
    [`replay of ${MISSED} missed messages (${out.stored})`, `${out.replay_msgs_per_s} msgs/s (${out.replay_seconds} s)`],
    [`resume latency, upgrade → first replayed frame (${RESUMES} resumes)`, `p50 ${out.resume_latency_ms.p50} ms, p99 ${out.resume_latency_ms.p99} ms`],
  ])}\n\n${path}\n`,
);
process.exit(0);
