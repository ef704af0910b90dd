// Reading configuration from the environment: every value validated, every
// failure a one-line error that names the variable.
import {
  ackWaitVariable,
  defaultHistoryRetention,
  defaultMcpState,
  inboxPolicy,
  mcpStateVariables,
  replicasVariable,
  retentionVariables,
  type TopologySettings,
} from "@radiant/wire";
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

type Env = Record<string, string | undefined>;

function raw(env: Env, name: string, dflt: string): string {
  const v = env[name];
  return v === undefined || v === "" ? dflt : v;
}

export interface ListenAddr {
  host: string;
  port: number;
}

/** `host:port`, `:port` (all interfaces) or `[v6]:port`. */
export function listenAddr(env: Env, name: string, dflt: string): ListenAddr {
  const v = raw(env, name, dflt);
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]*)):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new ConfigError(name, `"${v}" is not a listen address (want host:port or :port)`);
  }
  return { host: m[1] ?? (m[2] || "0.0.0.0"), port };
}

export function url(env: Env, name: string, dflt: string, schemes: string[]): string {
  const v = raw(env, name, dflt);
  for (const part of v.split(",")) {
    let u: URL;
    try {
      u = new URL(part.trim());
    } catch {
      throw new ConfigError(name, `"${part}" is not a URL`);
    }
    const scheme = u.protocol.slice(0, -1);
    if (!schemes.includes(scheme)) {
      throw new ConfigError(name, `"${part}" must use ${schemes.map((s) => `${s}://`).join(" or ")}`);
    }
  }
  return v;
}

export function bool(env: Env, name: string, dflt: boolean): boolean {
  const v = raw(env, name, String(dflt)).toLowerCase();
  if (["true", "1", "yes"].includes(v)) return true;
  if (["false", "0", "no"].includes(v)) return false;
  throw new ConfigError(name, `"${env[name]}" is not a boolean (true or false)`);
}

export function int(env: Env, name: string, dflt: number, min: number, max: number): number {
  const v = raw(env, name, String(dflt));
  const n = /^-?\d+$/.test(v) ? Number(v) : NaN;
  if (!(n >= min && n <= max)) throw new ConfigError(name, `"${v}" is not a whole number from ${min} to ${max}`);
  return n;
}

export function str(env: Env, name: string, dflt: string): string {
  const v = raw(env, name, dflt);
  if (v.trim() === "") throw new ConfigError(name, "must not be empty");
  return v;
}

/** Run a config loader; on a ConfigError print one line and exit non-zero. */
export function loadOrExit<T>(what: string, load: () => T): T {
  try {
    return load();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${what}: invalid configuration: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
}

/** What `radiant topology apply` sets, from the environment (wire/topology.ts names the variables). */
export function topologySettings(env: Env): Required<TopologySettings> {
  const d = defaultHistoryRetention;
  return {
    retention: {
      maxMsgsPerSession: int(env, retentionVariables.maxMsgsPerSession, d.maxMsgsPerSession, 1, 100_000_000),
      maxAgeMs: int(env, retentionVariables.maxAgeS, d.maxAgeMs / 1000, 1, 365 * 86_400) * 1000,
      maxBytes: int(env, retentionVariables.maxBytes, d.maxBytes, 1024 * 1024, Number.MAX_SAFE_INTEGER),
    },
    ackWaitMs: int(env, ackWaitVariable, inboxPolicy.ackWaitMs, 1000, 3_600_000),
    replicas: int(env, replicasVariable, 1, 1, 5),
    mcpState: {
      ttlMs: int(env, mcpStateVariables.ttlMs, defaultMcpState.ttlMs, 60_000, 30 * 86_400_000),
      maxBytes: int(env, mcpStateVariables.maxBytes, defaultMcpState.maxBytes, 1024 * 1024, 2 ** 40),
    },
  };
}
