// A real nats-server with JetStream on loopback, for the dev stack, the tests
// and the bench. It can be stopped and started again on the same port and
// store, as an outage would.
import { once } from "node:events";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { freePort, GiveUp, spawnOwned, stopChild, waitFor } from "./proc.js";

export interface NatsServerOptions {
  storeDir: string;
  host?: string;
  port?: number;
  monitorPort?: number;
  /** extra command-line flags */
  args?: string[];
  /** the largest message the server takes (NATS's own default is 1 MiB; see DEFAULT_MAX_PAYLOAD) */
  maxPayload?: number;
  /** a member of a cluster (NatsCluster): its name, its route port, and the routes of every member */
  cluster?: { name: string; serverName: string; port: number; routes: string[] };
}

/**
 * What the stack's nats-server takes: a client frame of the gateway's default
 * largest size (1 MiB) fits with its envelope, and so does a worker's reply
 * that echoes it. Only settable in a config file.
 */
export const DEFAULT_MAX_PAYLOAD = 8 * 1024 * 1024;

export function natsServerBinary(): string {
  for (const p of (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/usr/local/bin", "/usr/bin"])) {
    if (p && existsSync(`${p}/nats-server`)) return `${p}/nats-server`;
  }
  throw new Error("nats-server not found: run `make deps` (installs it with apt-get)");
}

/**
 * The test runner (scripts/run-tests.mjs) names a file in RADIANT_TEST_PIDFILE:
 * every nats-server started under it is listed there, one pid a line, so that
 * the runner can stop the ones a killed test file left behind (and only those).
 */
function recordTestPid(pid: number | undefined): void {
  const file = process.env.RADIANT_TEST_PIDFILE;
  if (!file || !pid) return;
  try {
    appendFileSync(file, `${pid}\n`);
  } catch {
    // the runner is gone or the file with it: nobody will clean up after us anyway
  }
}

export class NatsServer {
  readonly host: string;
  readonly url: string;
  readonly monitorUrl: string;
  private child: ChildProcess | undefined;
  private output = "";
  /** children ended through stop() or a start() that failed: their exit is no news */
  private readonly stopped = new WeakSet<ChildProcess>();
  private readonly exitListeners = new Set<(code: number | null, signal: NodeJS.Signals | null) => void>();

  private constructor(
    private readonly opts: NatsServerOptions,
    readonly port: number,
    readonly monitorPort: number,
  ) {
    this.host = opts.host ?? "127.0.0.1";
    this.url = `nats://${this.host}:${port}`;
    this.monitorUrl = `http://${this.host}:${monitorPort}`;
  }

  static async start(opts: NatsServerOptions): Promise<NatsServer> {
    // a free port can be taken by a neighbour before nats-server binds it: try others
    for (let attempt = 1; ; attempt++) {
      const s = new NatsServer(opts, opts.port || (await freePort()), opts.monitorPort || (await freePort()));
      try {
        await s.start();
        return s;
      } catch (e) {
        if ((opts.port && opts.monitorPort) || attempt === 3 || !/address already in use/.test((e as Error).message)) throw e;
      }
    }
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    if (this.running) return;
    mkdirSync(this.opts.storeDir, { recursive: true });
    const config = join(this.opts.storeDir, "radiant-nats.conf");
    const c = this.opts.cluster;
    writeFileSync(
      config,
      `max_payload: ${this.opts.maxPayload ?? DEFAULT_MAX_PAYLOAD}\n` +
        (c ? `server_name: ${c.serverName}\ncluster {\n  name: ${c.name}\n  listen: ${this.host}:${c.port}\n  routes: [${c.routes.join(", ")}]\n}\n` : ""),
    );
    const args = [
      "-c",
      config,
      "-a",
      this.host,
      "-p",
      String(this.port),
      "-m",
      String(this.monitorPort),
      "-js",
      "-sd",
      this.opts.storeDir,
      ...(this.opts.args ?? []),
    ];
    const child = spawnOwned(natsServerBinary(), args);
    this.child = child;
    recordTestPid(child.pid);
    this.output = "";
    const keep = (b: Buffer) => {
      this.output = (this.output + b.toString()).slice(-8192);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    let up = false;
    child.once("exit", (code, signal) => {
      if (up && !this.stopped.has(child)) for (const f of this.exitListeners) f(code, signal);
    });
    try {
      await waitFor(`nats-server on ${this.url}`, async () => {
        if (!this.running) throw new GiveUp(`nats-server exited: ${this.output}`);
        const r = await fetch(`${this.monitorUrl}/healthz?js-enabled-only=true`);
        return r.ok;
      });
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`nats-server exited: ${this.output}`);
      up = true;
    } catch (e) {
      this.stopped.add(child);
      await stopChild(child, 1000);
      throw new Error(`${(e as Error).message}\n${this.output}`);
    }
  }

  /** kill -9, as a machine lost would: no goodbye to clients or to the cluster. */
  async kill(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    this.stopped.add(c);
    c.kill("SIGKILL");
    await once(c, "exit");
  }

  /** Graceful stop (SIGTERM), as an operator would. */
  async stop(): Promise<void> {
    if (!this.child) return;
    this.stopped.add(this.child);
    await stopChild(this.child);
  }

  /** Calls `f` whenever a nats-server this started (and saw healthy) exits other than through stop(). */
  onUnexpectedExit(f: (code: number | null, signal: NodeJS.Signals | null) => void): () => void {
    this.exitListeners.add(f);
    return () => this.exitListeners.delete(f);
  }

  /** Subscriptions, wildcards included, that a message on `subject` would reach (monitoring /subsz?test=). */
  async interestIn(subject: string): Promise<number> {
    const r = await fetch(`${this.monitorUrl}/subsz?subs=1&limit=10000000&test=${encodeURIComponent(subject)}`);
    const j = (await r.json()) as { subscriptions_list?: unknown[] };
    return (j.subscriptions_list ?? []).length;
  }

  /** Subscriptions the server holds on subjects starting with `prefix` (monitoring /subsz?subs=1). */
  async subscriptionsUnder(prefix: string): Promise<number> {
    const r = await fetch(`${this.monitorUrl}/subsz?subs=1&limit=10000000`);
    const j = (await r.json()) as { subscriptions_list?: { subject: string }[] };
    return (j.subscriptions_list ?? []).filter((s) => s.subject.startsWith(prefix)).length;
  }

  get log(): string {
    return this.output;
  }
}

/**
 * A nats-server of its own, with a store in a fresh temporary folder, and a
 * connection to it: for one test file. `teardown` (tap's) is handed what
 * closes, stops and removes it all.
 */
export async function natsForTest(name: string, teardown: (f: () => Promise<void>) => void): Promise<{ server: NatsServer; nc: NatsConnection }> {
  const dir = mkdtempSync(join(tmpdir(), `radiant-test-${name}-`));
  const server = await NatsServer.start({ storeDir: dir });
  const nc = await connect({ servers: server.url, noAsyncTraces: true });
  teardown(async () => {
    await nc.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return { server, nc };
}

/**
 * Several nats-servers on this machine routed into one cluster, JetStream on
 * each with its own store (under `dir`/n1, n2, …): what a production NATS is,
 * for `make run CLUSTER=3`, the tests and the bench. Ready once JetStream has a
 * meta leader.
 */
export class NatsCluster {
  private constructor(readonly nodes: NatsServer[]) {}

  /** `port`, `monitorPort`: the first node's (the rest take free ports) */
  static async start(o: { size: number; dir: string; host?: string; maxPayload?: number; port?: number; monitorPort?: number }): Promise<NatsCluster> {
    const host = o.host ?? "127.0.0.1";
    const ports = await Promise.all(
      Array.from({ length: o.size }, async (_, i) => ({
        client: (i === 0 && o.port) || (await freePort()),
        monitor: (i === 0 && o.monitorPort) || (await freePort()),
        route: await freePort(),
      })),
    );
    const routes = ports.map((p) => `nats-route://${host}:${p.route}`);
    const nodes = await Promise.all(
      ports.map((p, i) =>
        NatsServer.start({
          storeDir: join(o.dir, `n${i + 1}`),
          host,
          port: p.client,
          monitorPort: p.monitor,
          maxPayload: o.maxPayload,
          cluster: { name: "radiant", serverName: `n${i + 1}`, port: p.route, routes },
        }),
      ),
    );
    const cluster = new NatsCluster(nodes);
    await cluster.ready();
    return cluster;
  }

  /** every member's client URL, comma-separated: what NATS_URL names */
  get url(): string {
    return this.nodes.map((n) => n.url).join(",");
  }

  /** the member with this server name (n1, n2, …) */
  node(serverName: string): NatsServer {
    const n = this.nodes[Number(serverName.slice(1)) - 1];
    if (!n) throw new Error(`no member ${serverName}`);
    return n;
  }

  /** Resolves once every running member sees the same JetStream meta leader. */
  async ready(ms = 60_000): Promise<void> {
    await waitFor(
      "a JetStream meta leader",
      async () => {
        const leaders = await Promise.all(
          this.nodes
            .filter((n) => n.running)
            .map(async (n) => ((await (await fetch(`${n.monitorUrl}/jsz`)).json()) as { meta_cluster?: { leader?: string } }).meta_cluster?.leader ?? ""),
        );
        return leaders.length > 0 && leaders[0] !== "" && leaders.every((l) => l === leaders[0]);
      },
      ms,
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}
