// The MCP servers RADIANT fronts, in the format MCP clients already use
// (`{"mcpServers": {"<name>": …}}`), from the JSON file named by
// RADIANT_MCP_CONFIG. Workers read it to route (names, order); the MCP bridge
// reads it to connect.
import { readFileSync } from "node:fs";
import { isAbsolute, resolve, dirname } from "node:path";
import { ConfigError } from "./env.js";

interface Common {
  name: string;
  /** how long one request may wait for its answer (a progress notification starts the wait again) */
  timeoutMs: number;
}
export interface HttpServer extends Common {
  kind: "http";
  /** Streamable HTTP endpoint (the older HTTP+SSE transport is tried when it is refused) */
  url: string;
  headers: Record<string, string>;
}
export interface StdioServer extends Common {
  kind: "stdio";
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
}
export type McpServerConfig = HttpServer | StdioServer;

/**
 * Server names prefix tool and prompt names when there are several (`<name>_<tool>`): letters,
 * digits and `-` only, so the first `_` of a prefixed name ends the server's name; a letter first,
 * as JSON objects put names that are integers before the others (the file's order is the servers').
 */
export const SERVER_NAME_RE = /^[A-Za-z][A-Za-z0-9-]{0,31}$/;
export const DEFAULT_MCP_TIMEOUT_MS = 60_000;
const HEADER_NAME_RE = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/;

function stringMap(v: unknown, what: string, check?: (k: string) => boolean): Record<string, string> {
  if (v === undefined) return {};
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new ConfigError("RADIANT_MCP_CONFIG", `${what} must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [k, s] of Object.entries(v)) {
    if (typeof s !== "string" || /[\r\n\0]/.test(s)) throw new ConfigError("RADIANT_MCP_CONFIG", `${what}.${k} must be a string on one line`);
    if ((check && !check(k)) || k === "__proto__") throw new ConfigError("RADIANT_MCP_CONFIG", `${what}: ${JSON.stringify(k)} is not a valid name`);
    out[k] = s;
  }
  return out;
}

/**
 * The servers of an `mcpServers` document, in file order. A relative `cwd`, and a command that
 * starts with `./` or `../`, are taken from `baseDir` (the config file's folder); any other command
 * is looked up on PATH, as MCP clients do (`npx`, `uvx`, `node`).
 */
export function parseMcpServers(doc: unknown, baseDir = process.cwd()): McpServerConfig[] {
  const servers = (doc as { mcpServers?: unknown } | null)?.mcpServers;
  if (typeof servers !== "object" || servers === null || Array.isArray(servers))
    throw new ConfigError("RADIANT_MCP_CONFIG", 'an MCP config is {"mcpServers": {"<name>": {...}}}');
  const out: McpServerConfig[] = [];
  for (const [name, raw] of Object.entries(servers)) {
    if (!SERVER_NAME_RE.test(name))
      throw new ConfigError("RADIANT_MCP_CONFIG", `MCP server name ${JSON.stringify(name)}: a letter, then letters, digits and "-" (at most 32)`);
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ConfigError("RADIANT_MCP_CONFIG", `mcpServers.${name} must be an object`);
    const o = raw as Record<string, unknown>;
    if (o.disabled !== undefined && typeof o.disabled !== "boolean")
      throw new ConfigError("RADIANT_MCP_CONFIG", `mcpServers.${name}.disabled must be true or false`);
    if (o.disabled === true) continue;
    if (o.url !== undefined && o.command !== undefined) throw new ConfigError("RADIANT_MCP_CONFIG", `mcpServers.${name}: a "url" or a "command", not both`);
    const timeoutMs = o.timeoutMs === undefined ? DEFAULT_MCP_TIMEOUT_MS : o.timeoutMs;
    if (typeof timeoutMs !== "number" || !Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 3_600_000)
      throw new ConfigError("RADIANT_MCP_CONFIG", `mcpServers.${name}.timeoutMs must be an integer from 100 to 3600000`);
    if (typeof o.url === "string") {
      let u: URL;
      try {
        u = new URL(o.url);
      } catch {
        throw new ConfigError("RADIANT_MCP_CONFIG", `mcpServers.${name}.url is not a URL`);
      }
      if (u.protocol !== "http:" && u.protocol !== "https:") throw new ConfigError("RADIANT_MCP_CONFIG", `mcpServers.${name}.url must be http(s)`);
      out.push({ kind: "http", name, timeoutMs, url: u.href, headers: stringMap(o.headers, `mcpServers.${name}.headers`, (k) => HEADER_NAME_RE.test(k)) });
    } else if (typeof o.command === "string" && o.command !== "") {
      const args = o.args === undefined ? [] : o.args;
      if (!Array.isArray(args) || !args.every((a) => typeof a === "string"))
        throw new ConfigError("RADIANT_MCP_CONFIG", `mcpServers.${name}.args must be an array of strings`);
      if (o.cwd !== undefined && typeof o.cwd !== "string") throw new ConfigError("RADIANT_MCP_CONFIG", `mcpServers.${name}.cwd must be a string`);
      const cwd = typeof o.cwd === "string" ? (isAbsolute(o.cwd) ? o.cwd : resolve(baseDir, o.cwd)) : undefined;
      out.push({
        kind: "stdio",
        name,
        timeoutMs,
        command: /^\.\.?\//.test(o.command) ? resolve(baseDir, o.command) : o.command,
        args: args as string[],
        env: stringMap(o.env, `mcpServers.${name}.env`, (k) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(k)),
        ...(cwd !== undefined ? { cwd } : {}),
      });
    } else {
      throw new ConfigError("RADIANT_MCP_CONFIG", `mcpServers.${name} needs a "url" (Streamable HTTP) or a "command" (stdio)`);
    }
  }
  return out;
}

/** The servers named by RADIANT_MCP_CONFIG; none when it is unset. */
export function loadMcpServers(env: Record<string, string | undefined> = process.env): McpServerConfig[] {
  const file = env.RADIANT_MCP_CONFIG;
  if (file === undefined || file === "") return [];
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new ConfigError("RADIANT_MCP_CONFIG", `cannot read ${file}: ${(e as Error).message}`);
  }
  return parseMcpServers(doc, dirname(resolve(file)));
}
