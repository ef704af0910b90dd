// `make test` runs `bench:memory --quick` once: the bench works end to end and
// writes its result file. (Its figures are the bench's business, not a test's.)
import t from "tap";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { table } from "./results.js";

t.test("bench:memory --quick runs and writes bench/results/memory.json", async (t) => {
  const { stdout } = await promisify(execFile)(process.execPath, [fileURLToPath(new URL("../dist/memory.js", import.meta.url)), "--quick"], {
    timeout: 120_000,
  });
  t.match(stdout, /RADIANT gateway\s+\d+/);
  const r = JSON.parse(readFileSync(fileURLToPath(new URL("../results/memory.json", import.meta.url)), "utf8")) as Record<string, unknown>;
  t.match(r, { command: "memory", connections: 2000, machine: { cores: Number, memory: Number } });
  for (const k of ["bytes_per_conn_gateway", "bytes_per_conn_uws", "bytes_per_conn_ws", "bytes_per_sse_stream_gateway", "bytes_per_sse_stream_uws"])
    t.ok((r[k] as number) > 0, `${k} measured`);
});

t.test("the table lines up its columns", async (t) => {
  t.equal(
    table([
      ["a", "bb"],
      ["ccc", 1],
    ]),
    "a    bb\nccc  1 ",
  );
});
