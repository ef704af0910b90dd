// Gateway API keys: made by RADIANT (the admin API), stored hashed in NATS KV
// so every gateway process of every machine sees the same set. Each process
// keeps the whole set in memory, fed by a KV watch: a key is checked without a
// round trip (the WebSocket upgrade is synchronous), and a revoked key stops
// working everywhere as fast as NATS carries the delete.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { ANONYMOUS, API_KEYS_BUCKET, isCredentialPrincipal, openBucket, isModelList, isPrincipal, KEY_ID_RE } from "@radiant/wire";
import type { Logger } from "pino";

/** every key RADIANT makes starts so: a credential without it is not one of ours */
export const KEY_PREFIX = "rad_";
const SECRET_RE = /^[A-Za-z0-9_-]{43}$/;

/** What the KV holds for a key: never the key itself, only its hash. */
export interface ApiKeyRecord {
  id: string;
  /** sha256 of the secret part, base64url: the secret has 256 random bits, so a slow hash adds nothing */
  hash: string;
  principal: string;
  tenant?: string;
  /** the models it may use; absent: any */
  models?: string[];
  /** its own limits (requests per minute, LLM tokens per minute, connections at once) */
  rpm?: number;
  tpm?: number;
  connections?: number;
  /** ISO time */
  created: string;
}

/** The fields an admin sets (POST /admin/keys). */
export type KeyGrant = Pick<ApiKeyRecord, "principal" | "tenant" | "models" | "rpm" | "tpm" | "connections">;

export class KeyGrantError extends Error {}

const LIMIT_MAX = 1e12;

/** A grant from an admin's JSON, checked member by member; throws KeyGrantError saying what is wrong. */
export function grantOf(body: unknown): KeyGrant {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new KeyGrantError("the body must be a JSON object");
  const o = body as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!["principal", "tenant", "models", "rpm", "tpm", "connections"].includes(k)) throw new KeyGrantError(`unknown member "${k}"`);
  }
  if (!isCredentialPrincipal(o.principal)) {
    throw new KeyGrantError(`principal must be 1–256 printable ASCII characters, no space at either end, and not "${ANONYMOUS}"`);
  }
  const g: KeyGrant = { principal: o.principal };
  if (o.tenant !== undefined) {
    if (!isPrincipal(o.tenant)) throw new KeyGrantError("tenant must be 1–256 printable ASCII characters, no space at either end");
    g.tenant = o.tenant;
  }
  if (o.models !== undefined) {
    if (!isModelList(o.models)) throw new KeyGrantError("models must be a list of model names, or prefixes ending in * (at most 1000)");
    g.models = [...new Set(o.models)];
  }
  for (const k of ["rpm", "tpm", "connections"] as const) {
    const v = o[k];
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > LIMIT_MAX) throw new KeyGrantError(`${k} must be a whole number from 1`);
    g[k] = v;
  }
  return g;
}

const hashOf = (secret: string): string => createHash("sha256").update(secret).digest("base64url");

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

/** A new key: the string handed to its owner once, and the record stored. */
export function makeKey(grant: KeyGrant, now = new Date()): { key: string; record: ApiKeyRecord } {
  const id = Array.from(randomBytes(16), (b) => BASE32[b & 31]).join("");
  const secret = randomBytes(32).toString("base64url");
  return { key: `${KEY_PREFIX}${id}_${secret}`, record: { id, hash: hashOf(secret), ...grant, created: now.toISOString() } };
}

/** The id and secret of something shaped like one of our keys. */
export function parseKey(s: string): { id: string; secret: string } | undefined {
  if (!s.startsWith(KEY_PREFIX) || s.length !== KEY_PREFIX.length + 16 + 1 + 43 || s[KEY_PREFIX.length + 16] !== "_") return undefined;
  const id = s.slice(KEY_PREFIX.length, KEY_PREFIX.length + 16);
  const secret = s.slice(KEY_PREFIX.length + 17);
  return KEY_ID_RE.test(id) && SECRET_RE.test(secret) ? { id, secret } : undefined;
}

export const isKeyId = (s: string): boolean => KEY_ID_RE.test(s);

/** A record read back from KV, checked: the bucket is shared, so a bad write must not become a key. */
function recordOf(bytes: Uint8Array): ApiKeyRecord | undefined {
  try {
    const r = JSON.parse(Buffer.from(bytes).toString()) as ApiKeyRecord;
    const g = grantOf({ principal: r.principal, tenant: r.tenant, models: r.models, rpm: r.rpm, tpm: r.tpm, connections: r.connections });
    if (!isKeyId(r.id) || typeof r.hash !== "string" || typeof r.created !== "string") return undefined;
    return { id: r.id, hash: r.hash, created: r.created, ...g };
  } catch {
    return undefined;
  }
}

/** The bucket (`radiant topology apply` writes it). */
export function openKeyBucket(nc: NatsConnection): Promise<KV> {
  return openBucket(nc, API_KEYS_BUCKET);
}

export type KeyCheck = { ok: true; record: ApiKeyRecord } | { ok: false; why: "unknown" | "not_ready" };

/** Every key, in memory, following the bucket. */
export class ApiKeys {
  private readonly keys = new Map<string, ApiKeyRecord>();
  private ready = false;
  private stopped = false;
  private stopWatch: (() => void) | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly log: Logger,
    /** a key was revoked: sessions opened with it close */
    private readonly onRevoke: (id: string) => void = () => {},
  ) {}

  get size(): number {
    return this.keys.size;
  }

  /** Whether `key` is a live key, and its record. Synchronous. */
  check(key: string): KeyCheck {
    const parsed = parseKey(key);
    const r = parsed && this.keys.get(parsed.id);
    if (parsed && r) {
      const a = Buffer.from(hashOf(parsed.secret));
      const b = Buffer.from(r.hash);
      if (a.length === b.length && timingSafeEqual(a, b)) return { ok: true, record: r };
    }
    // before the first full read of the bucket, "unknown" could be a lie
    return { ok: false, why: this.ready ? "unknown" : "not_ready" };
  }

  /** Follow the bucket until stop(); survives NATS outages (the watch starts over). */
  async watch(): Promise<void> {
    while (!this.stopped) {
      try {
        const kv = await openKeyBucket(this.nc);
        const { last_seq: lastSeq, messages } = (await kv.status()).streamInfo.state;
        const seen = new Map<string, ApiKeyRecord>();
        let initial = messages > 0;
        if (!initial) this.swap(seen);
        const it = await kv.watch();
        this.stopWatch = () => it.stop();
        for await (const e of it) {
          if (this.stopped) break;
          const target = initial ? seen : this.keys;
          if (e.operation === "PUT") {
            const r = recordOf(e.value);
            if (r && r.id === e.key) target.set(r.id, r);
            else this.log.warn({ key: e.key }, "API_KEYS holds a record that is not a key; ignored");
          } else if (target.delete(e.key) && !initial) {
            this.onRevoke(e.key);
          }
          // caught up: nothing pending behind this entry (the last sequence may be gone: a purged delete marker)
          if (initial && (e.delta === 0 || e.revision >= lastSeq)) {
            initial = false;
            this.swap(seen);
          }
        }
      } catch (e) {
        if (!this.stopped) this.log.debug({ err: (e as Error).message }, "API_KEYS not readable yet; retrying");
      }
      if (!this.stopped) await new Promise((r) => setTimeout(r, 1000));
    }
  }

  stop(): void {
    this.stopped = true;
    this.stopWatch?.();
  }

  /** The set read afresh replaces the old one; a key gone from it was revoked meanwhile. */
  private swap(fresh: Map<string, ApiKeyRecord>): void {
    const gone = [...this.keys.keys()].filter((id) => !fresh.has(id));
    this.keys.clear();
    for (const [id, r] of fresh) this.keys.set(id, r);
    this.ready = true;
    for (const id of gone) this.onRevoke(id);
  }
}
