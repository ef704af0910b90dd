#!/usr/bin/env node
// Runs the whole suite with tap and ends with one line the CI reads:
// "N passed, N failed" — N counts the top-level tests of every test file (a
// file that fails before running any test counts as one failure).
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const tapBin = fileURLToPath(new URL("../node_modules/.bin/tap", import.meta.url));
// every nats-server this run starts writes its pid here (infra/src/nats-server.ts)
const pidDir = mkdtempSync(join(tmpdir(), "radiant-test-pids-"));
const pidFile = join(pidDir, "nats-server.pids");
const tap = spawn(tapBin, ["--reporter=tap", ...args], {
  stdio: ["ignore", "pipe", "inherit"],
  env: { ...process.env, RADIANT_TEST_PIDFILE: pidFile },
});
// stopped from outside: stop tap too, then clean up as usual (the exit handler below)
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(sig, () => tap.kill(sig));

/** The nats-servers this run started that are still running: SIGKILL them (a test file killed mid-run leaves its own). */
function killLeftNatsServers() {
  let pids = [];
  try {
    pids = [...new Set(readFileSync(pidFile, "utf8").split("\n").filter(Boolean).map(Number))];
  } catch {
    // no nats-server started
  }
  for (const pid of pids) {
    let argv0;
    try {
      argv0 = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0];
    } catch {
      continue; // gone
    }
    // the pid may have been reused since by some other process
    if (!argv0 || !/(^|\/)nats-server$/.test(argv0)) continue;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone just now
    }
  }
  rmSync(pidDir, { recursive: true, force: true });
}

let passed = 0;
let failed = 0;
let inFile = 0; // top-level tests seen in the current file
const fileLine = /^(not )?ok \d+ - (.+?)(?: #.*)?$/;
const testLine = /^ {4}(not )?ok \d+ - (.+?)(?: # (SKIP|TODO).*| #.*)?$/;
const failures = [];

createInterface({ input: tap.stdout }).on("line", (line) => {
  process.stdout.write(`${line}\n`);
  let m = testLine.exec(line);
  if (m) {
    inFile++;
    if (m[1]) {
      failed++;
      failures.push(m[2]);
    } else passed++;
    return;
  }
  m = fileLine.exec(line);
  if (m) {
    if (m[1] && inFile === 0) {
      failed++;
      failures.push(`${m[2]} (the file failed before any test ran)`);
    }
    inFile = 0;
  }
});

tap.on("exit", (code) => {
  // a test file killed mid-run (timeout) may leave its nats-server behind
  killLeftNatsServers();
  if (failures.length) process.stdout.write(`\nfailed:\n${failures.map((f) => `  - ${f}`).join("\n")}\n`);
  if (code !== 0 && failed === 0) failed = 1; // tap failed for a reason no test line shows
  process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
  process.exit(code === 0 && failed === 0 ? 0 : 1);
});
