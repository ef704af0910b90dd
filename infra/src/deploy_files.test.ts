// The deploy files against the repository: an image built from a fresh clone
// must install every workspace package (a package.json left out of the
// dependency layer fails the frozen install, or drops a package from the image).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import t from "tap";

const root = fileURLToPath(new URL("../../", import.meta.url));
const read = (p: string) => readFileSync(`${root}${p}`, "utf8");

/** the packages pnpm-workspace.yaml lists */
function workspacePackages(): string[] {
  const lines = read("pnpm-workspace.yaml").split("\n");
  const out: string[] = [];
  let inPackages = false;
  for (const line of lines) {
    if (/^packages:/.test(line)) inPackages = true;
    else if (/^\S/.test(line)) inPackages = false;
    else if (inPackages) {
      const m = /^\s+-\s+(\S+)/.exec(line);
      if (m) out.push(m[1]!);
    }
  }
  return out;
}

t.test("the Dockerfile copies every workspace package's package.json before the install", async (t) => {
  const packages = workspacePackages();
  t.ok(packages.length >= 7, `${packages.length} workspace packages`);
  const dockerfile = read("infra/docker/Dockerfile");
  const install = dockerfile.indexOf("pnpm install --frozen-lockfile");
  t.ok(install > 0, "the image installs with the lockfile");
  const copied = new Set([...dockerfile.slice(0, install).matchAll(/^COPY (\S+)\/package\.json \S+/gm)].map((m) => m[1]));
  for (const p of packages) t.ok(copied.has(p), `${p}/package.json copied before the install`);
});
