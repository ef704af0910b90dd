// The whole RADIANT stack as child processes of this one: nats-server, the
// egress proxy, workers, the gateway. `make run`, the end-to-end tests and the
// bench all start it through here, so they run the same thing.
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ChildProcess } from "node:child_process";
import { NatsServer } from "./nats-server.js";
import { exited, freePort, GiveUp, spawnOwned, stopChild, waitFor } from "./proc.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
export const entries = {
  gateway: join(root, "gateway/dist/main.js"),
  worker: join(root, "workers/dist/main.js"),
  egressProxy: join(root, "egress-proxy/dist/main.js"),
};

export interface StackOptions {
  /** data folder: the JetStream store and (unless `inheritLogs`) the process logs */
  dir: string;
  host?: string;
  gatewayPort?: number;
  healthPort?: number;
  egressPort?: number;
  natsPort?: number;
  natsMonitorPort?: number;
  gatewayProcesses?: number;
  workers?: number;
  /** environment for every process */
  env?: Record<string, string>;
  gatewayEnv?: Record<string, string>;
  workerEnv?: Record<string, string>;
  /** write process output to this terminal instead of log files */
  inheritLogs?: boolean;
  /** start without a gateway (a test may start its own) */
  noGateway?: boolean;
  /** node flags for the gateway (its processes inherit them), e.g. `--cpu-prof` for a profile */
  gatewayNodeArgs?: string[];
  /** node flags for each worker */
  workerNodeArgs?: string[];
}

interface Proc {
  name: string;
  child: ChildProcess;
  output: string;
}

export class Stack {
  readonly procs = new Set<Proc>();
  gateway: Proc | undefined;
  workers: Proc[] = [];
  egress: Proc | undefined;
  private logs: WriteStream | undefined;

  private constructor(
    readonly o: StackOptions,
    readonly nats: NatsServer,
    readonly host: string,
    /** 0 until a gateway started with an ephemeral port reports it */
    public gatewayPort: number,
    public healthPort: number,
    readonly egressPort: number,
  ) {}

  get wsUrl(): string {
    return `ws://${this.host}:${this.gatewayPort}/ws`;
  }
  get healthUrl(): string {
    return `http://${this.host}:${this.healthPort}`;
  }
  get egressUrl(): string {
    return `http://${this.host}:${this.egressPort}`;
  }

  static async start(o: StackOptions): Promise<Stack> {
    const host = o.host ?? "127.0.0.1";
    mkdirSync(o.dir, { recursive: true });
    const nats = await NatsServer.start({ storeDir: join(o.dir, "nats"), host, port: o.natsPort, monitorPort: o.natsMonitorPort });
    // the gateway takes ephemeral ports itself unless told (SO_REUSEPORT makes a guessed port unsafe)
    const s = new Stack(o, nats, host, o.gatewayPort ?? 0, o.healthPort ?? 0, o.egressPort || (await freePort(host)));
    if (!o.inheritLogs) s.logs = createWriteStream(join(o.dir, "stack.log"), { flags: "a" });
    try {
      await s.startEgress();
      for (let i = 0; i < (o.workers ?? 1); i++) await s.startWorker();
      if (!o.noGateway) await s.startGateway();
    } catch (e) {
      await s.stop();
      throw e;
    }
    return s;
  }

  /** the environment every RADIANT process of this stack gets */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      ...(process.env as Record<string, string>),
      RADIANT_PARENT_PID: String(process.pid),
      NATS_URL: this.nats.url,
      EGRESS_PROXY_URL: this.egressUrl,
      // ephemeral unless given: a gateway started again gets fresh ports, as the
      // old ones may still hold closing connections
      GATEWAY_LISTEN_ADDR: `${this.host}:${this.o.gatewayPort ?? 0}`,
      GATEWAY_HEALTH_ADDR: `${this.host}:${this.o.healthPort ?? 0}`,
      GATEWAY_PROCESSES: String(this.o.gatewayProcesses ?? 1),
      ...this.o.env,
      ...extra,
    };
  }

  private spawn(name: string, entry: string, env: Record<string, string>, nodeArgs: string[] = []): Proc {
    const child = spawnOwned(process.execPath, [...nodeArgs, entry], {
      env,
      stdio: this.o.inheritLogs ? ["ignore", "inherit", "inherit"] : ["ignore", "pipe", "pipe"],
    });
    const p: Proc = { name, child, output: "" };
    const keep = (b: Buffer) => {
      p.output = (p.output + b.toString()).slice(-64 * 1024);
      this.logs?.write(b);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    this.procs.add(p);
    child.once("exit", () => this.procs.delete(p));
    return p;
  }

  private async waitOutput(p: Proc, text: string): Promise<void> {
    await waitFor(`${p.name} to say "${text}"`, async () => {
      if (p.child.exitCode !== null) throw new GiveUp(`${p.name} exited with ${p.child.exitCode}: ${p.output}`);
      return p.output.includes(text);
    });
  }

  async startEgress(): Promise<void> {
    this.egress = this.spawn("egress-proxy", entries.egressProxy, this.env());
    await waitFor("egress proxy /health", async () => (await fetch(`${this.egressUrl}/health`)).ok);
  }

  async startWorker(env: Record<string, string> = {}): Promise<Proc> {
    const p = this.spawn(`worker-${this.workers.length}`, entries.worker, this.env({ ...this.o.workerEnv, ...env }), this.o.workerNodeArgs);
    this.workers.push(p);
    if (!this.o.inheritLogs) await this.waitOutput(p, "worker ready");
    return p;
  }

  async startGateway(env: Record<string, string> = {}): Promise<void> {
    this.gateway = this.spawn("gateway", entries.gateway, this.env({ ...this.o.gatewayEnv, ...env }), this.o.gatewayNodeArgs);
    const g = this.gateway;
    if (!this.o.inheritLogs) {
      await this.waitOutput(g, '"msg":"gateway ready"');
      const ready = g.output.split("\n").find((l) => l.includes('"msg":"gateway ready"'))!;
      ({ port: this.gatewayPort, healthPort: this.healthPort } = JSON.parse(ready) as { port: number; healthPort: number });
    }
    await waitFor("gateway /health ok", async () => {
      if (g.child.exitCode !== null) throw new GiveUp(`gateway exited with ${g.child.exitCode}: ${g.output}`);
      const r = await fetch(`${this.healthUrl}/health`);
      return r.ok && ((await r.json()) as { status: string }).status === "ok";
    });
  }

  async health(): Promise<{ code: number; body: Record<string, unknown> }> {
    const r = await fetch(`${this.healthUrl}/health`);
    return { code: r.status, body: (await r.json()) as Record<string, unknown> };
  }

  /** Stop everything: RADIANT processes first (they drain into NATS), nats-server last. */
  async stop(): Promise<void> {
    await Promise.all([...this.procs].map((p) => stopChild(p.child)));
    await this.nats.stop();
    this.logs?.end();
  }

  /** Resolves with the first RADIANT process to exit on its own. */
  async firstExit(): Promise<{ name: string; code: number | null }> {
    return Promise.race([...this.procs].map(async (p) => ({ name: p.name, code: await exited(p.child) })));
  }
}
