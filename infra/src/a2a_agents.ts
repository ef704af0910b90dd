// The A2A agents RADIANT serves besides its own `echo`, from the JSON file named
// by RADIANT_A2A_CONFIG: `{"agents": {"<name>": {"url": "<card URL or base URL>",
// "headers": {…}}}, "default": "<name>"}`. The gateway serves each at
// `/a2a/<name>` with its card rewritten; workers forward to it.
import { readFileSync } from "node:fs";
import { ConfigError } from "./env.js";

export interface A2aAgentConfig {
  name: string;
  /** the agent's card URL (ends in .json) or base URL (its card at .well-known/agent-card.json) */
  url: string;
  headers: Record<string, string>;
}

export interface A2aConfig {
  agents: A2aAgentConfig[];
  /** the agent the root's /.well-known card names */
  defaultAgent: string;
}

/** an agent's name in `/a2a/<name>`: a letter, then letters, digits and `-` */
export const AGENT_NAME_RE = /^[A-Za-z][A-Za-z0-9-]{0,31}$/;
export const BUILTIN_AGENT = "echo";
const HEADER_NAME_RE = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/;

const fail = (m: string) => new ConfigError("RADIANT_A2A_CONFIG", m);

export function parseA2aConfig(doc: unknown): A2aConfig {
  const o = doc as { agents?: unknown; default?: unknown } | null;
  const agents = o?.agents;
  if (typeof agents !== "object" || agents === null || Array.isArray(agents)) throw fail('an A2A config is {"agents": {"<name>": {"url": "…"}}}');
  const out: A2aAgentConfig[] = [];
  for (const [name, raw] of Object.entries(agents)) {
    if (!AGENT_NAME_RE.test(name)) throw fail(`agent name ${JSON.stringify(name)}: a letter, then letters, digits and "-" (at most 32)`);
    if (name === BUILTIN_AGENT) throw fail(`"${BUILTIN_AGENT}" is the built-in agent's name`);
    const a = raw as { url?: unknown; headers?: unknown } | null;
    if (typeof a?.url !== "string") throw fail(`agents.${name}.url must be a string`);
    let u: URL;
    try {
      u = new URL(a.url);
    } catch {
      throw fail(`agents.${name}.url is not a URL`);
    }
    if (u.protocol !== "http:" && u.protocol !== "https:") throw fail(`agents.${name}.url must be http(s)`);
    const headers: Record<string, string> = {};
    if (a.headers !== undefined) {
      if (typeof a.headers !== "object" || a.headers === null || Array.isArray(a.headers)) throw fail(`agents.${name}.headers must be an object of strings`);
      for (const [k, v] of Object.entries(a.headers)) {
        if (!HEADER_NAME_RE.test(k) || k === "__proto__" || typeof v !== "string" || /[\r\n\0]/.test(v))
          throw fail(`agents.${name}.headers.${k}: a header name and a one-line string`);
        headers[k] = v;
      }
    }
    out.push({ name, url: u.href, headers });
  }
  const dflt = o?.default ?? BUILTIN_AGENT;
  if (typeof dflt !== "string" || (dflt !== BUILTIN_AGENT && !out.some((x) => x.name === dflt))) throw fail(`"default" must name an agent`);
  return { agents: out, defaultAgent: dflt };
}

/** The agents named by RADIANT_A2A_CONFIG (none when it is unset: `echo` alone). */
export function loadA2aConfig(env: Record<string, string | undefined> = process.env): A2aConfig {
  const file = env.RADIANT_A2A_CONFIG;
  if (file === undefined || file === "") return { agents: [], defaultAgent: BUILTIN_AGENT };
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw fail(`cannot read ${file}: ${(e as Error).message}`);
  }
  return parseA2aConfig(doc);
}

/** Where an agent's card is: its URL when it names a .json file, else the well-known path under it. */
export function cardUrlOf(url: string): string {
  const u = new URL(url);
  if (u.pathname.endsWith(".json")) return u.href;
  return new URL(".well-known/agent-card.json", u.href.endsWith("/") ? u.href : `${u.href}/`).href;
}

/**
 * An agent's own card, as the gateway (to serve it rewritten) and the workers (to find where it takes
 * JSON-RPC) read it: with its configured headers, no redirect followed, within `timeoutMs`.
 */
export async function fetchAgentCard(a: A2aAgentConfig, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  const r = await fetch(cardUrlOf(a.url), { headers: { ...a.headers, "A2A-Version": "1.0" }, redirect: "error", signal: AbortSignal.timeout(timeoutMs) });
  if (!r.ok) throw new Error(`its card answered ${r.status}`);
  const card = (await r.json()) as unknown;
  if (typeof card !== "object" || card === null || Array.isArray(card)) throw new Error("its card is not a JSON object");
  return card as Record<string, unknown>;
}
