// Sessions their clients ended (MCP's DELETE). A record in the ENDED stream
// makes every gateway refuse the session from then on, whatever token names
// it (workers hear the same publish and stop the session's requests); each
// process keeps the set in memory, fed by an ordered consumer that reads the
// stream from its start and then follows it.
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { controlHeaders, ENDED_STREAM, HISTORY_STREAM, subjects, type SessionId } from "@radiant/wire";
import type { Logger } from "pino";

export class EndedSessions {
  /** sid → when it ended (ms) */
  private readonly ended = new Map<string, number>();
  private stopped = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    /** how long an ended session is remembered: the longest a token naming it stays valid */
    private readonly keepMs: number,
    private readonly log: Logger,
  ) {}

  has(sid: SessionId): boolean {
    return this.ended.has(sid);
  }

  /** Follow the stream until stop(); survives NATS outages. */
  async watch(): Promise<void> {
    const sweep = setInterval(() => this.sweep(), Math.min(this.keepMs, 3600_000));
    sweep.unref();
    while (!this.stopped) {
      try {
        const c = await this.js.consumers.get(ENDED_STREAM);
        const messages = await c.consume();
        for await (const m of messages) {
          if (this.stopped) break;
          const sid = subjects.sidOfEnded(m.subject);
          if (sid) this.ended.set(sid, m.info.timestampNanos / 1e6);
        }
      } catch (e) {
        if (!this.stopped) this.log.debug({ err: (e as Error).message }, "ENDED stream not readable yet; retrying");
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    clearInterval(sweep);
  }

  stop(): void {
    this.stopped = true;
  }

  /**
   * End a session: record it, tell whoever holds it live to close, and drop its
   * HISTORY. Resolves once the record is stored (every gateway will refuse it).
   */
  async end(sid: SessionId): Promise<void> {
    await endSession({ nc: this.nc, js: this.js, jsm: this.jsm, log: this.log }, sid, () => this.ended.set(sid, Date.now()));
  }

  private sweep(): void {
    const before = Date.now() - this.keepMs;
    for (const [sid, at] of this.ended) if (at < before) this.ended.delete(sid);
  }
}

/**
 * End a session from anywhere (a client's DELETE, the admin API): the record
 * first (from then on every gateway refuses it), then the live notice that
 * closes whatever holds it, then its HISTORY goes.
 */
export async function endSession(
  o: { nc: NatsConnection; js: JetStreamClient; jsm: JetStreamManager; log: Logger },
  sid: SessionId,
  recorded: () => void = () => {},
): Promise<void> {
  await o.js.publish(subjects.ended(sid), undefined, { timeout: 5000 });
  recorded();
  o.nc.publish(subjects.live(sid), undefined, { headers: controlHeaders({ kind: "ended" }) });
  await o.jsm.streams.purge(HISTORY_STREAM, { filter: subjects.history(sid) }).catch((e: Error) => {
    o.log.warn({ sid, err: e.message }, "could not purge an ended session's history; it expires with the retention");
  });
}
