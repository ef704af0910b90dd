// Child processes that never outlive their parent, and free ports on loopback.
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { connect as connectTcp, createServer } from "node:net";
import { once } from "node:events";
import { readdirSync, readFileSync } from "node:fs";

const owned = new Set<ChildProcess>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  // 'exit' runs for normal exits and after our signal handlers call process.exit.
  process.on("exit", () => {
    for (const c of owned) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  });
  // A signal the program does not handle itself would end it without 'exit'
  // (and leave nats-server running): make it an exit.
  for (const [sig, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
    ["SIGHUP", 129],
  ] as const) {
    process.on(sig, () => {
      if (process.listenerCount(sig) === 1) process.exit(code);
    });
  }
}

/** Spawn a child that is SIGKILLed if this process exits first. */
export function spawnOwned(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
  hookExit();
  const c = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], ...opts });
  owned.add(c);
  c.once("exit", () => owned.delete(c));
  return c;
}

/** Resolves when the child has exited (immediately if it already has). */
export async function exited(c: ChildProcess): Promise<number | null> {
  if (c.exitCode !== null || c.signalCode !== null) return c.exitCode;
  const [code] = (await once(c, "exit")) as [number | null];
  return code;
}

/** SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild(c: ChildProcess, graceMs = 10_000): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  c.kill("SIGTERM");
  const t = setTimeout(() => c.kill("SIGKILL"), graceMs);
  await exited(c);
  clearTimeout(t);
}

/** A port free on 127.0.0.1 right now (the caller binds it soon after). */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const srv = createServer();
  srv.listen(0, host);
  await once(srv, "listening");
  const addr = srv.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  srv.close();
  await once(srv, "close");
  return port;
}

/** Something accepts TCP connections on host:port (within a second). */
export async function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connectTcp({ port, host, timeout: 1000 });
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("timeout", () => {
      sock.destroy();
      resolve(false);
    });
    sock.once("error", () => resolve(false));
  });
}

/** Thrown by a probe: stop waiting, this will never become ready. */
export class GiveUp extends Error {}

/** Poll `probe` until it returns true or `timeoutMs` passes. A probe that throws means "not yet", unless it throws GiveUp. */
export async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs = 20_000, everyMs = 50): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await probe()) return;
    } catch (e) {
      if (e instanceof GiveUp) throw e;
    }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * A process started by a Stack (tests, bench, `make run`) stops itself when
 * the process that started it is gone, even if that one died by SIGKILL.
 */
export function stopWithParent(stop: () => void): void {
  const parent = Number(process.env.RADIANT_PARENT_PID);
  if (!parent) return;
  setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch {
      stop();
    }
  }, 1000).unref();
}

/**
 * Until the returned function hands over a graceful stop, SIGTERM, SIGINT and
 * the parent's death end the process at once: one still waiting for NATS to
 * answer has nothing to finish, and must not outlive whoever started it.
 */
export function stopEarly(): { ready(graceful: (why: string) => void): void; stop(why: string): void } {
  let graceful: ((why: string) => void) | undefined;
  const stop = (why: string) => (graceful ? graceful(why) : process.exit(0));
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  stopWithParent(() => stop("parent gone"));
  return {
    ready: (g) => {
      graceful = g;
    },
    /** another reason to stop (a process's supervisor gone), the same way */
    stop,
  };
}

/** A process's descendants, children first (Linux /proc); the ones that are gone are left out. */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  const visit = (p: number) => {
    try {
      for (const task of readdirSync(`/proc/${p}/task`)) {
        for (const c of readFileSync(`/proc/${p}/task/${task}/children`, "utf8").split(" ").filter(Boolean)) {
          out.push(Number(c));
          visit(Number(c));
        }
      }
    } catch {
      // gone
    }
  };
  visit(pid);
  return out;
}

/** Resident memory of a process and all its descendants, bytes (Linux /proc). */
export function treeRssBytes(pid: number): number {
  let total = 0;
  for (const p of [pid, ...descendants(pid)]) {
    try {
      total += Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? 0) * 1024;
    } catch {
      // gone
    }
  }
  return total;
}

/** `node --import` this into a third-party server to keep its listening socket on 127.0.0.1 (loopback_preload.ts). */
export const loopbackPreload = new URL("./loopback_preload.js", import.meta.url).href;
