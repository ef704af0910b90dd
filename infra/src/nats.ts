// One way to hold a NATS connection: never give up reconnecting, track
// whether we are connected right now, and set the topology up once JetStream
// answers (retrying while it does not).
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { ensureTopology, type TopologyOptions } from "@radiant/wire";

export interface NatsLink {
  nc: NatsConnection;
  /** connected right now */
  readonly connected: boolean;
  /** resolves once the streams and consumer exist */
  readonly topologyReady: Promise<void>;
  /** run `f` each time the connection comes back after a disconnect */
  onReconnect(f: () => void): void;
  /** run `f` each time the connection is lost */
  onDisconnect(f: () => void): void;
}

export async function openNats(servers: string, name: string, log: Logger, topology: TopologyOptions = {}): Promise<NatsLink> {
  const nc = await connect({
    servers: servers.split(",").map((s) => s.trim()),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: true,
    pingInterval: 10_000,
    // Otherwise nats.js makes an Error (stack trace and all) up front for every
    // request and JetStream publish, in case it times out: a fifth of the CPU of
    // gateway and worker alike under load (bench/RESULTS.md, bench:throughput).
    noAsyncTraces: true,
  });
  let connected = true;
  const reconnected: (() => void)[] = [];
  const disconnected: (() => void)[] = [];
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") {
        connected = false;
        for (const f of disconnected) f();
        log.warn({ server: s.server }, "nats disconnected");
      } else if (s.type === "reconnect") {
        connected = true;
        log.info({ server: s.server }, "nats reconnected");
        for (const f of reconnected) f();
      } else if (s.type === "close") {
        connected = false;
      }
    }
  })();
  const topologyReady = (async () => {
    for (let attempt = 0; ; attempt++) {
      try {
        await ensureTopology(await jetstreamManager(nc), topology);
        return;
      } catch (e) {
        if (nc.isClosed()) throw e;
        if (attempt % 20 === 0) log.warn({ err: (e as Error).message }, "jetstream topology not ready, retrying");
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  })();
  topologyReady.catch(() => {});
  return {
    nc,
    get connected() {
      return connected && !nc.isClosed();
    },
    topologyReady,
    onReconnect: (f) => void reconnected.push(f),
    onDisconnect: (f) => void disconnected.push(f),
  };
}
