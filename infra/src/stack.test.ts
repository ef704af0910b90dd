// The Stack's own behaviour: restart backoff, the resume-token secret (the
// stack's and `make run`'s file), supervision of nats-server, the egress proxy
// and workers, and exits that are not restarted.
import t from "tap";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import { once } from "node:events";
import { Backoff, loadOrCreateResumeTokenSecret, Stack, type StackOptions } from "./stack.js";
import { descendants, waitFor } from "./proc.js";

const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
};
/** the processes of ours running `what` */
const running = (what: string) => descendants(process.pid).filter((p) => cmdline(p).includes(what));

interface Teardown {
  teardown(f: () => unknown): void;
}

async function startStack(t: Teardown, o: Partial<StackOptions> = {}): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), "radiant-test-stack-"));
  const stack = await Stack.start({ dir, workers: 0, noGateway: true, ...o });
  t.teardown(async () => {
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return stack;
}

t.test("Backoff: 250 ms doubling to 10 s; back to 250 ms after 30 s up", async (t) => {
  let now = 0;
  const b = new Backoff(250, 10_000, 30_000, () => now);
  const delays = [];
  for (let i = 0; i < 8; i++) {
    b.started();
    now += 100;
    delays.push(b.next());
  }
  t.same(delays, [250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
  b.started();
  now += 29_999;
  t.equal(b.next(), 10_000, "up 29.999 s: still backing off");
  b.started();
  now += 30_000;
  t.equal(b.next(), 250, "up 30 s: reset");
  b.started();
  now += 10;
  t.equal(b.next(), 500, "and doubling again");
});

t.test("make run's resume-token secret file: made once (0600, 48 characters), then reused", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "radiant-test-secret-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "data", "resume-token-secret");
  const first = loadOrCreateResumeTokenSecret(file);
  t.equal(first.created, true, "created when missing (its folder too)");
  t.match(first.secret, /^[A-Za-z0-9_-]{48}$/, "48 base64url characters");
  t.equal(statSync(file).mode & 0o777, 0o600, "mode 0600");
  const again = loadOrCreateResumeTokenSecret(file);
  t.same(again, { secret: first.secret, created: false }, "read back, not made again");
  t.equal(readFileSync(file, "utf8").trim(), first.secret);
  t.not(loadOrCreateResumeTokenSecret(join(dir, "other")).secret, first.secret, "another file, another secret");

  writeFileSync(file, "too-short\n");
  t.throws(() => loadOrCreateResumeTokenSecret(file), /fewer than 32 characters: delete it/, "a short one is refused, not replaced");
  t.equal(readFileSync(file, "utf8"), "too-short\n");
});

t.test("Stack.env: one random 48-character RESUME_TOKEN_SECRET per stack, unless the caller gives one", async (t) => {
  const saved = process.env.RESUME_TOKEN_SECRET;
  t.teardown(() => {
    if (saved === undefined) delete process.env.RESUME_TOKEN_SECRET;
    else process.env.RESUME_TOKEN_SECRET = saved;
  });
  delete process.env.RESUME_TOKEN_SECRET;
  const a = await startStack(t);
  const b = await startStack(t, { env: { RESUME_TOKEN_SECRET: "from-the-options-x".repeat(2) } });
  const own = a.env().RESUME_TOKEN_SECRET!;
  t.match(own, /^[A-Za-z0-9_-]{48}$/);
  t.equal(a.env({ X: "1" }).RESUME_TOKEN_SECRET, own, "the same for every process");
  t.not(b.env().RESUME_TOKEN_SECRET, own);
  t.equal(b.env().RESUME_TOKEN_SECRET, "from-the-options-x".repeat(2), "o.env");
  t.equal(b.env({ RESUME_TOKEN_SECRET: "extra" }).RESUME_TOKEN_SECRET, "extra", "extra (gatewayEnv, workerEnv) first");
  process.env.RESUME_TOKEN_SECRET = "from-process-env";
  t.equal(a.env().RESUME_TOKEN_SECRET, "from-process-env", "process.env");
  process.env.RESUME_TOKEN_SECRET = "";
  t.equal(a.env().RESUME_TOKEN_SECRET, own, "an empty one in process.env counts as none");
});

t.test("not supervised: firstExit() reports the first process to exit, nothing is restarted", async (t) => {
  const stack = await startStack(t);
  const pid = stack.egress!.child.pid!;
  process.kill(pid, "SIGKILL");
  t.same(await stack.firstExit(), { name: "egress-proxy", code: null, signal: "SIGKILL" });
  t.equal(stack.egress!.restarts, 0);
  t.equal(stack.egress!.child.pid, pid);
});

t.test("supervised: nats-server, the egress proxy and a worker killed with -9 come back; stop() restarts nothing", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "radiant-test-stack-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const stack = await Stack.start({ dir, workers: 1, noGateway: true, supervise: true, workerEnv: { WORKER_TEST_METHODS: "true" } });
  t.teardown(() => stack.stop());
  const log = () => readFileSync(join(dir, "stack.log"), "utf8");

  const natsPid = stack.nats.pid!;
  process.kill(natsPid, "SIGKILL");
  await waitFor("a new nats-server", async () => stack.nats.running && stack.nats.pid !== natsPid, 30_000);
  await waitFor("nats-server healthy", async () => (await fetch(`${stack.nats.monitorUrl}/healthz?js-enabled-only=true`)).ok, 30_000);
  t.pass("nats-server back on the same ports");
  t.match(log(), /"process":"nats-server","code":null,"signal":"SIGKILL","delayMs":250,"msg":"nats-server exited; restarting it in 250 ms"/);

  // its port taken while it is down: the restart fails, and is tried again until the port is free
  const again = stack.nats.pid!;
  process.kill(again, "SIGKILL");
  await waitFor("nats-server down", async () => !stack.nats.running, 10_000, 5);
  const squatter = createServer();
  t.teardown(() => void squatter.close());
  squatter.listen(stack.nats.port, stack.host);
  await once(squatter, "listening");
  // (killed before the stack saw it healthy, it counts as a restart that failed: either way, no "exited" line needed here)
  await waitFor("a failed restart", async () => /"msg":"nats-server did not come back; restarting it in \d+ ms"/.test(log()), 30_000);
  t.match(log(), /"process":"nats-server","code":null,"signal":null,"delayMs":\d+,"error":"nats-server exited[^"]*"/, "logged with its error");
  squatter.close();
  await waitFor("nats-server healthy", async () => stack.nats.running && (await fetch(`${stack.nats.monitorUrl}/healthz?js-enabled-only=true`)).ok, 30_000);
  t.pass("back once its port is free");

  const egressPid = stack.egress!.child.pid!;
  process.kill(egressPid, "SIGKILL");
  await waitFor("a new egress proxy", async () => stack.egress!.child.pid !== egressPid, 30_000);
  await waitFor("egress proxy /health", async () => (await fetch(`${stack.egressUrl}/health`)).ok, 30_000);
  t.equal(stack.egress!.restarts, 1);

  const w = stack.workers[0]!;
  const workerPid = w.child.pid!;
  process.kill(workerPid, "SIGKILL");
  await waitFor("the worker ready again", async () => w.restarts === 1 && w.output.split("--- restarted ---").at(-1)!.includes("worker ready"), 30_000);
  t.not(w.child.pid, workerPid);
  t.match(log(), /"process":"worker-0","code":null,"signal":"SIGKILL","delayMs":250/);

  const pids = [stack.nats.pid!, stack.egress!.child.pid!, w.child.pid!];
  await stack.stop();
  t.same(running(dir), [], "nats-server gone");
  t.same(running("egress-proxy/dist/main.js").concat(running("workers/dist/main.js")), [], "egress proxy and worker gone");
  // a negative check: longer than the first restart delay, nothing came back
  await new Promise((r) => setTimeout(r, 750));
  t.same(running(dir).concat(running("egress-proxy/dist/main.js"), running("workers/dist/main.js")), [], "nothing restarted after stop()");
  t.notOk(pids.some((p) => descendants(process.pid).includes(p)));
});

t.test("supervised with a NATS cluster: a node other than the first killed -9 comes back (make run CLUSTER=3)", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "radiant-test-stack-cluster-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const stack = await Stack.start({ dir, workers: 0, noGateway: true, echo: false, supervise: true, natsCluster: 3 });
  t.teardown(() => stack.stop());
  const log = () => readFileSync(join(dir, "stack.log"), "utf8");
  // the first node is the single server's case above: the last one here
  const node = stack.cluster!.nodes[2]!;
  const pid = node.pid!;
  process.kill(pid, "SIGKILL");
  await waitFor("n3 back", async () => node.running && node.pid !== pid, 60_000);
  t.match(log(), /"process":"nats-server n3","code":null,"signal":"SIGKILL"/, "n3 restarted, and logged");
});

t.test("supervised: a worker with an invalid configuration (exit 2) is not restarted; firstExit() says why", async (t) => {
  const stack = await startStack(t, { supervise: true });
  await t.rejects(stack.startWorker({ WORKER_CONCURRENCY: "lots" }), /worker-0 exited with 2/);
  t.same(await stack.firstExit(), { name: "worker-0", code: 2, signal: null, reason: "invalid configuration" });
  t.equal(stack.workers[0]!.restarts, 0);
});
