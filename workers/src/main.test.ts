// A worker still waiting for NATS at start must not outlive whoever started it.
import t from "tap";
import { spawn } from "node:child_process";
import { entries } from "@radiant/infra/stack";
import { exited, waitFor } from "@radiant/infra/proc";

t.test("the parent dies while the worker waits for NATS: the worker exits", async (t) => {
  const parent = spawn("sleep", ["1"]);
  const worker = spawn(process.execPath, [entries.worker], {
    env: { PATH: process.env.PATH!, NATS_URL: "nats://127.0.0.1:1", RADIANT_PARENT_PID: String(parent.pid) },
    stdio: "ignore",
  });
  const timer = setTimeout(() => worker.kill("SIGKILL"), 15_000);
  const code = await exited(worker);
  clearTimeout(timer);
  t.equal(code, 0, "it stopped by itself, not by the test's SIGKILL");
});

t.test("SIGTERM while waiting for NATS: the worker exits at once", async (t) => {
  const worker = spawn(process.execPath, [entries.worker], {
    env: { PATH: process.env.PATH!, NATS_URL: "nats://127.0.0.1:1" },
    stdio: ["ignore", "pipe", "ignore"],
  });
  // once it says it waits (its signal handling is in place by then), however long a loaded machine takes to get there
  let out = "";
  worker.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  await waitFor("the worker to wait for NATS", async () => out.includes("waiting for NATS"), 30_000);
  worker.kill("SIGTERM");
  t.equal(await exited(worker), 0);
});
