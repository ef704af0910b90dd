// What the kernel says about the machine during a bench: socket memory
// (/proc/net/sockstat) and the CPU time of a process tree (/proc/<pid>/stat).
import { readFileSync } from "node:fs";
import { descendants } from "@radiant/infra/proc";

const PAGE = 4096;
/** USER_HZ: /proc reports CPU time in these ticks */
const TICKS_PER_S = 100;

export interface SockStat {
  /** TCP sockets in use */
  tcpInUse: number;
  /** memory of all TCP socket buffers, bytes */
  tcpMemBytes: number;
  /** every socket of every kind */
  socketsUsed: number;
}

export function parseSockStat(text: string): SockStat {
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
  return { tcpInUse: num(/^TCP: inuse (\d+)/m), tcpMemBytes: num(/^TCP: .* mem (\d+)/m) * PAGE, socketsUsed: num(/^sockets: used (\d+)/m) };
}

export function sockStat(): SockStat {
  return parseSockStat(readFileSync("/proc/net/sockstat", "utf8"));
}

/**
 * The kernel's slab memory, bytes: where socket structures, their files and
 * inodes live (sockstat's `mem` counts only buffer pages, none for an idle socket).
 */
export function parseSlabBytes(meminfo: string): number {
  return Number(/^Slab:\s+(\d+) kB/m.exec(meminfo)?.[1] ?? NaN) * 1024;
}

export function slabBytes(): number {
  return parseSlabBytes(readFileSync("/proc/meminfo", "utf8"));
}

/** MemAvailable of /proc/meminfo, bytes: what the kernel could hand out without swapping. */
export function parseAvailableBytes(meminfo: string): number {
  return Number(/^MemAvailable:\s+(\d+) kB/m.exec(meminfo)?.[1] ?? NaN) * 1024;
}

export function availableBytes(): number {
  return parseAvailableBytes(readFileSync("/proc/meminfo", "utf8"));
}

/** utime + stime of one /proc/<pid>/stat line, in seconds (fields 14 and 15; the name in parentheses may hold spaces). */
export function parseCpuSeconds(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
}

/** CPU seconds used so far by a process and its descendants. */
export function treeCpuSeconds(pid: number): number {
  let total = 0;
  for (const p of [pid, ...descendants(pid)]) {
    try {
      total += parseCpuSeconds(readFileSync(`/proc/${p}/stat`, "utf8"));
    } catch {
      // gone
    }
  }
  return total;
}

/**
 * Starts counting the CPU of processes grouped by component (each pid with its descendants) and of
 * this process (`bench`); the returned function gives each one's CPU seconds since.
 */
export function cpuSecondsMeter<K extends string>(pids: Record<K, number[]>): () => Record<K | "bench", number> {
  const read = (): Record<K | "bench", number> => {
    const u = process.cpuUsage();
    return {
      ...(Object.fromEntries(Object.entries<number[]>(pids).map(([k, list]) => [k, list.reduce((a, p) => a + treeCpuSeconds(p), 0)])) as Record<K, number>),
      bench: (u.user + u.system) / 1e6,
    };
  };
  const c0 = read();
  return () => {
    const c1 = read();
    return Object.fromEntries(Object.entries<number>(c1).map(([k, v]) => [k, v - c0[k as K | "bench"]])) as Record<K | "bench", number>;
  };
}
