// A client session's upstream sessions: one per configured server, opened with
// the client's own initialize params (a server offers tools by what its client
// can do), and what must be put back when one is opened again — resource
// subscriptions and the log level. It also knows which server listed which
// resource URI, so reads and subscriptions go where the resource lives.
import type { Log } from "@radiant/infra/log";
import { MCP_PROTOCOL_VERSION, SERVER_INFO } from "../handler_mcp.js";
import type { McpServerConfig } from "@radiant/infra/mcp-servers";
import type { RpcObject, SessionId, UpstreamOpened } from "@radiant/wire";
import { bridgeErrors, openTimeoutMs, Upstream, UpstreamError, type UpstreamEvents, type UpstreamState } from "./upstream.js";

/** What is stored (KV) for a client session: enough for another bridge process to take it up. */
export interface StoredSession {
  params: RpcObject;
  ups: Record<string, UpstreamState>;
  subs: Record<string, string[]>;
  logLevel?: string;
}

/** A client that never sent `initialize` (the default WebSocket framing may not) gets upstream sessions opened with these. */
export function defaultClientParams(): RpcObject {
  return { protocolVersion: MCP_PROTOCOL_VERSION, capabilities: {}, clientInfo: SERVER_INFO };
}

const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 30_000;

interface Slot {
  up: Upstream;
  /** a Streamable HTTP session kept in KV, taken up at the first open only */
  stored: UpstreamState | undefined;
  /** the open in progress, if any */
  opening: Promise<RpcObject> | undefined;
  /** why the last open failed, and when it may be tried again */
  down: { why: string; until: number; delay: number } | undefined;
}

export class ClientSession {
  private readonly slots = new Map<string, Slot>();
  /** resource URIs each server listed (exact), and the literal prefixes of its templates */
  private readonly uriOwner = new Map<string, string>();
  private readonly templatePrefixes: [string, string][] = [];
  readonly subs = new Map<string, Set<string>>();
  /** every server's resource lists, read once (again after a resources list_changed) to find a URI's server */
  discovered: Promise<void> | undefined;
  logLevel: string | undefined;
  lastUsed = Date.now();
  closed = false;
  /** at most this many resource subscriptions per server (each is stored, and put back when the server is opened again) */
  static readonly MAX_SUBSCRIPTIONS = 1000;

  constructor(
    readonly sid: SessionId,
    readonly params: RpcObject,
    readonly servers: readonly McpServerConfig[],
    private readonly events: UpstreamEvents,
    private readonly log: Log,
    stored: StoredSession | undefined,
    /** called before a stdio server is started for this session: throws when no more may run */
    private readonly admitStdio: (s: ClientSession) => void = () => {},
  ) {
    for (const s of servers) {
      const kept = stored?.ups[s.name];
      this.slots.set(s.name, {
        up: new Upstream(s, events, log),
        stored: s.kind === "http" && kept?.transport !== "stdio" ? kept : undefined,
        opening: undefined,
        down: undefined,
      });
    }
    if (stored) {
      for (const [server, uris] of Object.entries(stored.subs)) this.subs.set(server, new Set(uris));
      this.logLevel = stored.logLevel;
    }
  }

  /**
   * Open every upstream (at once, in parallel); each one's result or why it is down. One still
   * opening after `waitMs` is reported as such and goes on opening: `late` is told when it is open.
   */
  openAll(waitMs = Number.POSITIVE_INFINITY, late: (server: string, init: RpcObject) => void = () => {}): Promise<UpstreamOpened[]> {
    return Promise.all(
      this.servers.map(async (s): Promise<UpstreamOpened> => {
        let timer: NodeJS.Timeout | undefined;
        let gaveUp = false;
        const opening = this.ready(s.name);
        try {
          const wait = Number.isFinite(waitMs)
            ? new Promise<never>((_, reject) => {
                timer = setTimeout(() => {
                  gaveUp = true;
                  reject(new Error(`MCP server '${s.name}' is still starting`));
                }, waitMs);
              })
            : undefined;
          return { server: s.name, ok: true, result: await (wait ? Promise.race([opening, wait]) : opening) };
        } catch (e) {
          if (gaveUp) opening.then((init) => late(s.name, init)).catch(() => {});
          return { server: s.name, ok: false, error: (e as Error).message };
        } finally {
          clearTimeout(timer);
        }
      }),
    );
  }

  /** The upstream, opened (or opened again after it went down, no sooner than its backoff allows). */
  async upstream(server: string): Promise<Upstream> {
    await this.ready(server);
    return this.slots.get(server)!.up;
  }

  /** The InitializeResult of an open upstream, if it is open. */
  initOf(server: string): RpcObject | undefined {
    const s = this.slots.get(server);
    return s?.up.ready ? s.up.state?.init : undefined;
  }

  private ready(server: string): Promise<RpcObject> {
    const slot = this.slots.get(server);
    if (!slot) return Promise.reject(new UpstreamError(server, bridgeErrors.unavailable, `no MCP server '${server}'`));
    if (this.closed) return Promise.reject(new UpstreamError(server, bridgeErrors.unavailable, "the session has ended"));
    if (slot.up.ready) return Promise.resolve(slot.up.state!.init);
    if (slot.opening) return slot.opening;
    if (slot.down && Date.now() < slot.down.until) return Promise.reject(new UpstreamError(server, bridgeErrors.unavailable, slot.down.why));
    const reopen = slot.down !== undefined || slot.up.state !== undefined;
    if (reopen) slot.up = new Upstream(slot.up.cfg, this.events, this.log);
    const stored = slot.stored;
    slot.stored = undefined;
    slot.opening = this.openOne(slot, stored).then(
      (r) => {
        slot.opening = undefined;
        slot.down = undefined;
        return r;
      },
      (e: unknown) => {
        slot.opening = undefined;
        const delay = Math.min(RETRY_MAX_MS, (slot.down?.delay ?? RETRY_FIRST_MS / 2) * 2);
        const why = e instanceof UpstreamError ? e.message : `MCP server '${server}' is unavailable: ${(e as Error).message}`;
        slot.down = { why, until: Date.now() + delay, delay };
        void slot.up.close(why);
        throw new UpstreamError(server, bridgeErrors.unavailable, why);
      },
    );
    return slot.opening;
  }

  private async openOne(slot: Slot, stored: UpstreamState | undefined, deadline = Date.now() + openTimeoutMs(slot.up.cfg.timeoutMs)): Promise<RpcObject> {
    const up = slot.up;
    if (this.closed) throw new UpstreamError(up.name, bridgeErrors.unavailable, "the session has ended");
    if (up.cfg.kind === "stdio") this.admitStdio(this);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new UpstreamError(
              up.name,
              bridgeErrors.timeout,
              `MCP server '${up.name}' did not finish initializing within ${openTimeoutMs(up.cfg.timeoutMs)} ms`,
            ),
          ),
        Math.max(0, deadline - Date.now()),
      );
    });
    let result: RpcObject;
    try {
      result = await Promise.race([up.open(this.params, stored), timeout]);
    } catch (e) {
      // whatever it started stops with it (a process still starting, a stream)
      await up.close(e instanceof Error ? e.message : String(e), false);
      // a stored Streamable HTTP session the server no longer knows: a fresh one, within the same time
      if (!stored || this.closed) throw e;
      slot.up = new Upstream(up.cfg, this.events, this.log);
      return this.openOne(slot, undefined, deadline);
    } finally {
      clearTimeout(timer);
    }
    if (this.closed) {
      await up.close("the session has ended");
      throw new UpstreamError(up.name, bridgeErrors.unavailable, "the session has ended");
    }
    // what the client had asked of this server before it was opened again
    const subs = this.subs.get(up.name);
    if (subs) for (const uri of subs) await up.request({ jsonrpc: "2.0", method: "resources/subscribe", params: { uri } }).catch(() => {});
    const caps = (result.capabilities ?? {}) as RpcObject;
    if (this.logLevel !== undefined && caps.logging !== undefined)
      await up.request({ jsonrpc: "2.0", method: "logging/setLevel", params: { level: this.logLevel } }).catch(() => {});
    return result;
  }

  /** Which server a resource URI belongs to: one it listed, else the longest template prefix, else undefined. */
  ownerOfUri(uri: string): string | undefined {
    const exact = this.uriOwner.get(uri);
    if (exact !== undefined) return exact;
    // the longest prefix; of equal ones, the first server's (templatePrefixes is in config order)
    let best: [string, string] | undefined;
    for (const t of this.templatePrefixes) if (uri.startsWith(t[0]) && (!best || t[0].length > best[0].length)) best = t;
    return best?.[1];
  }

  /**
   * Learn the URIs a server listed (resources/list, resources/templates/list results pass by here).
   * A URI several servers list belongs to the first of them in the config's order, whichever listed first.
   */
  learn(server: string, method: string, result: RpcObject): void {
    const rank = (name: string | undefined) => (name === undefined ? Number.POSITIVE_INFINITY : this.servers.findIndex((s) => s.name === name));
    if (method === "resources/list" && Array.isArray(result.resources)) {
      for (const r of result.resources as RpcObject[])
        if (typeof r?.uri === "string" && rank(server) < rank(this.uriOwner.get(r.uri))) this.uriOwner.set(r.uri, server);
    } else if (method === "resources/templates/list" && Array.isArray(result.resourceTemplates)) {
      for (const t of result.resourceTemplates as RpcObject[]) {
        if (typeof t?.uriTemplate !== "string") continue;
        const prefix = t.uriTemplate.split("{")[0]!;
        if (prefix === "" || this.templatePrefixes.some(([p, s]) => p === prefix && s === server)) continue;
        this.templatePrefixes.push([prefix, server]);
        const order = this.servers.map((s) => s.name);
        this.templatePrefixes.sort((a, b) => order.indexOf(a[1]) - order.indexOf(b[1]));
      }
    }
  }

  toStored(): StoredSession {
    const ups: Record<string, UpstreamState> = {};
    for (const [name, s] of this.slots) if (s.up.ready && s.up.state) ups[name] = s.up.state;
    const subs: Record<string, string[]> = {};
    for (const [server, set] of this.subs) if (set.size > 0) subs[server] = [...set];
    return { params: this.params, ups, subs, ...(this.logLevel !== undefined ? { logLevel: this.logLevel } : {}) };
  }

  /** Every upstream session ended: stdio processes stopped, HTTP sessions DELETEd when `terminate` (else left for the next bridge). */
  async close(why: string, terminate = true): Promise<void> {
    this.closed = true;
    await Promise.all([...this.slots.values()].map((s) => s.up.close(why, terminate)));
  }

  /** The server an upstream object belongs to in this session right now (a replaced one is not). */
  owns(up: Upstream): boolean {
    return this.slots.get(up.name)?.up === up;
  }

  /**
   * Forget that an upstream is open (it closed by itself): the next use opens it again. Whether it was
   * open: one that dies while opening is the open's failure (and its backoff) to handle.
   */
  markDown(up: Upstream, why: string): boolean {
    const slot = this.slots.get(up.name);
    if (!slot || slot.up !== up || slot.opening) return false;
    slot.down = { why, until: Date.now(), delay: slot.down?.delay ?? RETRY_FIRST_MS / 2 };
    return true;
  }

  /** stdio server processes this session runs (or is starting) */
  get stdioProcesses(): number {
    let n = 0;
    for (const s of this.slots.values()) if (s.up.cfg.kind === "stdio" && (s.up.ready || s.opening)) n++;
    return n;
  }

  get busy(): boolean {
    for (const s of this.slots.values()) if (s.up.inFlight > 0 || s.opening) return true;
    return false;
  }
}
