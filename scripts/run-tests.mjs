#!/usr/bin/env node
// Runs the whole suite with tap and ends with one line the CI reads:
// "N passed, N failed" — N counts the top-level tests of every test file (a
// file that fails before running any test counts as one failure).
import { spawn, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const tapBin = fileURLToPath(new URL("../node_modules/.bin/tap", import.meta.url));
const tap = spawn(tapBin, ["--reporter=tap", ...args], { stdio: ["ignore", "pipe", "inherit"] });

let passed = 0;
let failed = 0;
let inFile = 0; // top-level tests seen in the current file
const fileLine = /^(not )?ok \d+ - (.+?)(?: #.*)?$/;
const testLine = /^ {4}(not )?ok \d+ - (.+?)(?: # (SKIP|TODO).*| #.*)?$/;
const failures = [];

createInterface({ input: tap.stdout }).on("line", (line) => {
  process.stdout.write(line + "\n");
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
  spawnSync("pkill", ["-f", "nats-server .*radiant-test-"]);
  if (failures.length) process.stdout.write(`\nfailed:\n${failures.map((f) => `  - ${f}`).join("\n")}\n`);
  if (code !== 0 && failed === 0) failed = 1; // tap failed for a reason no test line shows
  process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
  process.exit(code === 0 && failed === 0 ? 0 : 1);
});
