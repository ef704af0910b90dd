// Every process a bench starts stops when the bench is interrupted: here
// bench:soak, mid-ramp, with its stack (nats-server, egress proxy, worker,
// gateway processes) and its load processes.
import t from "tap";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { descendants, exited } from "@radiant/infra/proc";

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  t.test(`bench:soak interrupted by ${signal}: nothing it started is left`, async (t) => {
    const bench = spawn(process.execPath, [fileURLToPath(new URL("../dist/soak.js", import.meta.url)), "--quick", "--connections", "400"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let said = "";
    bench.stderr.on("data", (d: Buffer) => (said += d));
    const until = Date.now() + 60_000;
    while (!said.includes("opening") && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    t.match(said, /opening 400 sessions/);
    const started = descendants(bench.pid!);
    t.ok(started.length >= 6, `its processes are up (${started.length})`);
    bench.kill(signal);
    await exited(bench);
    const gone = Date.now() + 30_000; // a gateway process whose NATS died with the bench waits out its shutdown grace
    while (started.some(alive) && Date.now() < gone) await new Promise((r) => setTimeout(r, 100));
    t.same(started.filter(alive), [], "every one of them has stopped");
  });
}

t.test("bench:throughput (no signal handler of its own) interrupted by SIGINT: nothing it started is left", async (t) => {
  const bench = spawn(process.execPath, [fileURLToPath(new URL("../dist/throughput.js", import.meta.url)), "--quick"], { stdio: "ignore" });
  const until = Date.now() + 60_000;
  // nats-server, egress proxy, 2 workers, the gateway supervisor and its process
  while (descendants(bench.pid!).length < 6 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  const started = descendants(bench.pid!);
  t.ok(started.length >= 6, `its processes are up (${started.length})`);
  bench.kill("SIGINT");
  await exited(bench);
  const gone = Date.now() + 30_000; // a gateway process whose NATS died with the bench waits out its shutdown grace
  while (started.some(alive) && Date.now() < gone) await new Promise((r) => setTimeout(r, 100));
  t.same(started.filter(alive), [], "every one of them has stopped");
});
