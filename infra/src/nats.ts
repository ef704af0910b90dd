// One way to hold a NATS connection: never give up reconnecting, track
// whether we are connected right now, and set the topology up once JetStream
// answers (retrying while it does not).
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { ensureTopology } from "./topology.js";
import type { TopologyOptions } from "./topology.js";

export interface NatsLink {
  nc: NatsConnection;
  /** connected right now */
  readonly connected: boolean;
  /** resolves once the streams and consumer exist */
  readonly topologyReady: Promise<void>;
}

export async function openNats(
  servers: string,
  name: string,
  log: Logger,
  topology: TopologyOptions = {},
): Promise<NatsLink> {
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
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") {
        connected = false;
        log.warn({ server: s.server }, "nats disconnected");
      } else if (s.type === "reconnect") {
        connected = true;
        log.info({ server: s.server }, "nats reconnected");
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
  };
}
