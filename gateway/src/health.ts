// /health and /metrics for the whole gateway: the supervisor asks every
// gateway process for its counters over IPC (ipc.ts) and serves their sum.
// What a process that died had counted is kept (its last report), so totals
// never fall back when a process is restarted.
import type { ChildProcess } from "node:child_process";
import type { IncomingMessage, ServerResponse } from "node:http";
import { AggregatorRegistry } from "prom-client";
import type { MetricsRequest, MetricsResponse } from "./ipc.js";

type Metrics = MetricsResponse["metrics"];

export class GatewayCounters {
  private nextId = 1;
  private readonly waiting = new Map<number, (m: Metrics) => void>();
  /** each live process's latest counters, by slot */
  private readonly last: (Metrics | undefined)[];
  /** the counters of processes that died or were replaced, summed */
  private retired: Metrics = [];

  constructor(
    /** the supervisor's slots: a process or nothing (being restarted) */
    private readonly children: readonly (ChildProcess | undefined)[],
  ) {
    this.last = new Array(children.length).fill(undefined);
  }

  /** A process answered a request for its metrics. */
  answered(id: number, m: Metrics): void {
    this.waiting.get(id)?.(m);
  }

  /** A process's own report (every second, and as it stops). */
  reported(slot: number, m: Metrics): void {
    if (slot >= 0) this.last[slot] = m;
  }

  /** The process in `slot` is gone: keep its counters (not its gauges: its connections are gone). */
  retire(slot: number): void {
    const last = this.last[slot];
    this.last[slot] = undefined;
    if (!last) return;
    const kept = last.filter((m) => ["counter", "histogram"].includes(String(m.type)));
    void AggregatorRegistry.aggregate([this.retired, kept])
      .getMetricsAsJSON()
      .then((json) => (this.retired = json));
  }

  /** Every live process's metrics now, summed with those of the retired. */
  async collect(): Promise<{ answered: number; registry: ReturnType<typeof AggregatorRegistry.aggregate> }> {
    const replies = await Promise.all(this.children.map((c, i) => this.ask(c, i)));
    const got = replies.filter((r): r is Metrics => r !== undefined);
    return { answered: got.length, registry: AggregatorRegistry.aggregate(this.retired.length > 0 ? [this.retired, ...got] : got) };
  }

  private ask(c: ChildProcess | undefined, slot: number): Promise<Metrics | undefined> {
    return new Promise((resolve) => {
      if (!c?.connected) return resolve(undefined);
      const id = this.nextId++;
      const t = setTimeout(() => {
        this.waiting.delete(id);
        resolve(undefined);
      }, 1000);
      this.waiting.set(id, (v) => {
        clearTimeout(t);
        this.waiting.delete(id);
        // the freshest counters of this process: what is kept of it if it dies next
        if (this.children[slot] === c) this.last[slot] = v;
        resolve(v);
      });
      const req: MetricsRequest = { type: "radiant:metrics", id };
      c.send(req);
    });
  }

  /** The seed's /health: 200 when every process answers and is connected to NATS. */
  async health(stopping: boolean): Promise<{ code: number; body: Record<string, unknown> }> {
    const { answered, registry } = await this.collect();
    const values = new Map<string, number>();
    for (const m of await registry.getMetricsAsJSON()) {
      if (m.values.length === 1) values.set(m.name, m.values[0]!.value);
    }
    const natsUp = answered === this.children.length && values.get("radiant_nats_connected") === 1;
    const ok = natsUp && !stopping;
    return {
      code: ok ? 200 : 503,
      body: {
        status: ok ? "ok" : stopping ? "stopping" : "degraded",
        active_connections: values.get("radiant_active_connections") ?? 0,
        total_connections: values.get("radiant_connections_total") ?? 0,
        messages_in: values.get("radiant_messages_in_total") ?? 0,
        messages_out: values.get("radiant_messages_out_total") ?? 0,
        nats: natsUp ? "connected" : "disconnected",
      },
    };
  }

  /** The health port's request handler. */
  serve(req: IncomingMessage, res: ServerResponse, stopping: boolean): void {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET") {
      res.writeHead(405, { allow: "GET" }).end();
    } else if (path === "/health") {
      void this.health(stopping).then(({ code, body }) => res.writeHead(code, { "content-type": "application/json" }).end(JSON.stringify(body)));
    } else if (path === "/metrics") {
      void this.collect().then(async ({ registry }) => res.writeHead(200, { "content-type": registry.contentType }).end(await registry.metrics()));
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found: try /health or /metrics\n");
    }
  }
}
