// One way to hold a NATS connection: never give up reconnecting, track
// whether we are connected right now, and check the topology this process
// needs once JetStream answers (retrying while it does not). Writing the
// topology is `radiant topology apply`'s alone.
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { checkTopology, type TopologyCheck } from "@radiant/wire";

export interface NatsLink {
  nc: NatsConnection;
  /** connected right now */
  readonly connected: boolean;
  /**
   * resolves once JetStream answered and the topology is as this process
   * needs it; rejects with a TopologyError when it is missing or differs
   */
  readonly topologyReady: Promise<TopologyCheck>;
  /** run `f` each time the connection comes back after a disconnect */
  onReconnect(f: () => void): void;
  /** run `f` each time the connection is lost */
  onDisconnect(f: () => void): void;
}

/** The topology is not what this process needs: run `radiant topology apply` (with this version). */
export class TopologyError extends Error {
  constructor(readonly problems: string[]) {
    super(`the JetStream topology is not as this version needs it (run \`pnpm radiant topology apply\`): ${problems.join("; ")}`);
  }
}

/**
 * For a process's start: a TopologyError ends the process, its problems
 * logged (starting again would not help); any other error is thrown on.
 */
export function refuseWrongTopology(log: Logger, exitCode: number): (e: unknown) => never {
  return (e) => {
    if (e instanceof TopologyError) {
      log.fatal({ problems: e.problems }, e.message);
      process.exit(exitCode);
    }
    throw e;
  };
}

export async function openNats(servers: string, name: string, log: Logger, needs: { consumer?: boolean } = {}): Promise<NatsLink> {
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
        const check = await checkTopology(await jetstreamManager(nc), needs);
        if (check.problems.length > 0) throw new TopologyError(check.problems);
        return check;
      } catch (e) {
        if (e instanceof TopologyError) throw e;
        if (nc.isClosed()) throw e;
        if (attempt % 20 === 0) log.warn({ err: (e as Error).message }, "jetstream not answering yet, retrying");
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
