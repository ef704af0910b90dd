// End-to-end test harness: a real stack (nats-server, egress proxy, workers,
// gateway) per test file in a temp folder, and a small `ws` client that
// queues what it receives so tests can count every frame.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { createServer, connect as tcpConnect, type AddressInfo, type Server, type Socket } from "node:net";
import type { IncomingHttpHeaders } from "node:http";
import WebSocket from "ws";
import { Stack, type StackOptions } from "@radiant/infra/stack";
export { treeRssBytes } from "@radiant/infra/proc";

// tap stops a file that overruns with SIGTERM: exit so the children are killed too
for (const sig of ["SIGTERM", "SIGINT"] as const) process.once(sig, () => process.exit(1));

interface Teardown {
  teardown(f: () => unknown): void;
}

export async function startStack(t: Teardown, o: Partial<StackOptions> = {}): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), "radiant-test-"));
  const stack = await Stack.start({
    dir,
    ...o,
    workerEnv: { WORKER_TEST_METHODS: "true", ...o.workerEnv },
  });
  t.teardown(async () => {
    await stack.stop();
    // KEEP_STACK=1 keeps the folder (its stack.log) to read after a failure
    if (process.env.KEEP_STACK === "1") console.error(`# stack kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  });
  return stack;
}

export type Frame = Record<string, unknown> & { seq_num?: number; resume_token?: string };

/** A WebSocket client that keeps every frame it receives, in order. */
export class Client {
  readonly frames: Frame[] = [];
  readonly raw: string[] = [];
  closeCode: number | undefined;
  closeReason = "";
  /** the socket's last error, if any */
  error: Error | undefined;
  private read = 0;
  private wake: (() => void) | undefined;
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(readonly ws: WebSocket) {
    this.opened = new Promise((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    this.closed = new Promise((resolve) => {
      ws.once("close", (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        this.wake?.();
        resolve({ code, reason: this.closeReason });
      });
    });
    ws.on("error", (e) => (this.error = e));
    ws.on("message", (data) => {
      const s = data.toString();
      this.raw.push(s);
      this.frames.push(JSON.parse(s) as Frame);
      this.wake?.();
    });
  }

  static async connect(url: string, protocols: string[] = [], opts: WebSocket.ClientOptions = {}): Promise<Client> {
    const c = new Client(new WebSocket(url, protocols, opts));
    await c.opened;
    return c;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** The next frame not yet read; throws on timeout or close. */
  async next(timeoutMs = 20_000): Promise<Frame> {
    const [f] = await this.take(1, timeoutMs);
    return f!;
  }

  /** The next `n` frames not yet read. */
  async take(n: number, timeoutMs = 20_000): Promise<Frame[]> {
    const until = Date.now() + timeoutMs;
    while (this.frames.length - this.read < n) {
      if (this.closeCode !== undefined) {
        throw new Error(`socket closed (${this.closeCode} ${this.closeReason}) after ${this.frames.length - this.read} of ${n} frames`);
      }
      const left = until - Date.now();
      if (left <= 0) throw new Error(`timed out: ${this.frames.length - this.read} of ${n} frames`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
    const out = this.frames.slice(this.read, this.read + n);
    this.read += n;
    return out;
  }

  /** Send a request and wait for the frame that answers its id; frames up to it count as read. */
  async call(frame: { id: unknown } & Record<string, unknown>, timeoutMs = 20_000): Promise<Frame> {
    const from = this.frames.length;
    this.send(frame);
    const until = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex((f, j) => j >= from && f.id === frame.id && ("result" in f || "error" in f));
      if (i >= 0) {
        this.read = Math.max(this.read, i + 1);
        return this.frames[i]!;
      }
      if (this.closeCode !== undefined) throw new Error(`socket closed (${this.closeCode} ${this.closeReason})`);
      if (Date.now() > until) throw new Error(`no answer to id ${String(frame.id)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close();
    return this.closed;
  }
}

/** What became of a WebSocket upgrade: let in (a Client keeping every frame from the first), answered with an HTTP status instead, or failed. */
export type Upgrade = { client: Client } | { status: number; headers: IncomingHttpHeaders; body: string } | { error: Error };

export function upgrade(url: string, protocols: string[] = [], opts: WebSocket.ClientOptions = {}): Promise<Upgrade> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, protocols, opts);
    const client = new Client(ws);
    client.opened.then(
      () => resolve({ client }),
      (error: Error) => resolve({ error }),
    );
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        ws.terminate();
      });
    });
  });
}

/** Open a default-framing session and read its session frame. */
export async function openSession(url: string): Promise<{ c: Client; session: Frame }> {
  const c = await Client.connect(url);
  const session = await c.next();
  return { c, session };
}

/** How the gateway routes live messages now: sessions at home (one wildcard subscription) and away (one subscription each). */
export async function liveRoutes(stack: Stack): Promise<{ home: number; away: number }> {
  const text = await (await fetch(`${stack.healthUrl}/metrics`)).text();
  const gauge = (name: string) => Number(new RegExp(`^${name} (\\d+)`, "m").exec(text)?.[1] ?? NaN);
  return { home: gauge("radiant_home_sessions"), away: gauge("radiant_session_subscriptions") };
}

/** The workers' consumer and INBOX as nats-server's monitoring reports them: requests held unacked by workers, and requests stored. */
export async function inboxState(stack: Stack): Promise<{ ackPending: number; stored: number }> {
  const j = (await (await fetch(`${stack.nats.monitorUrl}/jsz?streams=true&consumers=true`)).json()) as {
    account_details?: { stream_detail?: { name: string; state: { messages: number }; consumer_detail?: { name: string; num_ack_pending: number }[] }[] }[];
  };
  const inbox = j.account_details?.[0]?.stream_detail?.find((s) => s.name === "INBOX");
  return { ackPending: inbox?.consumer_detail?.find((c) => c.name === "workers")?.num_ack_pending ?? 0, stored: inbox?.state.messages ?? 0 };
}

export const rpc = (id: number | string, method: string, params?: Record<string, unknown>) => ({
  jsonrpc: "2.0",
  id,
  method,
  ...(params ? { params } : {}),
});

export async function eventually(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A TCP proxy the test can cut, to take one process off NATS without touching the others. */
export class TcpProxy {
  private readonly conns = new Set<Socket>();
  private open = true;
  private server: Server | undefined;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<this> {
    this.server = createServer((client) => {
      if (!this.open) return client.destroy();
      const upstream = tcpConnect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.conns.add(s);
        s.on("error", () => {});
        s.on("close", () => {
          this.conns.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    this.server.listen(0, "127.0.0.1");
    await once(this.server, "listening");
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** drop every connection and refuse new ones */
  cut(): void {
    this.open = false;
    for (const s of this.conns) s.destroy();
  }

  allow(): void {
    this.open = true;
  }

  /** stop forwarding without closing anything: a peer whose network vanished (no FIN, no RST) */
  freeze(): void {
    this.open = false;
    for (const s of this.conns) {
      s.unpipe();
      s.pause();
    }
  }

  close(): void {
    this.cut();
    this.server?.close();
  }
}
