// What the cluster tests ask of a NATS cluster: who leads a stream, one node
// leading both INBOX and HISTORY (so one kill takes both leaders), and whether
// every replica has caught up.
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { NatsCluster } from "@radiant/infra/nats-server";
import { HISTORY_STREAM, INBOX_STREAM } from "@radiant/wire";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ClusterProbe {
  private constructor(
    readonly cluster: NatsCluster,
    readonly nc: NatsConnection,
    readonly jsm: JetStreamManager,
  ) {}

  static async open(cluster: NatsCluster, teardown: (f: () => Promise<void>) => void): Promise<ClusterProbe> {
    const nc = await connect({ servers: cluster.url.split(","), noAsyncTraces: true });
    teardown(() => nc.close());
    return new ClusterProbe(cluster, nc, await jetstreamManager(nc, { timeout: 10_000 }));
  }

  /** the server name leading `stream`, once it has a leader (60 s at most) */
  async leaderOf(stream: string): Promise<string> {
    for (let i = 0; i < 600; i++) {
      const leader = (await this.jsm.streams.info(stream).catch(() => undefined))?.cluster?.leader;
      if (leader) return leader;
      await sleep(100);
    }
    throw new Error(`${stream} has no leader`);
  }

  /** Steps INBOX's leader down until one node leads both streams; that node's name. */
  async oneLeaderForBoth(): Promise<string> {
    for (let i = 0; i < 30 && (await this.leaderOf(INBOX_STREAM)) !== (await this.leaderOf(HISTORY_STREAM)); i++) {
      await this.nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${INBOX_STREAM}`, undefined, { timeout: 10_000 }).catch(() => {});
      await sleep(300);
    }
    const leader = await this.leaderOf(HISTORY_STREAM);
    if (leader !== (await this.leaderOf(INBOX_STREAM))) throw new Error("no node leads both INBOX and HISTORY");
    return leader;
  }

  /** every replica of `stream` current, with no lag (60 s at most) */
  async caughtUp(stream: string, replicas: number): Promise<boolean> {
    for (let i = 0; i < 300; i++) {
      const r = (await this.jsm.streams.info(stream).catch(() => undefined))?.cluster?.replicas ?? [];
      if (r.length === replicas && r.every((x) => x.current && (x.lag ?? 0) === 0)) return true;
      await sleep(200);
    }
    return false;
  }
}
