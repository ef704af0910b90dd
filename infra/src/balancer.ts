// A TCP load balancer for a gateway fleet on one machine (the tests, the
// bench): what a cloud L4 balancer does in front of gateway hosts. Each new
// connection goes to the next backend in turn; a backend that refuses it (a
// host restarting has closed its listening socket) is skipped for the next.
// Bytes are piped untouched: WebSocket upgrades, SSE and HTTP all pass.
import { once } from "node:events";
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";

export interface Backend {
  host: string;
  port: number;
}

export class Balancer {
  private server: Server | undefined;
  private next = 0;
  private readonly conns = new Set<Socket>();
  port = 0;
  /** connections handed to each backend, by "host:port" */
  readonly routed = new Map<string, number>();

  /** `backends` is read at each connection: a caller may change it (a host restarted on new ports). */
  constructor(
    readonly backends: Backend[],
    private readonly host = "127.0.0.1",
  ) {}

  get url(): string {
    return `${this.host}:${this.port}`;
  }

  async start(port = 0): Promise<this> {
    this.server = createServer((client) => this.route(client));
    this.server.listen(port, this.host);
    await once(this.server, "listening");
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  private route(client: Socket): void {
    this.track(client);
    client.pause();
    const tryBackend = (left: number) => {
      if (left === 0 || client.destroyed) return client.destroy();
      const b = this.backends[this.next++ % this.backends.length]!;
      const upstream = connect(b.port, b.host);
      let connected = false;
      upstream.on("error", () => {
        // refused before it connected: the next backend; once connected, "close" ends both sides
        if (!connected) tryBackend(left - 1);
      });
      upstream.once("connect", () => {
        connected = true;
        const key = `${b.host}:${b.port}`;
        this.routed.set(key, (this.routed.get(key) ?? 0) + 1);
        this.track(upstream);
        upstream.on("close", () => client.destroy());
        client.on("close", () => upstream.destroy());
        client.pipe(upstream).pipe(client);
        client.resume();
      });
    };
    tryBackend(this.backends.length);
  }

  private track(s: Socket): void {
    this.conns.add(s);
    s.on("error", () => {});
    s.on("close", () => this.conns.delete(s));
  }

  async stop(): Promise<void> {
    for (const s of this.conns) s.destroy();
    if (this.server) await new Promise((r) => this.server!.close(r));
  }
}
