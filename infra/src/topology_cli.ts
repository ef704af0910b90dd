// `pnpm radiant topology apply|check`: the one step that writes the JetStream
// topology (streams and the workers' consumer) with the operator's settings
// from the environment — NATS_URL, HISTORY_MAX_MSGS_PER_SESSION,
// HISTORY_MAX_AGE, HISTORY_MAX_BYTES, WORKER_ACK_WAIT_MS — and its check, as
// every process runs it at start. Run by `make run` and by a deploy before
// the processes start.
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { applyTopology, checkTopology } from "@radiant/wire";
import { loadOrExit, topologySettings, url } from "./env.js";

const USAGE = "usage: radiant topology apply|check";

const [what, verb] = process.argv.slice(2);
if (what !== "topology" || (verb !== "apply" && verb !== "check")) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(64);
}
const cfg = loadOrExit("radiant topology", () => ({
  natsUrl: url(process.env, "NATS_URL", "nats://localhost:4222", ["nats", "tls"]),
  ...topologySettings(process.env),
}));
const nc = await connect({ servers: cfg.natsUrl.split(",").map((s) => s.trim()), noAsyncTraces: true, timeout: 10_000 }).catch((e: unknown) => {
  process.stderr.write(`radiant topology: cannot reach NATS at ${cfg.natsUrl}: ${(e as Error).message}\n`);
  process.exit(1);
});
try {
  const jsm = await jetstreamManager(nc);
  if (verb === "apply") await applyTopology(jsm, cfg);
  const { problems } = await checkTopology(jsm, { consumer: true });
  for (const p of problems) process.stderr.write(`radiant topology: ${p}\n`);
  if (problems.length === 0) process.stdout.write(`radiant topology: ${verb === "apply" ? "applied" : "as this version needs it"} (${cfg.natsUrl})\n`);
  process.exitCode = problems.length === 0 ? 0 : 1;
} catch (e) {
  process.stderr.write(`radiant topology: ${(e as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await nc.close();
}
