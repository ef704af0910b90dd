// One undici Pool per upstream origin: a few long-lived connections that
// speak HTTP/2 where the origin offers it (ALPN), HTTP/1.1 where not, with
// the system roots plus any extra CA trusted.
import { rootCertificates } from "node:tls";
import { buildConnector, Client, Pool } from "undici";

export interface PoolsOptions {
  /** connections per origin */
  connections: number;
  connectTimeoutMs: number;
  /** PEM certificates trusted besides the system roots */
  extraCa: string | undefined;
}

/**
 * Requests one HTTP/2 connection carries at once. undici runs one request per
 * connection unless told otherwise, which would make HTTP/2 no better than
 * HTTP/1.1; 100 is the least the providers' front ends allow (and what
 * RFC 9113 recommends as the minimum), and a stream refused over a smaller
 * limit is retried (retry.ts).
 */
export const STREAMS_PER_CONNECTION = 100;

/** undici's counters for one origin's pool. */
export interface PoolCounts {
  connected: number;
  free: number;
  pending: number;
  queued: number;
  running: number;
  size: number;
}

export class Pools {
  private readonly pools = new Map<string, Pool>();
  private readonly ca: string[] | undefined;

  constructor(private readonly o: PoolsOptions) {
    this.ca = o.extraCa ? [...rootCertificates, o.extraCa] : undefined;
  }

  /** The pool of an origin (`https://host:port`), made on first use. */
  get(origin: string): Pool {
    let p = this.pools.get(origin);
    if (!p) {
      p = this.create(origin);
      this.pools.set(origin, p);
    }
    return p;
  }

  get size(): number {
    return this.pools.size;
  }

  origins(): string[] {
    return [...this.pools.keys()];
  }

  counts(origin: string): PoolCounts | undefined {
    const s = this.pools.get(origin)?.stats;
    return s && { connected: s.connected, free: s.free, pending: s.pending, queued: s.queued, running: s.running, size: s.size };
  }

  /** Close every connection now; requests still running fail. */
  async destroy(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((p) => p.destroy().catch(() => {})));
  }

  private create(origin: string): Pool {
    // one connector per origin: it holds the origin's TLS session cache
    const connector = buildConnector({
      ...(this.ca ? { ca: this.ca } : {}),
      timeout: this.o.connectTimeoutMs,
      allowH2: true,
      keepAlive: true,
    });
    return new Pool(origin, {
      connections: this.o.connections,
      allowH2: true,
      maxConcurrentStreams: STREAMS_PER_CONNECTION,
      // the proxy keeps its own first-byte and total timers (proxy.ts): undici's would cut long streams
      headersTimeout: 0,
      bodyTimeout: 0,
      keepAliveTimeout: 30_000,
      factory: (url, opts) => {
        const client: Client = new Client(url, {
          ...(opts as Client.Options),
          // only once connected do we know what the origin speaks: multiplex HTTP/2, never pipeline HTTP/1.1
          connect: (options, callback) =>
            connector(options, (err, socket) => {
              if (err === null) client.pipelining = "alpnProtocol" in socket && socket.alpnProtocol === "h2" ? STREAMS_PER_CONNECTION : 1;
              if (err === null) callback(null, socket);
              else callback(err, null);
            }),
        });
        return client;
      },
    });
  }
}
