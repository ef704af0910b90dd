// End-to-end harness for the workers alone: a real nats-server (JetStream) and
// real worker processes (workers/dist/main.js, so build first), no gateway.
// The test plays the gateway: it publishes INBOX envelopes (encodeInbox) and
// reads what the workers store in HISTORY, live on out.> and stored.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type { ChildProcess } from "node:child_process";
import { connect } from "@nats-io/transport-node";
import type { Msg, MsgHdrs, NatsConnection, Subscription } from "@nats-io/nats-core";
import { DeliverPolicy, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import {
  applyTopology,
  INBOX_STREAM,
  HISTORY_STREAM,
  controlHeaders,
  encodeInbox,
  headers,
  makeSessionId,
  requestMsgId,
  rpcRequestId,
  subjects,
  type CancelReason,
  type Operation,
  type Protocol,
  type SessionId,
} from "@radiant/wire";
import { topologySettings } from "@radiant/infra/env";
import { NatsServer } from "@radiant/infra/nats-server";
import { entries } from "@radiant/infra/stack";
import { exited, GiveUp, spawnOwned, stopChild, waitFor } from "@radiant/infra/proc";
import { decode, type Decoded } from "./fakes.js";

// tap stops a file that overruns with SIGTERM: exit so the children are killed too
for (const sig of ["SIGTERM", "SIGINT"] as const) process.once(sig, () => process.exit(1));

interface Teardown {
  teardown(f: () => unknown): void;
}

export interface WorkerProc {
  child: ChildProcess;
  output: string;
  /** log lines (JSON) */
  lines(): Record<string, unknown>[];
}

export interface Stored extends Decoded {
  seq: number;
}

export class WorkerStack {
  readonly workers: WorkerProc[] = [];
  private constructor(
    readonly dir: string,
    readonly nats: NatsServer,
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    private readonly env: Record<string, string>,
  ) {}

  static async start(t: Teardown, env: Record<string, string> = {}): Promise<WorkerStack> {
    const dir = mkdtempSync(join(tmpdir(), "radiant-workers-test-"));
    const nats = await NatsServer.start({ storeDir: join(dir, "nats") });
    const nc = await connect({ servers: nats.url, name: "workers-test" });
    const s = new WorkerStack(dir, nats, nc, jetstream(nc), await jetstreamManager(nc), env);
    // what `radiant topology apply` does before a deploy starts its workers
    await applyTopology(s.jsm, topologySettings(env));
    t.teardown(async () => {
      await Promise.all(s.workers.map((w) => stopChild(w.child, 2000)));
      await nc.close().catch(() => {});
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    return s;
  }

  /** Start a worker process (test methods on) and wait for "worker ready". */
  async startWorker(env: Record<string, string> = {}): Promise<WorkerProc> {
    const child = spawnOwned(process.execPath, [entries.worker], {
      env: {
        PATH: process.env.PATH!,
        RADIANT_PARENT_PID: String(process.pid),
        NATS_URL: this.nats.url,
        WORKER_TEST_METHODS: "true",
        LOG_LEVEL: "debug",
        ...this.env,
        ...env,
      },
    });
    const w: WorkerProc = {
      child,
      output: "",
      lines: () =>
        w.output
          .split("\n")
          .filter((l) => l.startsWith("{"))
          .map((l) => JSON.parse(l) as Record<string, unknown>),
    };
    const keep = (b: Buffer) => void (w.output += b.toString());
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    this.workers.push(w);
    await waitFor(
      "worker ready",
      async () => {
        // what it said first: it may say it and die before the next look (taking a poison request)
        if (w.output.includes('"msg":"worker ready"')) return true;
        if (child.exitCode !== null) throw new GiveUp(`worker exited with ${child.exitCode}: ${w.output}`);
        return false;
      },
      20_000,
    );
    return w;
  }

  /** A new session, its live subject subscribed. */
  async session(): Promise<Session> {
    const sid = makeSessionId(randomBytes(4).toString("base64url").slice(0, 6), randomBytes(16));
    const s = new Session(this, sid);
    await this.nc.flush();
    return s;
  }

  /** Messages waiting in INBOX (delivered or not). */
  async inboxMessages(): Promise<number> {
    return (await this.jsm.streams.info(INBOX_STREAM)).state.messages;
  }

  /** The workers consumer: delivered and not yet acked. */
  async ackPending(): Promise<number> {
    return (await this.jsm.consumers.info(INBOX_STREAM, "workers")).num_ack_pending;
  }
}

let ridCounter = 0;
/** A request id as a gateway makes them for frames without a client id. */
export const gatewayRid = (): string => `gtest${randomBytes(3).toString("hex")}${(ridCounter++).toString(36)}`;

export class Session {
  /** every message seen live on the session's subject, in order */
  readonly live: (Decoded & { seq: number })[] = [];
  private readonly sub: Subscription;
  private wake: (() => void) | undefined;

  constructor(
    readonly stack: WorkerStack,
    readonly sid: SessionId,
  ) {
    this.sub = stack.nc.subscribe(subjects.live(sid), {
      callback: (_err, m: Msg) => {
        if (!m.headers) return;
        this.live.push({
          ...decode({ data: Buffer.from(m.data), msgId: m.headers.get(headers.msgId), h: m.headers }),
          seq: Number(m.headers.get(headers.sequence)),
        });
        this.wake?.();
      },
    });
  }

  /** Publish a client frame to INBOX, as the gateway would; returns its rid and INBOX sequence. */
  async send(body: unknown, o: { proto?: Protocol; op?: Operation; rid?: string } = {}): Promise<{ rid: string; seq: number }> {
    const proto = o.proto ?? "mcp";
    const id = (body as { id?: unknown } | null)?.id;
    const rid = o.rid ?? (proto === "mcp" && (typeof id === "string" || typeof id === "number") ? rpcRequestId(JSON.stringify(id)) : gatewayRid());
    const data = encodeInbox({
      v: 2,
      sid: this.sid,
      proto,
      op: o.op ?? "rpc",
      rid,
      principal: "anonymous",
      ts: Date.now(),
      body: Buffer.from(typeof body === "string" ? body : JSON.stringify(body)),
    });
    const ack = await this.stack.js.publish(subjects.inbox(proto, this.sid), data, { msgID: requestMsgId(this.sid, rid) });
    return { rid, seq: ack.seq };
  }

  /** A cancel notice (core), as the gateway or a worker sends it. */
  cancel(rid: string, reason: CancelReason = "cancelled by the client"): void {
    this.stack.nc.publish(subjects.cancel(this.sid), undefined, { headers: controlHeaders({ kind: "cancel", rid, reason }) });
  }

  /** The session ended (as the gateway records it: a JetStream publish to ended.{sid}). */
  async end(): Promise<void> {
    await this.stack.js.publish(subjects.ended(this.sid));
  }

  /** The live messages of request `rid`. */
  of(rid: string): (Decoded & { seq: number })[] {
    return this.live.filter((m) => m.rid === rid);
  }

  /** Wait until the live messages satisfy `pred`. */
  async until(what: string, pred: () => boolean, timeoutMs = 20_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!pred()) {
      const left = until - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what} (${this.live.length} messages so far)`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 200));
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  }

  /** Wait for the End of request `rid`; returns its live messages. */
  async ended(rid: string, timeoutMs = 20_000): Promise<(Decoded & { seq: number })[]> {
    await this.until(`End of ${rid}`, () => this.of(rid).some((m) => m.end), timeoutMs);
    return this.of(rid);
  }

  /** What HISTORY stores for the session (headers and bodies), in order. */
  async stored(): Promise<Stored[]> {
    const c = await this.stack.js.consumers.get(HISTORY_STREAM, { filter_subjects: subjects.history(this.sid), deliver_policy: DeliverPolicy.All });
    const out: Stored[] = [];
    try {
      for (;;) {
        const batch = await c.fetch({ max_messages: 5000, expires: 1000 });
        let n = 0;
        let done = false;
        for await (const m of batch) {
          n++;
          out.push({ ...decode({ data: Buffer.from(m.data), msgId: (m.headers as MsgHdrs).get(headers.msgId), h: m.headers as MsgHdrs }), seq: m.seq });
          if (m.info.pending === 0) {
            done = true;
            break;
          }
        }
        if (done || n === 0) return out;
      }
    } finally {
      await c.delete().catch(() => {});
    }
  }

  close(): void {
    this.sub.unsubscribe();
  }
}

/** The JSON of each frame of these messages. */
export function framesOf(msgs: Decoded[]): Record<string, unknown>[] {
  return msgs.flatMap((m) => m.texts.map((s) => JSON.parse(s) as Record<string, unknown>));
}

/** Chunk indices of radiant.test/stream notifications, in order. */
export function chunkIndices(msgs: Decoded[]): number[] {
  return framesOf(msgs)
    .filter((f) => f.method === "notifications/radiant.test/chunk")
    .map((f) => (f.params as { i: number }).i);
}

export { exited, waitFor };
