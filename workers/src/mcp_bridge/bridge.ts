// The MCP bridge: the process that owns upstream MCP sessions, so workers stay
// stateless and a worker that dies takes no upstream session with it. It
// serves the subjects of @radiant/wire's mcp_bridge.ts; what an upstream sends
// that belongs to no call is published to the client session's HISTORY like
// any reply (the session's stream delivers it, resumable). A session's state
// is kept in a KV bucket, so a bridge started again takes its sessions up.
import type { KV } from "@nats-io/kv";
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import type { Log } from "@radiant/infra/log";
import type { McpServerConfig } from "@radiant/infra/mcp-servers";
import type { AckedPublisher } from "@radiant/infra/publish";
import {
  encodeBridge,
  MCP_ALIVE_MS,
  MCP_BRIDGE_QUEUE,
  mcpBridgeSubjects,
  readBridgeBody,
  readServerRequestId,
  serverRequestId,
  sessionMessageHeaders,
  subjects,
  type CallFrame,
  type CallRequest,
  type CancelRequest,
  type NotifyRequest,
  type OpenReply,
  type OpenRequest,
  type RespondRequest,
  type RpcObject,
  type SessionId,
} from "@radiant/wire";
import { rpcMessage } from "../reply.js";
import { ClientSession, defaultClientParams, type StoredSession } from "./client_session.js";
import { bridgeErrors, UpstreamError, type PendingCall, type Upstream } from "./upstream.js";

export interface BridgeOptions {
  nc: NatsConnection;
  servers: readonly McpServerConfig[];
  publisher: Pick<AckedPublisher, "publish">;
  kv: KV | undefined;
  log: Log;
  /** a session unused this long has its upstream sessions closed */
  idleMs: number;
  /** most client sessions held; past it the least recently used idle one is closed */
  maxSessions: number;
  /** most stdio server processes run at once (each client session has its own); past it the least recently used idle session is closed, or the open is refused */
  maxStdio: number;
  /** a session is let go for another only after this long unused */
  minIdleMs: number;
  /** how long a client's initialize waits for servers still starting (they go on starting) */
  openWaitMs: number;
  /** largest frame sent back to a worker (the NATS max_payload, less room for headers) */
  maxFrameBytes: number;
  /** an id of this process for the session messages it publishes */
  id: string;
}

/** How long a finished call's answer is kept for a worker that asks again (a redelivery after a worker died). */
const DONE_KEEP_MS = 120_000;
/** pages of a server's resource list read to find where a URI lives */
const DISCOVER_PAGES = 20;
/** frames of a running call kept for a worker that takes it over */
const CALL_BUFFER = 256;
/** …and at most this many bytes of them */
const CALL_BUFFER_BYTES = 8 * 1024 * 1024;
/** bytes of finished calls kept at most (beyond it the oldest are forgotten before DONE_KEEP_MS) */
const DONE_KEEP_BYTES = 64 * 1024 * 1024;

class Call {
  /** what was sent to the worker, encoded: a worker taking the call over gets it again */
  readonly frames: Uint8Array[] = [];
  bytes = 0;
  done: CallFrame | undefined;
  doneAt = 0;
  upstream: Upstream | undefined;
  upstreamId: number | undefined;
  /** the client cancelled it: if the server has not been asked yet, it never is */
  cancelled = false;
  private readonly alive: NodeJS.Timeout;

  constructor(
    readonly key: string,
    public replyTo: string,
    private readonly nc: NatsConnection,
  ) {
    this.alive = setInterval(() => this.emit({ t: "alive" }, false), MCP_ALIVE_MS);
    this.alive.unref();
  }

  emit(f: CallFrame, keep = true, bytes = encodeBridge(f)): void {
    if (this.done) return;
    const last = f.t === "result" || f.t === "fail";
    // the last frame is always kept: a worker taking over a finished call needs its outcome above all
    if (keep && (last || (this.frames.length < CALL_BUFFER - 1 && this.bytes + bytes.byteLength <= CALL_BUFFER_BYTES))) {
      this.frames.push(bytes);
      this.bytes += bytes.byteLength;
    }
    if (last) {
      this.done = f;
      this.doneAt = Date.now();
      clearInterval(this.alive);
    }
    try {
      this.nc.publish(this.replyTo, bytes);
    } catch {
      // the link is down: the worker hears nothing and asks again (or times out)
    }
  }

  /** Another worker took the call over: it gets everything so far. */
  retarget(replyTo: string): void {
    this.replyTo = replyTo;
    try {
      for (const f of this.frames) this.nc.publish(replyTo, f);
    } catch {
      // the link is down: the worker hears nothing and asks again (or times out)
    }
  }

  stop(): void {
    clearInterval(this.alive);
  }
}

export class McpBridge {
  private readonly sessions = new Map<SessionId, ClientSession>();
  /** sessions being restored from KV or opened */
  private readonly pendingSessions = new Map<SessionId, Promise<ClientSession>>();
  private readonly calls = new Map<string, Call>();
  /** finished calls, oldest first, and the bytes they keep */
  private readonly finished: Call[] = [];
  private finishedBytes = 0;
  private readonly sweeper: NodeJS.Timeout;
  private readonly subs: Subscription[] = [];
  private readonly reaper: NodeJS.Timeout;
  private published = 0;
  private readonly restarts = new Map<Upstream, NodeJS.Timeout>();

  constructor(private readonly o: BridgeOptions) {
    this.reaper = setInterval(() => this.reap(), Math.min(30_000, Math.max(1000, o.idleMs / 4)));
    this.reaper.unref();
    this.sweeper = setInterval(() => this.forgetFinished(), 1000);
    this.sweeper.unref();
  }

  start(): void {
    const { nc } = this.o;
    const serve = (subject: string, f: (m: Msg) => Promise<void> | void) =>
      this.subs.push(
        nc.subscribe(subject, {
          queue: MCP_BRIDGE_QUEUE,
          callback: (_e, m) => {
            try {
              const r = f(m);
              if (r) r.catch((e: unknown) => this.o.log.warn({ err: String(e) }, "bridge request failed"));
            } catch (e) {
              this.o.log.warn({ err: String(e) }, "bridge request failed");
            }
          },
        }),
      );
    serve(mcpBridgeSubjects.open, (m) => this.onOpen(m));
    serve(mcpBridgeSubjects.call, (m) => this.onCall(m));
    serve(mcpBridgeSubjects.cancel, (m) => this.onCancel(m));
    serve(mcpBridgeSubjects.respond, (m) => this.onRespond(m));
    serve(mcpBridgeSubjects.notify, (m) => this.onNotify(m));
    // a session its client ended (MCP DELETE): its upstream sessions end too
    this.subs.push(
      nc.subscribe(subjects.endedAll, {
        callback: (_e, m) => {
          const sid = subjects.sidOfEnded(m.subject);
          if (sid) void this.endSession(sid, "the client ended the session");
        },
      }),
    );
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  async stop(): Promise<void> {
    clearInterval(this.reaper);
    clearInterval(this.sweeper);
    for (const s of this.subs) s.unsubscribe();
    for (const t of this.restarts.values()) clearTimeout(t);
    for (const c of this.calls.values()) c.stop();
    // stdio servers stop with us; Streamable HTTP sessions stay open for the next bridge to take up
    await Promise.all([...this.sessions.values()].map((s) => s.close("the MCP bridge is stopping", false)));
  }

  // ---- open -------------------------------------------------------------------------

  private async onOpen(m: Msg): Promise<void> {
    const req = readBridgeBody<OpenRequest>(m.data);
    if (!req || typeof req.params !== "object" || req.params === null) return;
    // a client that left out what a server insists on (`{"method":"initialize"}` alone) gets the defaults for it
    req.params = { ...defaultClientParams(), ...req.params };
    const old = this.sessions.get(req.sid);
    // the same initialize again (a client re-sending it): the upstream sessions it has will do
    const same = old !== undefined && !old.closed && JSON.stringify(old.params) === JSON.stringify(req.params);
    // replaced at once, before any wait: a call that comes meanwhile finds the new session and waits for its opens
    const s = same ? old : this.newSession(req.sid, req.params, undefined);
    // a server slow to start does not hold the client's initialize: it is told the lists changed once it is up
    const reply: OpenReply = { upstreams: await s.openAll(this.o.openWaitMs, (_server, init) => this.listsChanged(s, init)) };
    this.persist(s);
    this.respond(m, reply);
  }

  /** A reply to a worker's request; one too large for NATS says so instead of leaving the worker to time out. */
  private respond(m: Msg, v: unknown): void {
    try {
      m.respond(encodeBridge(v));
    } catch (e) {
      this.o.log.warn({ err: String(e) }, "a reply to a worker could not be sent");
      m.respond(encodeBridge({ upstreams: [], error: String(e) }));
    }
  }

  /** A new session for `sid`; one it replaces is closed. */
  private newSession(sid: SessionId, params: RpcObject, stored: StoredSession | undefined): ClientSession {
    const replaced = this.sessions.get(sid);
    if (replaced) {
      this.sessions.delete(sid);
      void replaced.close("the client initialized again");
    }
    this.makeRoom();
    const s = new ClientSession(
      sid,
      params,
      this.o.servers,
      {
        message: (u, msg, call) => this.fromUpstream(s, u, msg, call),
        closed: (u, why) => this.upstreamClosed(s, u, why),
      },
      this.o.log,
      stored,
      (asking) => this.admitStdio(asking),
    );
    this.sessions.set(sid, s);
    return s;
  }

  /** The session, from memory, from KV (another bridge had it), or opened with default params. */
  private async session(sid: SessionId): Promise<ClientSession> {
    const have = this.sessions.get(sid);
    if (have) return have;
    const pending = this.pendingSessions.get(sid);
    if (pending) return pending;
    const p = (async () => {
      const stored = await this.load(sid);
      // an initialize that came while KV was read has made the session meanwhile: it wins
      return this.sessions.get(sid) ?? this.newSession(sid, stored?.params ?? defaultClientParams(), stored);
    })();
    this.pendingSessions.set(sid, p);
    try {
      return await p;
    } finally {
      this.pendingSessions.delete(sid);
    }
  }

  /** The client ended the session: its upstream sessions end, its state goes (whether this bridge held it or not). */
  private async endSession(sid: SessionId, why: string): Promise<void> {
    const s = this.sessions.get(sid);
    if (s) {
      this.sessions.delete(sid);
      await s.close(why);
    }
    await this.o.kv?.delete(sid).catch(() => {});
  }

  /** Close a session this bridge lets go of (idle, or room for another): the next request opens fresh upstream sessions and renews its subscriptions. */
  private letGo(s: ClientSession, why: string): void {
    if (this.sessions.get(s.sid) === s) this.sessions.delete(s.sid);
    void s.close(why).then(() => {
      const kv = this.o.kv;
      if (kv)
        kv.put(s.sid, JSON.stringify({ ...s.toStored(), ups: {} })).catch((e: unknown) => this.o.log.warn({ err: String(e) }, "session state not stored"));
    });
  }

  // ---- calls ------------------------------------------------------------------------

  private async onCall(m: Msg): Promise<void> {
    const req = readBridgeBody<CallRequest>(m.data);
    const replyTo = m.reply;
    if (!req || !replyTo || typeof req.key !== "string" || typeof req.msg !== "object" || req.msg === null) return;
    const callKey = `${req.sid}/${req.key}`;
    const running = this.calls.get(callKey);
    if (running) {
      running.retarget(replyTo);
      return;
    }
    const call = new Call(callKey, replyTo, this.o.nc);
    this.calls.set(callKey, call);
    try {
      const s = await this.session(req.sid);
      s.lastUsed = Date.now();
      await this.run(s, call, req);
    } catch (e) {
      const u = e instanceof UpstreamError ? e : undefined;
      call.emit({ t: "fail", code: u?.code ?? bridgeErrors.unavailable, message: (e as Error).message, ...(u ? { server: u.server } : {}) });
    } finally {
      call.stop();
      this.finished.push(call);
      this.finishedBytes += call.bytes;
      this.forgetFinished();
    }
  }

  /** Finished calls are kept DONE_KEEP_MS for a worker that asks again, within DONE_KEEP_BYTES. */
  private forgetFinished(): void {
    const now = Date.now();
    let n = 0;
    for (const c of this.finished) {
      if (now - c.doneAt < DONE_KEEP_MS && this.finishedBytes <= DONE_KEEP_BYTES) break;
      this.finishedBytes -= c.bytes;
      if (this.calls.get(c.key) === c) this.calls.delete(c.key);
      n++;
    }
    if (n > 0) this.finished.splice(0, n);
  }

  private async run(s: ClientSession, call: Call, req: CallRequest): Promise<void> {
    const method = String(req.msg.method);
    const params = (req.msg.params ?? {}) as RpcObject;
    let server = "server" in req.target ? req.target.server : s.ownerOfUri(req.target.uri);
    if (server === undefined && "uri" in req.target) {
      // a URI this client never listed here (listed through another bridge, or known beforehand): the servers' lists, read once
      s.discovered ??= this.discover(s);
      await s.discovered;
      server = s.ownerOfUri(req.target.uri);
    }
    if (server === undefined) {
      call.emit({ t: "fail", code: bridgeErrors.resourceNotFound, message: `Resource not found: ${(req.target as { uri: string }).uri}` });
      return;
    }
    if (method === "resources/subscribe" && (s.subs.get(server)?.size ?? 0) >= ClientSession.MAX_SUBSCRIPTIONS) {
      call.emit({ t: "fail", code: -32602, message: `Invalid params: at most ${ClientSession.MAX_SUBSCRIPTIONS} subscriptions per server` });
      return;
    }
    let answer: RpcObject;
    for (let attempt = 0; ; attempt++) {
      const up = await s.upstream(server);
      // cancelled while the server was being opened: it never sees the request
      if (call.cancelled) throw new UpstreamError(server, bridgeErrors.unavailable, "cancelled by the client");
      call.upstream = up;
      try {
        answer = await up.request(
          req.msg,
          (msg) => this.toCall(s, up, call, msg),
          (id) => (call.upstreamId = id),
        );
        break;
      } catch (e) {
        // the server forgot the session (it restarted): a fresh one, and the request once more
        if (!(e instanceof UpstreamError && e.expired) || attempt > 0) throw e;
        this.o.log.info({ server, sid: s.sid }, "upstream session expired: opening a fresh one");
      }
    }
    const result = answer.result as RpcObject | undefined;
    if (result && answer.error === undefined) {
      s.learn(server, method, result);
      if (method === "resources/subscribe" || method === "resources/unsubscribe") {
        const uri = params.uri;
        if (typeof uri === "string") {
          const set = s.subs.get(server) ?? new Set<string>();
          if (method === "resources/subscribe") set.add(uri);
          else set.delete(uri);
          s.subs.set(server, set);
          this.persist(s);
        }
      } else if (method === "logging/setLevel" && typeof params.level === "string") {
        s.logLevel = params.level;
        this.persist(s);
      }
    }
    const frame: CallFrame = { t: "result", server, msg: { ...answer, id: req.msg.id ?? null } };
    // encoded once: measured here, sent as it is
    const bytes = encodeBridge(frame);
    const size = bytes.byteLength;
    if (size > this.o.maxFrameBytes) {
      call.emit({
        t: "fail",
        code: bridgeErrors.tooLarge,
        server,
        message: `MCP server '${server}' answered ${method} with ${size} bytes, more than a message may hold (${this.o.maxFrameBytes})`,
      });
      return;
    }
    call.emit(frame, true, bytes);
  }

  /** A server's message that belongs to a call (already as the client sees it): to the call's worker, if it fits a message. */
  private toCall(s: ClientSession, up: Upstream, call: Call, msg: RpcObject): void {
    const bytes = encodeBridge({ t: "msg", msg });
    if (bytes.byteLength <= this.o.maxFrameBytes) call.emit({ t: "msg", msg }, true, bytes);
    else this.tooLarge(s, up, msg, bytes.byteLength);
  }

  /** A server's message too large to pass on: said in the log, and a request of the server's answered with an error so it does not wait. */
  private tooLarge(s: ClientSession, up: Upstream, msg: RpcObject, size: number): void {
    this.o.log.warn({ server: up.name, sid: s.sid, method: msg.method, size }, "a server's message is too large for a client message: dropped");
    const asked = readServerRequestId(msg.id);
    if (asked && typeof msg.method === "string")
      void up
        .send({ jsonrpc: "2.0", id: asked.upstreamId, error: { code: -32603, message: `the request is too large for the gateway (${size} bytes)` } })
        .catch(() => {});
  }

  /** Learn which server lists which resources: every page of each server's resources and templates. */
  private async discover(s: ClientSession): Promise<void> {
    await Promise.all(
      this.o.servers.map(async (cfg) => {
        const up = await s.upstream(cfg.name).catch(() => undefined);
        if (!up || (up.state?.init.capabilities as RpcObject | undefined)?.resources === undefined) return;
        for (const method of ["resources/list", "resources/templates/list"]) {
          let cursor: unknown;
          for (let page = 0; page < DISCOVER_PAGES; page++) {
            const r = await up.request({ jsonrpc: "2.0", method, params: cursor === undefined ? {} : { cursor } }).catch(() => undefined);
            const result = r?.result as RpcObject | undefined;
            if (!result) break;
            s.learn(cfg.name, method, result);
            cursor = result.nextCursor;
            if (typeof cursor !== "string") break;
          }
        }
      }),
    );
  }

  private onCancel(m: Msg): void {
    const req = readBridgeBody<CancelRequest>(m.data);
    if (!req || typeof req.key !== "string") return;
    const call = this.calls.get(`${req.sid}/${req.key}`);
    if (!call || call.done) return;
    call.cancelled = true;
    if (call.upstream && call.upstreamId !== undefined) call.upstream.cancel(call.upstreamId, "cancelled by the client");
  }

  private async onRespond(m: Msg): Promise<void> {
    const req = readBridgeBody<RespondRequest>(m.data);
    if (!req || typeof req.msg !== "object" || req.msg === null) return;
    const target = readServerRequestId(req.msg.id);
    this.o.log.debug({ sid: req.sid, id: req.msg.id, known: target !== undefined }, "client answer");
    if (!target) return;
    const s = this.sessions.get(req.sid);
    const init = s?.initOf(target.server);
    if (!s || init === undefined) return; // the upstream session that asked is gone: nobody waits for this answer
    const up = await s.upstream(target.server);
    await up.send({ ...req.msg, id: target.upstreamId }).catch((e: unknown) => this.o.log.debug({ err: String(e) }, "answer not delivered upstream"));
  }

  private async onNotify(m: Msg): Promise<void> {
    const req = readBridgeBody<NotifyRequest>(m.data);
    if (!req || typeof req.msg !== "object" || req.msg === null || typeof req.msg.method !== "string") return;
    const s = this.sessions.get(req.sid);
    if (!s) return;
    for (const server of this.o.servers) {
      if (s.initOf(server.name) === undefined) continue;
      const up = await s.upstream(server.name).catch(() => undefined);
      await up?.send({ jsonrpc: "2.0", method: req.msg.method, ...(req.msg.params ? { params: req.msg.params } : {}) }).catch(() => {});
    }
  }

  // ---- from upstreams ---------------------------------------------------------------

  /** An upstream's message as its client sees it: a server→client request's id (and a cancel's) names the upstream. */
  private toClient(server: string, msg: RpcObject): RpcObject {
    if ("id" in msg && (typeof msg.id === "string" || typeof msg.id === "number")) return { ...msg, id: serverRequestId(server, msg.id) };
    if (msg.method === "notifications/cancelled") {
      const p = msg.params as RpcObject | undefined;
      const rid = p?.requestId;
      if (typeof rid === "string" || typeof rid === "number") return { ...msg, params: { ...p, requestId: serverRequestId(server, rid) } };
    }
    return msg;
  }

  private fromUpstream(s: ClientSession, u: Upstream, msg: RpcObject, call: PendingCall | undefined): void {
    if (!s.owns(u)) return;
    // a server's resources changed: where a URI lives is read again at the next miss
    if (msg.method === "notifications/resources/list_changed") s.discovered = undefined;
    const out = this.toClient(u.name, msg);
    if (call) call.onMessage(out);
    else this.publishToSession(s, u, out);
  }

  /** A message of no request: stored in the session's HISTORY, delivered on its stream. */
  private publishToSession(s: ClientSession, u: Upstream | undefined, msg: RpcObject): void {
    const r = rpcMessage(msg);
    if (r.body.byteLength > this.o.maxFrameBytes) {
      if (u) this.tooLarge(s, u, msg, r.body.byteLength);
      return;
    }
    const h = sessionMessageHeaders([{ length: r.body.byteLength, ...(r.slot ? { slot: r.slot } : {}) }], Date.now());
    this.o.publisher
      .publish(subjects.history(s.sid), r.body, `mcpb.${this.o.id}.${this.published++}`, h)
      .catch((e: unknown) => this.o.log.warn({ err: String(e), sid: s.sid, method: msg.method }, "a server's message for a session could not be stored"));
  }

  private upstreamClosed(s: ClientSession, u: Upstream, why: string): void {
    if (!s.owns(u) || s.closed) return;
    this.o.log.warn({ server: u.name, sid: s.sid, why }, "upstream session closed");
    // closed while opening: the open's failure handles it (and its backoff)
    if (!s.markDown(u, why)) return;
    // opened again with backoff (a stdio server started again, an HTTP session made anew: its GET
    // stream is how the server reaches the client), and the client told its lists may have changed
    const attempt = (delay: number) => {
      const t = setTimeout(() => {
        this.restarts.delete(u);
        if (s.closed || this.sessions.get(s.sid) !== s) return;
        s.upstream(u.name).then(
          (fresh) => {
            this.o.log.info({ server: u.name, sid: s.sid }, "upstream session opened again");
            if (fresh.state) this.listsChanged(s, fresh.state.init);
          },
          () => attempt(Math.min(30_000, delay * 2)),
        );
      }, delay);
      t.unref();
      this.restarts.set(u, t);
    };
    attempt(250);
  }

  /** A server came up after the client last looked: its tools, prompts and resources may be new to the client. */
  private listsChanged(s: ClientSession, init: RpcObject): void {
    if (s.closed || this.sessions.get(s.sid) !== s) return;
    this.persist(s);
    const caps = (init.capabilities ?? {}) as RpcObject;
    for (const kind of ["tools", "prompts", "resources"] as const)
      if (caps[kind] !== undefined) this.publishToSession(s, undefined, { jsonrpc: "2.0", method: `notifications/${kind}/list_changed` });
  }

  // ---- state ------------------------------------------------------------------------

  private persist(s: ClientSession): void {
    const kv = this.o.kv;
    // a session replaced (initialized again) or let go keeps its hands off the state
    if (!kv || s.closed || this.sessions.get(s.sid) !== s) return;
    kv.put(s.sid, JSON.stringify(s.toStored())).catch((e: unknown) => this.o.log.warn({ err: String(e) }, "session state not stored"));
  }

  private async load(sid: SessionId): Promise<StoredSession | undefined> {
    const kv = this.o.kv;
    if (!kv) return undefined;
    try {
      const e = await kv.get(sid);
      if (e?.operation !== "PUT" || e.value.byteLength === 0) return undefined;
      const v = e.json<StoredSession>();
      return typeof v?.params === "object" && v.params !== null && typeof v.ups === "object" && typeof v.subs === "object" ? v : undefined;
    } catch (e) {
      this.o.log.warn({ sid, err: String(e) }, "session state unreadable: its upstream sessions open with default client params");
      return undefined;
    }
  }

  /** Close sessions unused for idleMs (none with a request in flight). */
  private reap(): void {
    const now = Date.now();
    for (const s of [...this.sessions.values()]) if (now - s.lastUsed > this.o.idleMs && !s.busy) this.letGo(s, "idle");
  }

  private admitStdio(asking: ClientSession): void {
    let running = 0;
    for (const s of this.sessions.values()) running += s.stdioProcesses;
    if (running < this.o.maxStdio) return;
    const idle = this.leastRecentlyUsedIdle(asking, (s) => s.stdioProcesses > 0);
    if (idle) return this.letGo(idle, "too many stdio server processes");
    throw new UpstreamError(
      "",
      bridgeErrors.unavailable,
      `${this.o.maxStdio} stdio MCP server processes run for other sessions, none idle for ${this.o.minIdleMs} ms (MCP_BRIDGE_MAX_STDIO): try again later`,
    );
  }

  /** The session unused longest, if it has been for minIdleMs (a session in use is never taken from its client). */
  private leastRecentlyUsedIdle(except: ClientSession | undefined, which: (s: ClientSession) => boolean = () => true): ClientSession | undefined {
    const before = Date.now() - this.o.minIdleMs;
    let oldest: ClientSession | undefined;
    for (const s of this.sessions.values())
      if (s !== except && !s.busy && s.lastUsed <= before && which(s) && (!oldest || s.lastUsed < oldest.lastUsed)) oldest = s;
    return oldest;
  }

  private makeRoom(): void {
    if (this.sessions.size < this.o.maxSessions) return;
    const oldest = this.leastRecentlyUsedIdle(undefined);
    if (oldest) this.letGo(oldest, "too many sessions");
  }
}
