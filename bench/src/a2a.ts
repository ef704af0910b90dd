// bench:a2a — A2A v1.0 `SendMessage` (blocking message/send) round trips through RADIANT
// (gateway → INBOX → worker → HTTP to the agent; the task's events stored in KV and A2A_EVENTS,
// followed back → HISTORY → gateway) against the same agent called straight, same run:
// @a2a-js/sdk's client on both paths, one client calling in sequence and several at once;
// every answer checked.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { ChildProcess } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SendMessageRequest, type SendMessageResult, TaskState } from "@a2a-js/sdk";
import { type Client, ClientFactory } from "@a2a-js/sdk/client";
import { freePort, stopChild, waitFor } from "@radiant/infra/proc";
import { Stack } from "@radiant/infra/stack";
import { A2A_TASKS_BUCKET } from "@radiant/wire";
import { type Comparison, cleanUpOnce, comparePaths, logger, main, readOptions, report, spawnUpstream, timeHops } from "./compare.js";
import { round } from "./results.js";

const options = readOptions("a2a", {
  calls: { quick: 300, full: 1000 },
  // warm-up calls per path and mode: connections, JIT, the gateway's copy of the card
  warmup: { quick: 50, full: 100 },
});
const CALL_TIMEOUT_MS = 10_000;
/** the agent's name behind RADIANT: `/a2a/bench` */
const AGENT = "bench";

const log = logger("a2a");

const agentMain = fileURLToPath(new URL("./a2a_agent.js", import.meta.url));

const dir = mkdtempSync(join(tmpdir(), "radiant-bench-"));
const agentPort = await freePort("127.0.0.1");
const agentUrl = `http://127.0.0.1:${agentPort}/`;
let agent: ChildProcess | undefined;
let stack: Stack | undefined;
const cleanUp = cleanUpOnce(async () => {
  await stack?.stop();
  if (agent) await stopChild(agent);
  rmSync(dir, { recursive: true, force: true });
});

async function startAgent(): Promise<void> {
  log(`starting the @a2a-js/sdk agent (A2A 1.0, JSON-RPC) on 127.0.0.1:${agentPort}`);
  const started = spawnUpstream("the agent", agentPort, [agentMain], { PORT: String(agentPort), RADIANT_PARENT_PID: String(process.pid) });
  agent = started.child;
  await started.listening;
}

/** @a2a-js/sdk's client as an application makes it: from the card under `base` (v1.0, JSON-RPC). */
const connectClient = (base: string): Promise<Client> => new ClientFactory().createFromUrl(base);

/** The text of a result's first artifact, if it is a task. */
const artifactText = (r: SendMessageResult): string | undefined =>
  "artifacts" in r ? r.artifacts[0]?.parts.map((p) => (p.content?.$case === "text" ? p.content.value : "")).join("") : undefined;

let sent = 0;
/** One send: undefined when the answer is right (a completed task, the message's text its artifact), else what was wrong with it. */
async function send(c: Client, text: string): Promise<string | undefined> {
  const request = SendMessageRequest.fromJSON({ message: { messageId: `b-${++sent}`, role: "ROLE_USER", parts: [{ text }] } });
  const r = await c.sendMessage(request, { signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
  if (!("status" in r)) return `a message, not a task, for ${JSON.stringify(text)}: ${JSON.stringify(r).slice(0, 200)}`;
  if (r.status?.state !== TaskState.TASK_STATE_COMPLETED) return `task ${r.id} in state ${r.status?.state} for ${JSON.stringify(text)}`;
  const got = artifactText(r);
  return got === text ? undefined : `wrong artifact for ${JSON.stringify(text)}: ${JSON.stringify(got)}`;
}

const a2a: Comparison<Client, "gateway" | "worker" | "nats_server" | "agent"> = {
  name: "a2a",
  options,
  connect: connectClient,
  call: send,
  verb: "send",
  urls: () => ({ direct: agentUrl, radiant: `http://127.0.0.1:${stack!.gatewayPort}/a2a/${AGENT}/` }),
  nats: () => stack!.nats.url,
  pids: () => ({
    gateway: [stack!.gateway!.child.pid!],
    worker: stack!.workers.map((w) => w.child.pid!),
    nats_server: [stack!.nats.pid!],
    agent: [agent!.pid!],
  }),
};

// ---- where RADIANT's time goes: one client's calls, timed at each NATS hop ----

/**
 * What this process sees of a call on NATS, in order. A core subscription here hears each
 * publish one hop after it was made (~0.1 ms): the gateway's INBOX publish, JetStream's
 * delivery of it to the worker's pull (an `_INBOX` subject), the task made in KV (after the
 * worker's POST to the agent has its answer's head), the task stored as the first of its
 * events (A2A_EVENTS), the last event stored (COMPLETED: each of the agent's events is a KV
 * write then an A2A_EVENTS publish), the worker's HISTORY publish (once its consumer of the
 * task's events has read COMPLETED back) and the copy the server republishes once stored,
 * which the gateway takes to the client.
 */
const MARKS = ["inbox_publish", "worker_delivery", "task_created", "task_stored", "completed_stored", "history_publish", "republished"] as const;
type Mark = (typeof MARKS)[number];
const SEGMENTS = [
  "client_to_inbox_publish",
  "inbox_publish_to_worker_delivery",
  "worker_delivery_to_task_created",
  "task_created_to_task_stored",
  "task_stored_to_completed_stored",
  "completed_stored_to_history_publish",
  "history_publish_to_republished",
  "republished_to_client",
] as const;

async function tracePass() {
  // JetStream API requests while the timed calls run (a consumer made per send to follow its task, its pulls, KV reads), by kind
  const api = new Map<string, number>();
  let countingApi = false;
  const times = await timeHops(a2a, {
    marks: MARKS,
    segments: SEGMENTS,
    watch: (nc, hops) => {
      /** a task's id → its call's message (known from the task's first event, which holds the message) */
      const byTask = new Map<string, string>();
      const first = (which: Mark) => (_e: unknown, m: { subject: string; data: Uint8Array }) => {
        const t = performance.now();
        const key = hops.callIn(Buffer.from(m.data).toString("latin1"));
        if (key !== undefined) hops.of(key)[which] ??= t;
      };
      const subs: [string, (_e: unknown, m: { subject: string; data: Uint8Array }) => void][] = [
        ["in.>", first("inbox_publish")],
        // the first `_INBOX` copy with the message is JetStream's delivery to the worker (the worker's own consumer of the task's events comes later)
        ["_INBOX.>", first("worker_delivery")],
        [`$KV.${A2A_TASKS_BUCKET}.>`, first("task_created")],
        [
          "a2a.ev.*",
          (_e, m) => {
            const t = performance.now();
            const task = m.subject.slice("a2a.ev.".length);
            let key = byTask.get(task);
            if (key === undefined) {
              key = hops.callIn(Buffer.from(m.data).toString("latin1"));
              if (key === undefined) return;
              byTask.set(task, key);
            }
            const marks = hops.of(key);
            marks.task_stored ??= t;
            // the task's last event is its COMPLETED status
            marks.completed_stored = t;
          },
        ],
        ["hist.>", first("history_publish")],
        ["out.>", first("republished")],
      ];
      for (const [subject, callback] of subs) nc.subscribe(subject, { callback });
      nc.subscribe("$JS.API.>", {
        callback: (_e, m) => {
          if (!countingApi) return;
          const t = m.subject.split(".");
          const kind = t[2] === "CONSUMER" ? t.slice(2, t[3] === "MSG" ? 5 : 4).join(".") : t.slice(2, 4).join(".");
          api.set(kind, (api.get(kind) ?? 0) + 1);
        },
      });
    },
    onTimed: (timed) => {
      countingApi = timed;
    },
  });
  return {
    ...times,
    jetstream_api_per_call: Object.fromEntries([...api].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, round(v / times.calls, 2)])),
  };
}

await main("a2a", cleanUp, async () => {
  await startAgent();
  const config = join(dir, "a2a-agents.json");
  writeFileSync(config, JSON.stringify({ agents: { [AGENT]: { url: agentUrl } } }));
  log("starting the stack: 1 gateway process, 1 worker");
  stack = await Stack.start({ dir, echo: false, env: { RADIANT_A2A_CONFIG: config } });
  // the gateway fetches the agent's card in the background: a client made before it has it would fail
  const cardUrl = `http://127.0.0.1:${stack.gatewayPort}/a2a/${AGENT}/.well-known/agent-card.json`;
  await waitFor("RADIANT to serve the agent's card", async () => (await fetch(cardUrl, { headers: { "A2A-Version": "1.0" } })).ok);

  const results = await comparePaths(a2a);
  const trace = await tracePass();
  return report(a2a, results, trace, {
    title: "SendMessage (ms)",
    straight: "straight to the agent",
    segments: SEGMENTS,
    more: `JetStream API requests per call, same pass: ${Object.entries(trace.jetstream_api_per_call)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}\n`,
  });
});
