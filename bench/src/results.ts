// Where bench results go: a table for people, JSON for tools (bench/results/<command>.json).
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { fileURLToPath } from "node:url";

/** `v` to `digits` decimals, as a number (for result files and tables). */
export const round = (v: number, digits = 3) => Number(v.toFixed(digits));

export const machine = () => ({ cores: cpus().length, memory: totalmem() });

export function writeResult(command: string, result: Record<string, unknown>): string {
  const dir = fileURLToPath(new URL("../results/", import.meta.url));
  mkdirSync(dir, { recursive: true });
  const path = `${dir}${command}.json`;
  writeFileSync(path, `${JSON.stringify({ command, date: new Date().toISOString(), machine: machine(), ...result }, null, 2)}\n`);
  return path;
}

export function table(rows: (string | number)[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => r.map((c, i) => String(c).padEnd(widths[i]!)).join("  ")).join("\n");
}
