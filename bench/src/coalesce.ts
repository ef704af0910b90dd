// bench:coalesce — HISTORY messages per streamed answer with and without the
// workers' coalescing, same run: a stream of N chunks (radiant.test/stream),
// paced like a model's tokens, through the full path to a WebSocket client.
// Counts what HISTORY stored for the answer and checks the client got every
// chunk once, in order. A window holds back what comes within it, so an
// answer costs at most (its duration / window) + 1 messages however many
// chunks it has: a window shorter than the pace between chunks saves nothing.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { Stack } from "@radiant/infra/stack";
import { HISTORY_STREAM, subjects, type SessionId } from "@radiant/wire";
import { table, writeResult } from "./results.js";

const quick = process.argv.includes("--quick");
const CHUNKS = quick ? 300 : 2000;
/** ms between chunks: a tight loop, then token-like paces */
const PACES = quick ? [0, 2] : [0, 1, 2, 5, 20];
/** WORKER_COALESCE_MS: off, the default, and a wider window (fewer messages for slow streams, a little later each) */
const WINDOWS = quick ? [0, 5] : [0, 5, 50];

interface Row {
  coalesceMs: number;
  paceMs: number;
  messages: number;
  seconds: number;
}

async function streamOnce(stack: Stack, paceMs: number): Promise<{ sid: SessionId; seconds: number }> {
  const ws = new WebSocket(stack.wsUrl, { perMessageDeflate: false });
  let sid: SessionId | undefined;
  let next = 0;
  let t0 = 0;
  const done = new Promise<number>((resolve, reject) => {
    ws.on("message", (d) => {
      const f = JSON.parse(d.toString()) as { type?: string; sid?: SessionId; method?: string; params?: { i: number }; id?: string };
      if (f.type === "session") {
        sid = f.sid;
        t0 = performance.now();
        ws.send(JSON.stringify({ jsonrpc: "2.0", id: "s", method: "radiant.test/stream", params: { count: CHUNKS, delayMs: paceMs } }));
      } else if (f.method) {
        if (f.params!.i !== next++) reject(new Error(`chunk ${f.params!.i} where ${next - 1} was due`));
      } else if (f.id === "s") {
        if (next !== CHUNKS) reject(new Error(`${next} of ${CHUNKS} chunks`));
        resolve((performance.now() - t0) / 1000);
      }
    });
    ws.on("error", reject);
  });
  const seconds = await done;
  ws.terminate();
  return { sid: sid!, seconds };
}

const rows: Row[] = [];
for (const coalesceMs of WINDOWS) {
  const dir = mkdtempSync(join(tmpdir(), "radiant-bench-"));
  const stack = await Stack.start({ dir, workerEnv: { WORKER_TEST_METHODS: "true", WORKER_COALESCE_MS: String(coalesceMs) } });
  const nc = await connect({ servers: stack.nats.url });
  const jsm = await jetstreamManager(nc);
  try {
    for (const paceMs of PACES) {
      const { sid, seconds } = await streamOnce(stack, paceMs);
      const subject = subjects.history(sid);
      const si = await jsm.streams.info(HISTORY_STREAM, { subjects_filter: subject });
      rows.push({ coalesceMs, paceMs, messages: si.state.subjects?.[subject] ?? 0, seconds: Number(seconds.toFixed(2)) });
    }
  } finally {
    await nc.close();
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const of = (c: number, p: number) => rows.find((r) => r.coalesceMs === c && r.paceMs === p)!;
const path = writeResult("coalesce", { chunks: CHUNKS, rows });
process.stdout.write(
  `${table([
    [
      "ms between chunks",
      ...WINDOWS.map((w) => `HISTORY messages, WORKER_COALESCE_MS=${w}${w === 5 ? " (default)" : ""}`),
      `answer took (${WINDOWS.join(" / ")} ms windows)`,
    ],
    ...PACES.map((p) => [p, ...WINDOWS.map((w) => of(w, p).messages), WINDOWS.map((w) => `${of(w, p).seconds} s`).join(" / ")]),
  ])}\n\n${CHUNKS} chunks and a result per answer; every chunk arrived once, in order.\n${path}\n`,
);
process.exit(0);
