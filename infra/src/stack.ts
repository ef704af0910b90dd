// The whole RADIANT stack as child processes of this one: nats-server, the
// egress proxy, workers, the gateway. `make run`, the end-to-end tests and the
// bench all start it through here, so they run the same thing.
import { createWriteStream, mkdirSync, readFileSync, writeFileSync, type WriteStream } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import type { ChildProcess } from "node:child_process";
import { selfSignedCert } from "./echo/cert.js";
import { MODEL_FORMATS, type ModelFormat, readModelEntries } from "./models.js";
import { NatsCluster, NatsServer } from "./nats-server.js";
import { accepts, exited, freePort, GiveUp, spawnOwned, stopChild, waitFor } from "./proc.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
export const entries = {
  gateway: join(root, "gateway/dist/supervisor.js"),
  worker: join(root, "workers/dist/main.js"),
  egressProxy: join(root, "egress-proxy/dist/main.js"),
  mcpBridge: join(root, "workers/dist/mcp_bridge/main.js"),
  echo: join(root, "infra/dist/echo/main.js"),
  topology: join(root, "infra/dist/topology_cli.js"),
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
  /** start the local model upstreams and route echo-openai, echo-anthropic, echo-google to them (default true) */
  echo?: boolean;
  /** the echo upstreams' pause between streamed chunks */
  echoChunkDelayMs?: number;
  /** nats-server's max_payload (default DEFAULT_MAX_PAYLOAD, 8 MiB) */
  natsMaxPayload?: number;
  /**
   * a NATS cluster of this many nodes (3: one may be lost) instead of one
   * server; the streams get as many replicas (JETSTREAM_REPLICAS)
   */
  natsCluster?: number;
  /**
   * Restart a process that exits on its own (nats-server, the egress proxy, a
   * worker, the gateway supervisor) after a backoff (see `Backoff`), logging one
   * line each time; an exit restarting would not fix (code 2, invalid
   * configuration; the gateway's 3 and 4) is not restarted but ends
   * `firstExit()`. `stop()` restarts nothing. Off unless asked (tests see exits).
   */
  supervise?: boolean;
  /** where supervision logs (a pino logger will do); default: stack.log, or stderr with `inheritLogs` */
  log?: StackLog;
}

/** What supervision writes to: one line per restart ({ process, code, signal, delayMs }). */
export interface StackLog {
  warn(obj: object, msg: string): void;
}

/** How a process of the stack ended. */
export interface StackExit {
  name: string;
  code: number | null;
  signal?: NodeJS.Signals | null;
  /** why it was not restarted (supervised stacks) */
  reason?: string;
}

/** A RADIANT process of the stack; a supervised one gets a new `child` at each restart. */
export interface Proc {
  name: string;
  child: ChildProcess;
  /** the last 64 KiB of its output (not kept with `inheritLogs`), across restarts */
  output: string;
  /** times supervision restarted it */
  restarts: number;
}

/** A gateway "host" of a fleet: a gateway supervisor and its processes, listening on an address of its own. */
export interface GatewayHost {
  host: string;
  proc: Proc;
  port: number;
  healthPort: number;
}

/** Exit codes that restarting would not fix, and what they mean. */
const configExit: ReadonlyMap<number, string> = new Map([[2, "invalid configuration"]]);
const gatewayFatalExits: ReadonlyMap<number, string> = new Map([
  ...configExit,
  [3, "the gateway cannot listen (address in use or not available)"],
  [4, "the gateway has no native uWebSockets build for this platform"],
]);
const RESTARTED = "\n--- restarted ---\n";
const GATEWAY_READY = '"msg":"gateway ready"';

/**
 * Restart delays: `initialMs` after a crash, doubling at each crash that
 * follows, at most `maxMs`; back to `initialMs` once the process had stayed up
 * `resetAfterMs`.
 */
export class Backoff {
  private delay: number;
  private since: number;

  constructor(
    readonly initialMs = 250,
    readonly maxMs = 10_000,
    readonly resetAfterMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {
    this.delay = initialMs;
    this.since = now();
  }

  /** the process (re)started now */
  started(): void {
    this.since = this.now();
  }

  /** it exited now: how long to wait before starting it again */
  next(): number {
    if (this.now() - this.since >= this.resetAfterMs) this.delay = this.initialMs;
    const d = this.delay;
    this.delay = Math.min(this.delay * 2, this.maxMs);
    return d;
  }
}

/** A new random resume-token secret: 48 characters (36 random bytes, base64url). */
export function newResumeTokenSecret(): string {
  return randomBytes(36).toString("base64url");
}

/** The file, in a stack's data folder, that keeps `make run`'s resume-token secret. */
export const RESUME_TOKEN_SECRET_FILE = "resume-token-secret";

/**
 * The resume-token secret kept in `file`: read, or (when there is no such
 * file) made and written there, readable by its owner only (0600), so the
 * tokens of one run still work after a restart.
 */
export function loadOrCreateResumeTokenSecret(file: string): { secret: string; created: boolean } {
  mkdirSync(dirname(file), { recursive: true });
  const made = newResumeTokenSecret();
  try {
    // "wx": never overwrite one another run has just made
    writeFileSync(file, `${made}\n`, { mode: 0o600, flag: "wx" });
    return { secret: made, created: true };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  const secret = readFileSync(file, "utf8").trim();
  if (secret.length < 32) throw new Error(`${file} holds fewer than 32 characters: delete it to have a new secret made`);
  return { secret, created: false };
}

export class Stack {
  readonly procs = new Set<Proc>();
  gateway: Proc | undefined;
  workers: Proc[] = [];
  egress: Proc | undefined;
  /** the MCP bridge, when RADIANT_MCP_CONFIG names MCP servers */
  mcpBridge: Proc | undefined;
  echo: Proc | undefined;
  /** the local upstreams, by format, once started */
  echoUrls: Record<ModelFormat, string> | undefined;
  /** the PEM file of the echo upstreams' self-signed certificate */
  echoCertFile: string | undefined;
  /** what the stack adds to every process's environment (the model table, the echo upstreams' certificate) */
  private readonly extraEnv: Record<string, string> = {};
  private logs: WriteStream | undefined;
  /** made once: every process of the stack gets it unless the caller's environment names one */
  private readonly resumeTokenSecret = newResumeTokenSecret();
  private stopping = false;
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  private fatal: ((e: StackExit) => void) | undefined;
  private readonly fatalExit = new Promise<StackExit>((resolve) => (this.fatal = resolve));

  private constructor(
    readonly o: StackOptions,
    /** the NATS server, or with `natsCluster` the cluster's first node */
    readonly nats: NatsServer,
    /** with `natsCluster`: every node */
    readonly cluster: NatsCluster | undefined,
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
    const cluster =
      o.natsCluster && o.natsCluster > 1
        ? await NatsCluster.start({
            size: o.natsCluster,
            dir: join(o.dir, "nats-cluster"),
            host,
            maxPayload: o.natsMaxPayload,
            port: o.natsPort,
            monitorPort: o.natsMonitorPort,
          })
        : undefined;
    const nats =
      cluster?.nodes[0] ??
      (await NatsServer.start({
        storeDir: join(o.dir, "nats"),
        host,
        port: o.natsPort,
        monitorPort: o.natsMonitorPort,
        maxPayload: o.natsMaxPayload,
      }));
    // the gateway takes ephemeral ports itself unless told (SO_REUSEPORT makes a guessed port unsafe)
    const s = new Stack(o, nats, cluster, host, o.gatewayPort ?? 0, o.healthPort ?? 0, o.egressPort || (await freePort(host)));
    if (!o.inheritLogs) s.logs = createWriteStream(join(o.dir, "stack.log"), { flags: "a" });
    if (o.supervise) s.superviseNats();
    try {
      await s.applyTopology();
      if (o.echo ?? true) await s.startEcho();
      await s.startEgress();
      if (s.env().RADIANT_MCP_CONFIG) await s.startMcpBridge();
      for (let i = 0; i < (o.workers ?? 1); i++) await s.startWorker();
      if (!o.noGateway) await s.startGateway();
    } catch (e) {
      await s.stop();
      throw e;
    }
    return s;
  }

  /**
   * `radiant topology apply`, as a deploy runs it before any process starts,
   * with the settings this stack's processes are given (HISTORY retention,
   * the workers' ack wait).
   */
  async applyTopology(): Promise<void> {
    const env = this.env({ ...this.o.gatewayEnv, ...this.o.workerEnv });
    const child = spawnOwned(process.execPath, [entries.topology, "topology", "apply"], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout?.on("data", (b: Buffer) => void (out += b.toString()));
    child.stderr?.on("data", (b: Buffer) => void (out += b.toString()));
    // "close", not "exit": all it said is read by then
    const [code] = (await once(child, "close")) as [number | null];
    this.logs?.write(out);
    if (code !== 0) throw new Error(`radiant topology apply exited with ${code}: ${out.trim()}`);
  }

  /**
   * The environment every RADIANT process of this stack gets. RESUME_TOKEN_SECRET
   * is the caller's (`extra`, `o.env`, or a non-empty one in process.env), else
   * the stack's own random one.
   */
  env(extra: Record<string, string> = {}): Record<string, string> {
    const secret = extra.RESUME_TOKEN_SECRET ?? this.o.env?.RESUME_TOKEN_SECRET ?? (process.env.RESUME_TOKEN_SECRET || this.resumeTokenSecret);
    return {
      ...(process.env as Record<string, string>),
      RADIANT_PARENT_PID: String(process.pid),
      NATS_URL: this.cluster?.url ?? this.nats.url,
      ...(this.cluster ? { JETSTREAM_REPLICAS: String(Math.min(3, this.cluster.nodes.length)) } : {}),
      EGRESS_PROXY_URL: this.egressUrl,
      // ephemeral unless given: a gateway started again gets fresh ports, as the
      // old ones may still hold closing connections
      GATEWAY_LISTEN_ADDR: `${this.host}:${this.o.gatewayPort ?? 0}`,
      GATEWAY_HEALTH_ADDR: `${this.host}:${this.o.healthPort ?? 0}`,
      GATEWAY_PROCESSES: String(this.o.gatewayProcesses ?? 1),
      ...this.o.env,
      // the stack's model table holds the caller's RADIANT_MODELS entries too
      ...this.extraEnv,
      ...extra,
      RESUME_TOKEN_SECRET: secret,
    };
  }

  private spawn(
    name: string,
    entry: string,
    env: Record<string, string>,
    nodeArgs: string[] = [],
    fatalExits = configExit,
    beforeRestart?: () => Promise<void>,
    afterRestart?: (p: Proc) => void,
  ): Proc {
    const backoff = new Backoff();
    const p = { name, output: "", restarts: 0 } as Proc;
    const keep = (b: Buffer) => {
      p.output = (p.output + b.toString()).slice(-64 * 1024);
      this.logs?.write(b);
    };
    const run = () => {
      const child = spawnOwned(process.execPath, [...nodeArgs, entry], {
        env,
        stdio: this.o.inheritLogs ? ["ignore", "inherit", "inherit"] : ["ignore", "pipe", "pipe"],
      });
      p.child = child;
      backoff.started();
      child.stdout?.on("data", keep);
      child.stderr?.on("data", keep);
      this.procs.add(p);
      child.once("exit", (code, signal) => {
        this.procs.delete(p);
        if (!this.o.supervise || this.stopping) return;
        this.exitedOnItsOwn({ name, code, signal }, fatalExits, backoff, async () => {
          await beforeRestart?.();
          if (this.stopping) return;
          p.restarts++;
          p.output += RESTARTED;
          run();
          afterRestart?.(p);
        });
      });
    };
    run();
    return p;
  }

  /** Supervision: a process exited, neither stopped by us nor for a fatal reason: start it again after the backoff. */
  private exitedOnItsOwn(
    e: StackExit,
    fatalExits: ReadonlyMap<number, string>,
    backoff: Backoff,
    restart: () => Promise<void>,
    /** the restart itself failed, so */
    error?: string,
  ): void {
    const reason = e.code === null ? undefined : fatalExits.get(e.code);
    if (reason !== undefined) {
      this.fatal?.({ ...e, reason });
      return;
    }
    const delayMs = backoff.next();
    // "process", not "name": a pino logger's own name is there already
    this.say(
      { process: e.name, code: e.code, signal: e.signal ?? null, delayMs, ...(error ? { error } : {}) },
      `${e.name} ${error ? "did not come back" : "exited"}; restarting it in ${delayMs} ms`,
    );
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (this.stopping) return;
      restart().catch((err: Error) => {
        // it did not come back (nats-server not healthy in time): that is one more exit
        if (!this.stopping) this.exitedOnItsOwn({ ...e, code: null, signal: null }, fatalExits, backoff, restart, err.message.split("\n")[0]);
      });
    }, delayMs);
    this.restartTimers.add(timer);
  }

  private say(obj: Record<string, unknown>, msg: string): void {
    if (this.o.log) this.o.log.warn(obj, msg);
    else {
      const line = `${JSON.stringify({ level: 40, time: Date.now(), name: "stack", ...obj, msg })}\n`;
      if (this.logs) this.logs.write(line);
      else process.stderr.write(line);
    }
  }

  /** nats-server (with a cluster, each node), supervised: started again on the same ports and store. */
  private superviseNats(): void {
    for (const [i, node] of (this.cluster?.nodes ?? [this.nats]).entries()) {
      const backoff = new Backoff();
      const restart = async () => {
        await node.start();
        backoff.started();
      };
      const name = this.cluster ? `nats-server n${i + 1}` : "nats-server";
      node.onUnexpectedExit((code, signal) => {
        if (!this.stopping) this.exitedOnItsOwn({ name, code, signal }, new Map(), backoff, restart);
      });
    }
  }

  /** the output of the process's current run */
  private current(p: Proc): string {
    const i = p.output.lastIndexOf(RESTARTED);
    return i < 0 ? p.output : p.output.slice(i + RESTARTED.length);
  }

  private async waitOutput(p: Proc, text: string): Promise<void> {
    await waitFor(`${p.name} to say "${text}"`, async () => {
      // what it said first: a process may say it and die before the next look (a worker taking a poison request)
      if (this.current(p).includes(text)) return true;
      if (p.child.exitCode !== null) throw new GiveUp(`${p.name} exited with ${p.child.exitCode}: ${p.output}`);
      return false;
    });
  }

  /**
   * The local model upstreams (infra/src/echo), one per wire format, and a
   * model table that routes the echo-* models to them — plus whatever the
   * caller's own RADIANT_MODELS file lists.
   */
  async startEcho(): Promise<void> {
    // a free port can be taken by a neighbour (another test file) before the upstream binds it: try others
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.startEchoOn();
      } catch (e) {
        if (attempt === 3 || this.o.supervise || !/EADDRINUSE/.test((e as Error).message)) throw e;
      }
    }
  }

  private async startEchoOn(): Promise<void> {
    const ports = { openai: await freePort(this.host), anthropic: await freePort(this.host), google: await freePort(this.host) };
    const certDir = join(this.o.dir, "echo-cert");
    const { certFile } = selfSignedCert(certDir);
    this.echoCertFile = certFile;
    this.echo = this.spawn("echo-upstreams", entries.echo, {
      ...this.env(),
      ECHO_HOST: this.host,
      ECHO_OPENAI_PORT: String(ports.openai),
      ECHO_ANTHROPIC_PORT: String(ports.anthropic),
      ECHO_GOOGLE_PORT: String(ports.google),
      ECHO_CERT_DIR: certDir,
      ECHO_CHUNK_DELAY_MS: String(this.o.echoChunkDelayMs ?? 0),
    });
    this.echoUrls = {
      openai: `https://${this.host}:${ports.openai}`,
      anthropic: `https://${this.host}:${ports.anthropic}`,
      google: `https://${this.host}:${ports.google}`,
    };
    const own = this.o.env?.RADIANT_MODELS ?? process.env.RADIANT_MODELS;
    const theirs = own ? readModelEntries(own) : [];
    const echoModels = MODEL_FORMATS.map((f) => ({ match: `echo-${f}`, format: f, baseUrl: this.echoUrls![f], keyEnv: null }));
    const modelsFile = join(this.o.dir, "models.json");
    writeFileSync(modelsFile, `${JSON.stringify({ models: [...echoModels, ...theirs] }, null, 2)}\n`);
    this.extraEnv.RADIANT_MODELS = modelsFile;
    this.extraEnv.EGRESS_CA_FILE = certFile;
    for (const f of MODEL_FORMATS) {
      const port = ports[f];
      await waitFor(`echo upstream (${f}) on port ${port}`, async () => {
        if (this.echo?.child.exitCode !== null) throw new GiveUp(`echo upstreams exited: ${this.echo?.output}`);
        return accepts(this.host, port);
      });
    }
  }

  async startEgress(): Promise<void> {
    this.egress = this.spawn("egress-proxy", entries.egressProxy, this.env());
    await waitFor("egress proxy /health", async () => (await fetch(`${this.egressUrl}/health`)).ok);
  }

  /** The process that owns the upstream MCP sessions (workers/src/mcp_bridge). */
  async startMcpBridge(): Promise<Proc> {
    const p = this.spawn("mcp-bridge", entries.mcpBridge, this.env());
    this.mcpBridge = p;
    if (!this.o.inheritLogs) await this.waitOutput(p, "MCP bridge ready");
    return p;
  }

  async startWorker(env: Record<string, string> = {}): Promise<Proc> {
    const p = this.spawn(`worker-${this.workers.length}`, entries.worker, this.env({ ...this.o.workerEnv, ...env }), this.o.workerNodeArgs);
    this.workers.push(p);
    if (!this.o.inheritLogs) await this.waitOutput(p, "worker ready");
    return p;
  }

  async startGateway(env: Record<string, string> = {}): Promise<void> {
    this.gateway = this.spawn(
      "gateway",
      entries.gateway,
      this.env({ ...this.o.gatewayEnv, ...env }),
      this.o.gatewayNodeArgs,
      gatewayFatalExits,
      async () => {
        // the killed supervisor's gateway processes close their listening socket once they see it gone;
        // a new supervisor finding it still open would stop (another gateway on the port)
        const port = this.o.gatewayPort;
        if (port) await waitFor("gateway port free", async () => !(await accepts(this.host, port)), 30_000).catch(() => {});
      },
      (g) => {
        // ephemeral ports: the new gateway says which
        if (!this.o.inheritLogs)
          void this.waitOutput(g, GATEWAY_READY).then(
            () => this.readPorts(g),
            () => {},
          );
      },
    );
    const g = this.gateway;
    if (!this.o.inheritLogs) {
      await this.waitOutput(g, GATEWAY_READY);
      this.readPorts(g);
    }
    await waitFor("gateway /health ok", async () => {
      const code = g.child.exitCode;
      if (code !== null) throw new GiveUp(`gateway exited with ${code}${gatewayFatalExits.has(code) ? ` (${gatewayFatalExits.get(code)})` : ""}: ${g.output}`);
      const r = await fetch(`${this.healthUrl}/health`);
      return r.ok && ((await r.json()) as { status: string }).status === "ok";
    });
  }

  private readPorts(g: Proc): void {
    ({ port: this.gatewayPort, healthPort: this.healthPort } = this.portsOf(g));
  }

  /** the ports a gateway said it listens on */
  private portsOf(g: Proc): { port: number; healthPort: number } {
    const ready = this.current(g)
      .split("\n")
      .find((l) => l.includes(GATEWAY_READY))!;
    return JSON.parse(ready) as { port: number; healthPort: number };
  }

  /**
   * One more gateway host of a fleet (`host`: an address of this machine's
   * loopback, e.g. 127.0.0.2), on ports of its own, sharing the stack's NATS
   * and workers. Not supervised: a rolling restart stops and starts it.
   */
  async startGatewayHost(host: string, env: Record<string, string> = {}): Promise<GatewayHost> {
    const proc = this.spawn(
      `gateway@${host}`,
      entries.gateway,
      this.env({ ...this.o.gatewayEnv, GATEWAY_LISTEN_ADDR: `${host}:0`, GATEWAY_HEALTH_ADDR: `${host}:0`, ...env }),
      this.o.gatewayNodeArgs,
    );
    await this.waitOutput(proc, GATEWAY_READY);
    const g = { host, proc, ...this.portsOf(proc) };
    await waitFor(`gateway@${host} /health ok`, async () => (await fetch(`http://${host}:${g.healthPort}/health`)).ok);
    return g;
  }

  /** SIGTERM, as a deploy's rolling restart sends: its sessions are closed with 1012, it drains, it exits. */
  async stopGatewayHost(g: GatewayHost): Promise<void> {
    await stopChild(g.proc.child, 30_000);
  }

  async health(): Promise<{ code: number; body: Record<string, unknown> }> {
    const r = await fetch(`${this.healthUrl}/health`);
    return { code: r.status, body: (await r.json()) as Record<string, unknown> };
  }

  /** Stop everything: RADIANT processes first (they drain into NATS), nats-server last. Nothing is restarted. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.restartTimers) clearTimeout(t);
    this.restartTimers.clear();
    await Promise.all([...this.procs].map((p) => stopChild(p.child)));
    await (this.cluster ?? this.nats).stop();
    this.logs?.end();
    this.logs = undefined;
  }

  /**
   * Resolves with the first RADIANT process to exit on its own; with
   * `supervise`, with the first exit that is not restarted (its `reason` says
   * why; nats-server is always restarted).
   */
  async firstExit(): Promise<StackExit> {
    if (this.o.supervise) return this.fatalExit;
    return Promise.race([...this.procs].map(async (p) => ({ name: p.name, code: await exited(p.child), signal: p.child.signalCode })));
  }
}
