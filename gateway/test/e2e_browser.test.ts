// A real browser: headless Chromium (Debian's, driven by playwright-core)
// opens a native EventSource to the gateway from a page on another origin.
// The test cuts the stream midway; the browser reconnects on its own (to the
// session URL the 307 led it to, with Last-Event-ID) and every message
// arrives once, in order.
import { launchChromium } from "./chromium.js";
import t from "tap";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { once } from "node:events";
import { eventually, rpc, startStack, TcpProxy } from "./harness.js";
import { request } from "./sse_client.js";

const PAGE = `<!doctype html><meta charset="utf-8"><title>radiant sse</title>
<script>
  window.frames_ = []; window.opens = 0; window.errors = 0;
  const es = new EventSource(new URL("/sse", location.search.slice(1)));
  es.onopen = () => window.opens++;
  es.onerror = () => window.errors++;
  es.onmessage = (e) => window.frames_.push({ id: e.lastEventId, frame: JSON.parse(e.data) });
</script>`;

// the page, served from its own origin
const page = createServer((_req, res) => {
  res.writeHead(200, { "content-type": "text/html" });
  res.end(PAGE);
});
page.listen(0, "127.0.0.1");
await once(page, "listening");
t.teardown(() => page.close());
const pageOrigin = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;

const stack = await startStack(t, { gatewayEnv: { GATEWAY_ALLOWED_ORIGINS: pageOrigin } });
const gatewayPort = Number(new URL(stack.wsUrl).port);
const proxy = await new TcpProxy({ host: "127.0.0.1", port: gatewayPort }).start();
t.teardown(() => proxy.close());

const browser = await launchChromium(t);

interface Got {
  id: string;
  frame: Record<string, unknown>;
}

t.test("native EventSource: the stream is cut midway, the browser reconnects by itself, every message arrives once", async (t) => {
  const tab = await browser.newPage();
  // the page talks to the gateway through the proxy the test can cut
  await tab.goto(`${pageOrigin}/?http://127.0.0.1:${proxy.port}`);
  const got = () => tab.evaluate(() => (globalThis as unknown as { frames_: Got[] }).frames_);
  await eventually("the session frame", async () => (await got()).length === 1);
  const [hello] = await got();
  t.match(hello!.frame, { type: "session", resumed: true }, "the stream the 307 led to");
  const token = hello!.frame.resume_token as string;
  const n = 2000;
  const r = await request(`http://127.0.0.1:${gatewayPort}/sse/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    // paced, so the cut below lands mid-stream (replies are coalesced: an unpaced stream is over at once)
    body: JSON.stringify(rpc("s", "radiant.test/stream", { count: n, delayMs: 2 })),
  });
  t.equal(r.status, 202);
  await eventually("some chunks", async () => (await got()).length > 300, 60_000);
  proxy.cut();
  proxy.allow();
  await eventually("every chunk and the result", async () => (await got()).filter((g) => g.frame.type !== "session").length >= n + 1, 90_000);
  const all = await got();
  const opens = await tab.evaluate(() => (globalThis as unknown as { opens: number }).opens);
  t.ok(opens >= 2, `the browser reconnected on its own (${opens} opens)`);
  const sessions = all.filter((g) => g.frame.type === "session");
  t.ok(
    sessions.every((s) => s.frame.sid === hello!.frame.sid),
    "the same session every time",
  );
  const replies = all.filter((g) => g.frame.type !== "session").map((g) => g.frame);
  t.equal(replies.length, n + 1, "nothing twice");
  t.same(
    replies.slice(0, n).map((f) => (f.params as { i: number }).i),
    Array.from({ length: n }, (_, i) => i),
    "chunks 0..1999 once each, in order",
  );
  t.same(replies[n]!.result, { count: n });
  await tab.close();
});
