// bench:llm --quick end to end: it writes bench/results/llm.json with every
// part's figures, and every stream it opened got every word once, in order.
// Interrupted, it leaves none of its processes behind.
import t from "tap";
import { execFile, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { descendants, exited } from "@radiant/infra/proc";

const bench = fileURLToPath(new URL("../dist/llm.js", import.meta.url));
const p50p99 = { p50: Number, p99: Number };

/** the parts of the result the checks below read */
interface Result {
  latency: { ttft_ms: { direct: { p50: number }; radiant: { p50: number } } };
  throughput: { chunks_per_s: number };
  many_streams: { chunks_per_s: number };
  history: { words: number; rows: { coalesce_ms: number; pace_ms: number; messages: number }[] };
}

t.test("bench:llm --quick runs and writes bench/results/llm.json", async (t) => {
  const { stdout } = await promisify(execFile)(process.execPath, [bench, "--quick"], { timeout: 110_000 });
  t.match(stdout, /through RADIANT\s+\d/);
  const r = JSON.parse(readFileSync(fileURLToPath(new URL("../results/llm.json", import.meta.url)), "utf8")) as Result;
  t.match(r, {
    command: "llm",
    quick: true,
    machine: { cores: Number, memory: Number },
    latency: {
      ttft_ms: { direct: p50p99, egress: p50p99, radiant: p50p99 },
      added_ttft_ms: p50p99,
      added_ttft_paired_ms: { radiant: p50p99 },
      chunk_gap_ms: { direct: p50p99, radiant: p50p99 },
      chunk_added_ms: { radiant: p50p99 },
      request_to_upstream_ms: { direct: p50p99, radiant: p50p99 },
      chunk_upstream_to_client_ms: { direct: p50p99, radiant: p50p99 },
      radiant_segments_ms: { client_to_inbox_publish: p50p99, chunk_republished_to_client: p50p99 },
      targets: { p50_met: Boolean, p99_met: Boolean },
      failures: 0,
    },
    throughput: { chunks_per_s: Number, direct_chunks_per_s: Number, failures: 0 },
    many_streams: { streams: 100, words: 20, complete: 100, failures: 0, chunks: 2000, wall_s: Number, chunks_per_s: Number, ttft_ms: p50p99 },
    ttft_at_fast_pace: [
      { coalesce_ms: 5, direct: p50p99, radiant: p50p99, failures: 0 },
      { coalesce_ms: 0, direct: p50p99, radiant: p50p99, failures: 0 },
    ],
  });
  const { latency, throughput, many_streams: many, history } = r;

  t.ok(latency.ttft_ms.direct.p50 > 0 && latency.ttft_ms.radiant.p50 > latency.ttft_ms.direct.p50, "TTFT measured on both paths");
  t.ok(throughput.chunks_per_s > 0 && many.chunks_per_s > 0, "chunks per second measured");
  // HISTORY: without coalescing at least a message per word; with it, a burst is a few messages
  const row = (c: number, p: number) => history.rows.find((x) => x.coalesce_ms === c && x.pace_ms === p)!;
  t.ok(row(0, 0).messages >= history.words, `WORKER_COALESCE_MS=0: ${row(0, 0).messages} messages for ${history.words} words`);
  t.ok(row(5, 0).messages < history.words / 4, `WORKER_COALESCE_MS=5, no pause: ${row(5, 0).messages} messages`);
});

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));

t.test("bench:llm interrupted by SIGINT: nothing it started is left", async (t) => {
  const child = spawn(process.execPath, [bench, "--quick"], { stdio: ["ignore", "ignore", "pipe"] });
  let said = "";
  child.stderr.on("data", (d: Buffer) => (said += d));
  const until = Date.now() + 60_000;
  while (!said.includes("latency:") && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  const started = descendants(child.pid!);
  // nats-server, the echo upstreams, the egress proxy, 2 workers, the gateway supervisor and its processes
  t.ok(started.length >= 7, `its processes are up (${started.length})`);
  child.kill("SIGINT");
  await exited(child);
  const gone = Date.now() + 30_000;
  while (started.some(alive) && Date.now() < gone) await new Promise((r) => setTimeout(r, 100));
  t.same(started.filter(alive), [], "every one of them has stopped");
});
