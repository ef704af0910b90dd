// Usage reports: how the gateway processes of a fleet share what each counts
// against per-principal and per-key limits (requests, LLM tokens, open
// connections), and how workers tell them the tokens an answer used. Core NATS
// (not stored): a report lost costs a second of accuracy, never a message.
import { isPrincipal, KEY_ID_RE } from "./principal.js";

/** core subject every gateway process and worker publishes usage on, and every gateway process hears */
export const USAGE_SUBJECT = "radiant.usage";

/** what a count is about: a principal (`p:<principal>`) or an API key (`k:<id>`) */
export type Scope = `p:${string}` | `k:${string}`;
export const principalScope = (p: string): Scope => `p:${p}`;
export const keyScope = (id: string): Scope => `k:${id}`;

export interface UsageEntry {
  scope: Scope;
  /** requests admitted since the reporter's last report */
  requests: number;
  /** LLM tokens used since the last report */
  tokens: number;
  /** connections the reporter holds now; absent: it does not hold connections (a worker) */
  connections?: number;
}

export interface UsageReport {
  /** the reporter (a process of some machine): a process ignores its own */
  from: string;
  /** a worker's report: the home of the request's session (homeOf), whose gateway process counts the tokens in its metrics */
  home?: string;
  entries: UsageEntry[];
}

const MAX_ENTRIES = 100_000;
const count = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

function isScope(v: unknown): v is Scope {
  if (typeof v !== "string") return false;
  if (v.startsWith("k:")) return KEY_ID_RE.test(v.slice(2));
  return v.startsWith("p:") && isPrincipal(v.slice(2));
}

export function encodeUsage(r: UsageReport): Uint8Array {
  return Buffer.from(JSON.stringify(r));
}

/** A report, checked entry by entry; undefined if it is not one. */
export function decodeUsage(bytes: Uint8Array): UsageReport | undefined {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString());
  } catch {
    return undefined;
  }
  const o = v as Partial<UsageReport> | null;
  if (typeof o?.from !== "string" || !Array.isArray(o.entries) || o.entries.length > MAX_ENTRIES) return undefined;
  if (o.home !== undefined && typeof o.home !== "string") return undefined;
  for (const e of o.entries as Partial<UsageEntry>[]) {
    if (!isScope(e?.scope) || !count(e.requests) || !count(e.tokens) || (e.connections !== undefined && !count(e.connections))) return undefined;
  }
  return o as UsageReport;
}
