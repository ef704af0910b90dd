// The admin API, on the health port, behind GATEWAY_ADMIN_TOKEN (Bearer):
// gateway API keys (made here, stored hashed in NATS KV, revoked by deleting
// them: every gateway process follows the bucket) and the sessions open
// across the fleet (asked of every gateway process over NATS), which an admin
// can end everywhere. No token configured: the API does not exist.
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { openNats, type NatsLink } from "@radiant/infra/nats";
import { ADMIN_SESSIONS_SUBJECT, type AdminSession, type AdminSessionsQuery, asSessionId, decodeSessionsAnswer, isPrincipal } from "@radiant/wire";
import type { Logger } from "pino";
import { type ApiKeyRecord, grantOf, isKeyId, KeyGrantError, makeKey, openKeyBucket } from "./auth/api_keys.js";
import { endSession } from "./ended.js";

/** an admin's request body is small JSON */
const MAX_BODY = 64 * 1024;

const digest = (s: string) => createHash("sha256").update(s).digest();

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A key as the admin API shows it: everything but its hash. */
function shown(r: ApiKeyRecord): Omit<ApiKeyRecord, "hash"> {
  const { hash: _hash, ...rest } = r;
  return rest;
}

export class AdminApi {
  private readonly tokenDigest: Buffer;
  private link: NatsLink | undefined;
  private kv: Promise<KV> | undefined;

  constructor(
    token: string,
    private readonly natsUrl: string,
    private readonly log: Logger,
  ) {
    this.tokenDigest = digest(token);
  }

  /** Connect to NATS in the background (the health port answers meanwhile; admin calls get 503). */
  start(): void {
    openNats(this.natsUrl, `radiant-admin-${process.pid}`, this.log).then(
      (l) => {
        this.link = l;
      },
      // it retries a server that is down; what ends here is for good (bad credentials, a bad URL): the API answers 503
      (e: Error) => this.log.error({ err: e.message }, "the admin API cannot connect to NATS; it answers 503"),
    );
  }

  async stop(): Promise<void> {
    await this.link?.nc.close().catch(() => {});
  }

  /** Whether the request is the admin API's (then it is answered here). */
  handles(path: string): boolean {
    return path === "/admin" || path.startsWith("/admin/");
  }

  serve(req: IncomingMessage, res: ServerResponse, path: string): void {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" }).end(body === undefined ? undefined : JSON.stringify(body));
    };
    if (!this.authorized(req.headers.authorization)) {
      res.setHeader("www-authenticate", 'Bearer realm="radiant-admin"');
      return send(401, { error: "Unauthorized: the admin API needs Authorization: Bearer <GATEWAY_ADMIN_TOKEN>" });
    }
    this.route(req, path, new URL(req.url ?? "/", "http://admin").searchParams).then(
      ([status, body]) => send(status, body),
      (e: unknown) => {
        if (e instanceof HttpError) return send(e.status, { error: e.message });
        this.log.error({ err: (e as Error).message, path }, "admin API request failed");
        send(503, { error: `Service Unavailable: ${(e as Error).message}` });
      },
    );
  }

  private authorized(header: string | undefined): boolean {
    const m = /^Bearer[ \t]+(.+)$/i.exec(header ?? "");
    return m !== null && timingSafeEqual(digest(m[1]!.trim()), this.tokenDigest);
  }

  private async route(req: IncomingMessage, path: string, query: URLSearchParams): Promise<[number, unknown]> {
    const method = req.method ?? "GET";
    const parts = path.split("/").filter(Boolean); // ["admin", "keys", id?]
    if (parts[1] === "keys" && parts.length === 2) {
      if (method === "POST") return [201, await this.createKey(await readJson(req))];
      if (method === "GET") return [200, { keys: await this.listKeys() }];
    }
    if (parts[1] === "keys" && parts.length === 3 && method === "DELETE") return this.revokeKey(parts[2]!);
    if (parts[1] === "sessions" && parts.length === 2 && method === "GET") {
      const principal = query.get("principal");
      if (principal !== null && !isPrincipal(principal)) throw new HttpError(400, "principal must be 1–256 printable ASCII characters");
      return [200, await this.sessions(principal === null ? {} : { principal })];
    }
    if (parts[1] === "sessions" && parts.length === 3 && method === "DELETE") return this.endSession(parts[2]!);
    throw new HttpError(404, "Not found: POST/GET /admin/keys, DELETE /admin/keys/{id}, GET /admin/sessions?principal=, DELETE /admin/sessions/{sid}");
  }

  private nats(): NatsLink {
    if (!this.link?.connected) throw new HttpError(503, "Service Unavailable: not connected to NATS yet; retry");
    return this.link;
  }

  private bucket(): Promise<KV> {
    this.kv ??= openKeyBucket(this.nats().nc).catch((e: unknown) => {
      this.kv = undefined;
      throw e;
    });
    return this.kv;
  }

  private async createKey(body: unknown): Promise<unknown> {
    let grant: ReturnType<typeof grantOf>;
    try {
      grant = grantOf(body);
    } catch (e) {
      if (e instanceof KeyGrantError) throw new HttpError(400, `Bad Request: ${e.message}`);
      throw e;
    }
    const { key, record } = makeKey(grant);
    await (await this.bucket()).create(record.id, JSON.stringify(record));
    this.log.info({ id: record.id, principal: record.principal }, "API key made");
    // the key itself is shown this once: only its hash is kept
    return { key, ...shown(record) };
  }

  private async listKeys(): Promise<unknown[]> {
    const kv = await this.bucket();
    const out: unknown[] = [];
    for await (const id of await kv.keys()) {
      const e = await kv.get(id);
      if (e?.operation !== "PUT") continue;
      try {
        out.push(shown(e.json<ApiKeyRecord>()));
      } catch {
        // not a record: the watchers ignore it too
      }
    }
    return out;
  }

  private async revokeKey(id: string): Promise<[number, unknown]> {
    if (!isKeyId(id)) throw new HttpError(400, "Bad Request: not a key id");
    const kv = await this.bucket();
    const e = await kv.get(id);
    if (e?.operation !== "PUT") throw new HttpError(404, `Not found: no key ${id}`);
    await kv.delete(id);
    this.log.info({ id }, "API key revoked");
    return [204, undefined];
  }

  /** Every gateway process's open sessions: each answers once; the gathering ends when they stop coming. */
  private async sessions(q: AdminSessionsQuery): Promise<{ sessions: AdminSession[]; processes: number; truncated: boolean }> {
    const nc = this.nats().nc;
    const sessions: AdminSession[] = [];
    let processes = 0;
    let truncated = false;
    try {
      for await (const m of await nc.requestMany(ADMIN_SESSIONS_SUBJECT, JSON.stringify(q), { strategy: "stall", stall: 300, maxWait: 3000 })) {
        const a = decodeSessionsAnswer(m.data);
        if (!a) continue;
        processes++;
        truncated ||= a.truncated;
        sessions.push(...a.sessions);
      }
    } catch (e) {
      // no gateway process answers (none runs): no sessions
      if (!/no responders|503/i.test(String((e as Error).message))) throw e;
    }
    return { sessions, processes, truncated };
  }

  private async endSession(raw: string): Promise<[number, unknown]> {
    const sid = asSessionId(raw);
    if (!sid) throw new HttpError(400, "Bad Request: not a session id");
    const nc = this.nats().nc;
    await endSession({ nc, js: jetstream(nc), jsm: await jetstreamManager(nc, { checkAPI: false }), log: this.log }, sid);
    this.log.info({ sid }, "session ended by an admin");
    return [204, undefined];
  }
}

/** A small JSON body; HttpError when it is not one. */
async function readJson(req: IncomingMessage): Promise<unknown> {
  if (!/^application\/json\b/i.test(req.headers["content-type"] ?? "")) throw new HttpError(415, "Unsupported Media Type: send application/json");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, `Payload Too Large: at most ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString());
  } catch {
    throw new HttpError(400, "Bad Request: the body is not JSON");
  }
}
