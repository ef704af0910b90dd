// Headless Chromium for the browser tests: Debian's binary, driven by
// playwright-core, with the flags this machine needs (closed network, root,
// no GPU: .library/env/machines/node.md), in a profile folder removed after.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";
const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export async function launchChromium(t: { teardown(f: () => unknown): void }): Promise<BrowserContext> {
  const userDataDir = mkdtempSync(join(tmpdir(), "radiant-chromium-"));
  const browser = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: FLAGS });
  t.teardown(async () => {
    await browser.close();
    rmSync(userDataDir, { recursive: true, force: true });
  });
  return browser;
}
