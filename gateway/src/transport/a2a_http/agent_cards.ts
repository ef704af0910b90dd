// The cards of the agents behind the gateway (RADIANT_A2A_CONFIG), fetched in the
// background — at start, again until they answer, and every few minutes — so
// that serving a card never waits on an agent.
import type { A2aAgentConfig } from "@radiant/infra/a2a-agents";
import { fetchAgentCard } from "@radiant/infra/a2a-agents";
import type { Log } from "@radiant/infra/log";

type Obj = Record<string, unknown>;
const RETRY_MS = 5000;
const REFRESH_MS = 300_000;

export class AgentCards {
  private readonly cards = new Map<string, Obj>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(
    agents: readonly A2aAgentConfig[],
    private readonly log: Log,
  ) {
    for (const a of agents) void this.fetch(a);
  }

  /** The agent's own card, once fetched. */
  card(name: string): Obj | undefined {
    return this.cards.get(name);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
  }

  private async fetch(a: A2aAgentConfig): Promise<void> {
    let next = REFRESH_MS;
    try {
      const card = await fetchAgentCard(a);
      if (!this.cards.has(a.name)) this.log.info({ agent: a.name }, "agent card fetched");
      this.cards.set(a.name, card);
    } catch (e) {
      if (!this.cards.has(a.name)) next = RETRY_MS;
      this.log.warn({ agent: a.name, err: (e as Error).message }, "agent card not fetched");
    }
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      void this.fetch(a);
    }, next);
    t.unref();
    this.timers.add(t);
  }
}
