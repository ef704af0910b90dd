// One logger shape for every process: JSON lines by default, pretty with GATEWAY_DEV=true.
import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(name: string, dev: boolean, level = process.env.LOG_LEVEL ?? "info"): Logger {
  // whoever read our output may be gone (a killed parent): losing log lines must not stop the process
  process.stdout.on("error", () => {});
  return pino({
    name,
    level,
    ...(dev ? { transport: { target: "pino-pretty", options: { colorize: true, translateTime: "HH:MM:ss.l" } } } : {}),
  });
}

/** What a request's code logs with: pino's levels, an object and a message. */
export interface Log {
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

type Level = "debug" | "info" | "warn" | "error";

/**
 * A child logger made only when a line is logged at an enabled level: a
 * request's bindings cost a serialisation on every child, and most requests
 * never log a line (this runs for every request: no Proxy, no closures).
 */
export class LazyLog implements Log {
  private child: Logger | undefined;
  constructor(
    private readonly parent: Logger,
    private readonly bindings: () => Record<string, unknown>,
  ) {}
  private line(level: Level, obj: unknown, msg?: string): void {
    if (!this.parent.isLevelEnabled(level)) return;
    this.child ??= this.parent.child(this.bindings());
    if (typeof obj === "string") this.child[level](obj);
    else this.child[level](obj as object, msg);
  }
  debug(obj: unknown, msg?: string): void {
    this.line("debug", obj, msg);
  }
  info(obj: unknown, msg?: string): void {
    this.line("info", obj, msg);
  }
  warn(obj: unknown, msg?: string): void {
    this.line("warn", obj, msg);
  }
  error(obj: unknown, msg?: string): void {
    this.line("error", obj, msg);
  }
}
