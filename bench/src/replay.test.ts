// `make test` runs `bench:replay --quick` both ways (a streamed answer's
// frames, and answers stored one message each): the bench works end to end,
// every missed message comes back, and it writes its result file.
import t from "tap";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";

const bench = fileURLToPath(new URL("../dist/replay.js", import.meta.url));

for (const [args, file] of [
  [[], "replay"],
  [["--singly"], "replay_singly"],
] as const) {
  t.test(`bench:replay --quick ${args.join(" ")} runs and writes bench/results/${file}.json`, async (t) => {
    const { stdout } = await promisify(execFile)(process.execPath, [bench, "--quick", ...args], { timeout: 150_000 });
    t.match(stdout, /replay of 2000 missed messages/);
    const r = JSON.parse(readFileSync(fileURLToPath(new URL(`../results/${file}.json`, import.meta.url)), "utf8")) as Record<string, unknown>;
    t.match(r, { command: file, replay_msgs: 2000, resumes: 20 });
    t.ok((r.replay_msgs_per_s as number) > 0, "a rate measured");
  });
}
