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
