// The model table: where a model name goes. Workers read it for the wire format
// and the upstream model name (what to translate to); the egress proxy reads it
// for the base URL and the key (workers hold no keys). Defaults route the
// public model families to their providers; a JSON file named by
// RADIANT_MODELS adds entries or overrides them.
import { readFileSync } from "node:fs";
import { ConfigError } from "./env.js";

export const MODEL_FORMATS = ["openai", "anthropic", "google"] as const;
/** the wire format a model's upstream speaks */
export type ModelFormat = (typeof MODEL_FORMATS)[number];

export interface ModelEntry {
  /** a model name, or a prefix ending in `*` (`claude-*`) */
  match: string;
  format: ModelFormat;
  /** the upstream's base URL: request paths (`/v1/chat/completions`) are appended to it */
  baseUrl: string;
  /** the name the upstream knows the model by; default: the name the client asked for */
  model?: string;
  /** the environment variable (of the egress proxy) holding the key; null: the upstream needs none */
  keyEnv: string | null;
}

/** A model name resolved. */
export interface ModelRoute {
  /** the name the client asked for */
  name: string;
  format: ModelFormat;
  baseUrl: string;
  upstreamModel: string;
  keyEnv: string | null;
}

export const DEFAULT_MODELS: readonly ModelEntry[] = [
  { match: "gpt-*", format: "openai", baseUrl: "https://api.openai.com", keyEnv: "OPENAI_API_KEY" },
  { match: "o1*", format: "openai", baseUrl: "https://api.openai.com", keyEnv: "OPENAI_API_KEY" },
  { match: "o3*", format: "openai", baseUrl: "https://api.openai.com", keyEnv: "OPENAI_API_KEY" },
  { match: "o4*", format: "openai", baseUrl: "https://api.openai.com", keyEnv: "OPENAI_API_KEY" },
  { match: "claude-*", format: "anthropic", baseUrl: "https://api.anthropic.com", keyEnv: "ANTHROPIC_API_KEY" },
  { match: "gemini-*", format: "google", baseUrl: "https://generativelanguage.googleapis.com", keyEnv: "GEMINI_API_KEY" },
];

/** model names: what may reach a URL path (Google's) and a header */
export const MODEL_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;
const MATCH_RE = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}\*?$/;
const KEY_ENV_RE = /^[A-Z_][A-Z0-9_]{0,127}$/;

export const isModelName = (s: unknown): s is string => typeof s === "string" && MODEL_NAME_RE.test(s) && !s.includes("..");

export class ModelTable {
  /** file entries first, then defaults; within each, exact names before prefixes, longer prefixes first */
  private readonly entries: ModelEntry[];

  constructor(extra: readonly ModelEntry[] = [], defaults: readonly ModelEntry[] = DEFAULT_MODELS) {
    const order = (list: readonly ModelEntry[]) =>
      [...list].sort((a, b) => Number(a.match.endsWith("*")) - Number(b.match.endsWith("*")) || b.match.length - a.match.length);
    this.entries = [...order(extra), ...order(defaults)];
  }

  resolve(name: string): ModelRoute | undefined {
    if (!isModelName(name)) return undefined;
    for (const e of this.entries) {
      const hit = e.match.endsWith("*") ? name.startsWith(e.match.slice(0, -1)) : name === e.match;
      if (hit) return { name, format: e.format, baseUrl: e.baseUrl, upstreamModel: e.model ?? name, keyEnv: e.keyEnv };
    }
    return undefined;
  }

  /** the models a client can list: every exact name (prefixes are families, not models) */
  names(): { name: string; format: ModelFormat }[] {
    const seen = new Set<string>();
    const out: { name: string; format: ModelFormat }[] = [];
    for (const e of this.entries) {
      if (e.match.endsWith("*") || seen.has(e.match)) continue;
      seen.add(e.match);
      out.push({ name: e.match, format: e.format });
    }
    return out;
  }
}

/** Check one entry of a models file; `where` names it in errors. */
export function checkEntry(v: unknown, where: string): ModelEntry {
  const o = v as Partial<ModelEntry> | null;
  const fail = (m: string) => new ConfigError("RADIANT_MODELS", `${where}: ${m}`);
  if (typeof o !== "object" || o === null || Array.isArray(o)) throw fail("must be an object");
  if (typeof o.match !== "string" || !MATCH_RE.test(o.match)) throw fail(`"match" must be a model name or a prefix ending in *`);
  if (!MODEL_FORMATS.includes(o.format as ModelFormat)) throw fail(`"format" must be one of ${MODEL_FORMATS.join(", ")}`);
  let base: URL;
  try {
    base = new URL(String(o.baseUrl));
  } catch {
    throw fail(`"baseUrl" is not a URL`);
  }
  if (base.protocol !== "https:" && base.protocol !== "http:") throw fail(`"baseUrl" must be http(s)`);
  if (base.search || base.hash) throw fail(`"baseUrl" must have no query or fragment`);
  if (o.model !== undefined && !isModelName(o.model)) throw fail(`"model" is not a model name`);
  if (o.keyEnv === undefined) throw fail(`"keyEnv" must name the variable holding the key, or be null`);
  if (o.keyEnv !== null && (typeof o.keyEnv !== "string" || !KEY_ENV_RE.test(o.keyEnv))) throw fail(`"keyEnv" is not a variable name`);
  return {
    match: o.match,
    format: o.format as ModelFormat,
    baseUrl: base.href.replace(/\/+$/, ""),
    ...(o.model !== undefined ? { model: o.model } : {}),
    keyEnv: o.keyEnv,
  };
}

/** The entries of a models file (`{"models": [...]}` or a bare array), each checked; a ConfigError names what is wrong. */
export function readModelEntries(file: string): ModelEntry[] {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new ConfigError("RADIANT_MODELS", `cannot read ${file}: ${(e as Error).message}`);
  }
  const list = Array.isArray(v) ? v : (v as { models?: unknown } | null)?.models;
  if (!Array.isArray(list)) throw new ConfigError("RADIANT_MODELS", `${file} must hold an array of models, or {"models": [...]}`);
  return list.map((e, i) => checkEntry(e, `${file} entry ${i}`));
}

/** The table: defaults plus the file named by RADIANT_MODELS. */
export function loadModelTable(env: Record<string, string | undefined> = process.env): ModelTable {
  const file = env.RADIANT_MODELS;
  return file ? new ModelTable(readModelEntries(file)) : new ModelTable();
}
