// Push notifications: webhooks a client registers on a task (kept with it in
// KV), each POSTed the task whenever its state changes — through the egress
// proxy, retried with backoff, never holding the task up. A webhook that stays
// down loses its notification after the last try (said in the log).
import { randomUUID } from "node:crypto";
import type { Log } from "@radiant/infra/log";
import { RpcError, rpcErrors } from "../reply.js";
import { type Task, taskOut, type Version } from "./shapes.js";

export interface PushConfig {
  id: string;
  url: string;
  token?: string;
  /** `{schemes: ["Bearer"], credentials}`: sent as `Authorization` */
  authentication?: { schemes: string[]; credentials?: string };
  /** the protocol version the client set it in: the version of what is POSTed */
  version: Version;
}

const MAX_CONFIGS = 10;
const ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;
/** tries per notification, and the first pause between them (doubling) */
const TRIES = 5;
const FIRST_PAUSE_MS = 250;

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : undefined);

/** A client's push config (v1.0 flat, or v0.3's `pushNotificationConfig`), or a -32602. */
export function readPushConfig(v: unknown, version: Version): PushConfig {
  const o = obj(v);
  const bad = (m: string) => new RpcError(rpcErrors.invalidParams, `Invalid params: ${m}`);
  if (!o || typeof o.url !== "string") throw bad('a push config needs a "url"');
  let u: URL;
  try {
    u = new URL(o.url);
  } catch {
    throw bad('"url" is not a URL');
  }
  if ((u.protocol !== "http:" && u.protocol !== "https:") || o.url.length > 2048) throw bad('"url" must be http(s), at most 2048 characters');
  if (o.id !== undefined && o.id !== "" && (typeof o.id !== "string" || !ID_RE.test(o.id)))
    throw bad('"id" must be letters, digits, "_", "-", "." (at most 64)');
  if (o.token !== undefined && (typeof o.token !== "string" || o.token.length > 4096 || /[\r\n]/.test(o.token))) throw bad('"token" must be a one-line string');
  const c: PushConfig = { id: typeof o.id === "string" && o.id !== "" ? o.id : randomUUID(), url: u.href, version };
  if (typeof o.token === "string" && o.token !== "") c.token = o.token;
  const auth = obj(o.authentication);
  if (auth) {
    // a scheme is a token (RFC 9110): it goes into a header line
    const schemes = (Array.isArray(auth.schemes) ? auth.schemes : [auth.scheme]).filter(
      (s): s is string => typeof s === "string" && /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,32}$/.test(s),
    );
    const credentials = typeof auth.credentials === "string" && !/[\r\n]/.test(auth.credentials) ? auth.credentials : undefined;
    c.authentication = { schemes, ...(credentials !== undefined ? { credentials } : {}) };
  }
  return c;
}

/** Add or replace (same id) a config; at most MAX_CONFIGS per task. */
export function withConfig(list: readonly PushConfig[], c: PushConfig): PushConfig[] {
  const rest = list.filter((x) => x.id !== c.id);
  if (rest.length >= MAX_CONFIGS) throw new RpcError(rpcErrors.invalidParams, `Invalid params: at most ${MAX_CONFIGS} push configs per task`);
  return [...rest, c];
}

/**
 * A config as the client's version shows it (v1.0: flat, with its task; v0.3: inside
 * `pushNotificationConfig`). Read back (`redact`), its token and credentials are not shown: who set
 * them has them (the anonymous principal is shared by every client without a credential).
 */
export function configOut(taskId: string, c: PushConfig, v: Version, redact = false): Obj {
  const auth = c.authentication && (redact ? { schemes: c.authentication.schemes } : c.authentication);
  const body: Obj = {
    id: c.id,
    url: c.url,
    ...(c.token !== undefined && !redact ? { token: c.token } : {}),
    ...(auth ? { authentication: auth } : {}),
  };
  return v === "1.0" ? { taskId, ...body } : { taskId, pushNotificationConfig: body };
}

/** Where notifications go out: the egress proxy's webhook route (egress-proxy/README.md). */
export interface PushSender {
  post(url: string, headers: Record<string, string>, body: string): Promise<number>;
}

/** Notifications on their way, each retried on its own; a task's go out in order of its changes. */
export class Pusher {
  private readonly chains = new Map<string, Promise<void>>();

  constructor(
    private readonly sender: PushSender,
    private readonly log: Log,
  ) {}

  /** The task changed: every config of it gets it (in the background). */
  notify(task: Task, configs: readonly PushConfig[]): void {
    for (const c of configs) {
      const key = `${task.id}/${c.id}`;
      const body = JSON.stringify(c.version === "1.0" ? { task: taskOut(task, "1.0") } : taskOut(task, "0.3"));
      const prev = this.chains.get(key) ?? Promise.resolve();
      const next = prev.then(() => this.deliver(c, body, task.id));
      this.chains.set(key, next);
      void next.finally(() => {
        if (this.chains.get(key) === next) this.chains.delete(key);
      });
    }
  }

  private async deliver(c: PushConfig, body: string, taskId: string): Promise<void> {
    const headers: Record<string, string> = { "Content-Type": c.version === "1.0" ? "application/a2a+json" : "application/json" };
    if (c.token !== undefined) headers["X-A2A-Notification-Token"] = c.token;
    const scheme = c.authentication?.schemes[0];
    if (scheme && c.authentication?.credentials !== undefined) headers.Authorization = `${scheme} ${c.authentication.credentials}`;
    let pause = FIRST_PAUSE_MS;
    for (let i = 1; i <= TRIES; i++) {
      const status = await this.sender.post(c.url, headers, body).catch(() => 0);
      if (status >= 200 && status < 300) return;
      // a 4xx other than 408/429 will not get better
      if (status >= 400 && status < 500 && status !== 408 && status !== 429) break;
      if (i < TRIES) await new Promise((r) => setTimeout(r, pause));
      pause *= 2;
    }
    this.log.warn({ task: taskId, config: c.id }, "a push notification was not delivered: its webhook did not take it");
  }
}
