// A real browser against a gateway with GATEWAY_AUTH_REQUIRED=true: headless
// Chromium (Debian's, driven by playwright-core), on a page of its own origin
// (listed in GATEWAY_ALLOWED_ORIGINS), with an API key made by the admin API.
// Proves the ways a browser can carry a credential where it cannot set
// headers: a native EventSource with ?token= (kept through the 307 to the
// session's URL) gets its session, and a frame POSTed to /sse/messages with
// the key in Authorization and the session named by Radiant-Resume-Token (or
// ?resume=) — a cross-origin fetch with such headers goes after a CORS
// preflight, which the gateway answers — is answered on that stream, once;
// a native WebSocket offering ["radiant", "radiant.bearer.<key>"] opens with
// protocol "radiant" and echoes. Without a credential both fail as the
// browser reports it (EventSource error and closed for good, WebSocket error
// and close 1006); revoking the key closes an open browser WebSocket with
// 4401 (and its EventSource gets `event: close` 4401, then stays closed).
import { launchChromium } from "./chromium.js";
import { ADMIN_TOKEN, adminClient } from "./admin_client.js";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Page } from "playwright-core";
import t from "tap";
import { eventually, startStack } from "./harness.js";

// an empty page, served from its own origin: the test runs its scripts in it (tab.evaluate)
const page = createServer((_req, res) => {
  res.writeHead(200, { "content-type": "text/html" });
  res.end(`<!doctype html><meta charset="utf-8"><title>radiant auth</title>`);
});
page.listen(0, "127.0.0.1");
await once(page, "listening");
t.teardown(() => {
  page.close();
  page.closeAllConnections();
});
const pageOrigin = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;

const stack = await startStack(t, {
  gatewayEnv: { GATEWAY_AUTH_REQUIRED: "true", GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN, GATEWAY_ALLOWED_ORIGINS: pageOrigin },
});
const gateway = stack.wsUrl.replace(/^ws/, "http").replace(/\/ws$/, "");
const gatewayWs = stack.wsUrl;

const admin = adminClient(stack);
const newKey = (principal: string) => admin.newKey({ principal });
const browser = await launchChromium(t);

type Frame = Record<string, unknown>;

/** What a page's EventSource or WebSocket saw, kept on `window.probes[name]`. */
interface Probe {
  opens: number;
  errors: number;
  frames: Frame[];
  /** EventSource: readyState (2: closed for good); WebSocket: the close, when it came */
  readyState?: number;
  protocol?: string;
  close?: { code: number; reason: string };
  /** `event: close` on an SSE stream ({code, reason}) */
  sseCloses?: Frame[];
}

async function openTab(): Promise<Page> {
  const tab = await browser.newPage();
  await tab.goto(pageOrigin);
  return tab;
}

/** Open an EventSource in the page, its events counted under `name`. */
const openEventSource = (tab: Page, name: string, url: string) =>
  tab.evaluate(
    ({ name, url }) => {
      const w = globalThis as unknown as { probes?: Record<string, unknown>; sources?: Record<string, EventSource> };
      const p = { opens: 0, errors: 0, frames: [] as unknown[], readyState: 0, sseCloses: [] as unknown[] };
      w.probes ??= {};
      w.sources ??= {};
      w.probes[name] = p;
      const es = new EventSource(url);
      w.sources[name] = es;
      es.onopen = () => {
        p.opens++;
        p.readyState = es.readyState;
      };
      es.onerror = () => {
        p.errors++;
        p.readyState = es.readyState;
      };
      es.onmessage = (e) => p.frames.push(JSON.parse(e.data));
      es.addEventListener("close", (e) => p.sseCloses.push(JSON.parse((e as MessageEvent).data)));
    },
    { name, url },
  );

/** Open a WebSocket in the page, its events counted under `name`; `echo`: answer the session frame with a radiant.test/echo call. */
const openWebSocket = (tab: Page, name: string, url: string, protocols: string[], echo?: Frame) =>
  tab.evaluate(
    ({ name, url, protocols, echo }) => {
      const w = globalThis as unknown as { probes?: Record<string, unknown>; sockets?: Record<string, WebSocket> };
      const p: { opens: number; errors: number; frames: unknown[]; protocol?: string; close?: { code: number; reason: string } } = {
        opens: 0,
        errors: 0,
        frames: [],
      };
      w.probes ??= {};
      w.sockets ??= {};
      w.probes[name] = p;
      const ws = new WebSocket(url, protocols);
      w.sockets[name] = ws;
      ws.onopen = () => {
        p.opens++;
        p.protocol = ws.protocol;
      };
      ws.onerror = () => p.errors++;
      ws.onclose = (e) => (p.close = { code: e.code, reason: e.reason });
      ws.onmessage = (e) => {
        const f = JSON.parse(e.data as string) as { type?: string };
        p.frames.push(f);
        if (f.type === "session" && echo) ws.send(JSON.stringify(echo));
      };
    },
    { name, url, protocols, echo },
  );

const probe = (tab: Page, name: string) => tab.evaluate((name) => (globalThis as unknown as { probes: Record<string, Probe> }).probes[name]!, name);

/** A cross-origin POST from the page; resolves with the status the page could read (0: the browser blocked it). */
const postFromPage = (tab: Page, url: string, headers: Record<string, string>, body: Frame) =>
  tab.evaluate(
    async ({ url, headers, body }) => {
      try {
        const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
        return { status: r.status, body: await r.text() };
      } catch (e) {
        return { status: 0, body: String(e) };
      }
    },
    { url, headers, body },
  );

const echoCall = (id: number, params: Frame) => ({ jsonrpc: "2.0", id, method: "radiant.test/echo", params });
const answers = (frames: Frame[], id: number) => frames.filter((f) => f.id === id && "result" in f);

t.test("EventSource with ?token=: the session frame; a frame POSTed with the key is answered on the stream, once", async (t) => {
  const { key } = await newKey("browser-sse");
  const tab = await openTab();
  t.teardown(() => tab.close());
  // what Chromium's network stack sends, preflights included (Playwright's own request events leave them out)
  const cdp = await tab.context().newCDPSession(tab);
  const preflights: { url: string; status?: number }[] = [];
  const byId = new Map<string, { url: string; status?: number }>();
  cdp.on("Network.requestWillBeSent", (e) => {
    if (e.request.method !== "OPTIONS") return;
    const p = { url: e.request.url };
    preflights.push(p);
    byId.set(e.requestId, p);
  });
  cdp.on("Network.responseReceived", (e) => {
    const p = byId.get(e.requestId);
    if (p) p.status = e.response.status;
  });
  await cdp.send("Network.enable");

  await openEventSource(tab, "sse", `${gateway}/sse?token=${encodeURIComponent(key)}`);
  await eventually("the session frame", async () => (await probe(tab, "sse")).frames.length >= 1, 30_000);
  const first = await probe(tab, "sse");
  t.equal(first.opens, 1, "opened");
  const session = first.frames[0]!;
  t.match(session, { type: "session", resumed: true }, "the session the 307 led to (the credential kept in its URL)");
  const resume = String(session.resume_token);

  // the key in Authorization, the session named by Radiant-Resume-Token: headers no simple
  // request may carry, so Chromium asks first (a preflight), and a status the page can read
  // means the gateway allowed it
  const posted = await postFromPage(tab, `${gateway}/sse/messages`, { authorization: `Bearer ${key}`, "radiant-resume-token": resume }, echoCall(1, { a: 1 }));
  t.equal(posted.status, 202, `POST /sse/messages: ${posted.body}`);
  await eventually("the answer on the stream", async () => answers((await probe(tab, "sse")).frames, 1).length >= 1, 30_000);
  // the session named by ?resume= instead; answered after the first, so a repeat of the first would be in by then
  const again = await postFromPage(
    tab,
    `${gateway}/sse/messages?resume=${encodeURIComponent(resume)}`,
    { authorization: `Bearer ${key}` },
    echoCall(2, { b: 2 }),
  );
  t.equal(again.status, 202, `POST /sse/messages?resume=: ${again.body}`);
  await eventually("the second answer", async () => answers((await probe(tab, "sse")).frames, 2).length >= 1, 30_000);
  const after = await probe(tab, "sse");
  t.same(
    answers(after.frames, 1).map((f) => f.result),
    [{ a: 1 }],
    "answered once",
  );
  t.same(
    answers(after.frames, 2).map((f) => f.result),
    [{ b: 2 }],
    "answered once",
  );
  t.equal(after.errors, 0, "the stream never failed");
  t.ok(
    preflights.some((p) => p.url.startsWith(`${gateway}/sse/messages`) && p.status === 204),
    `a CORS preflight, answered 204 by the gateway (preflights seen: ${preflights.map((p) => p.status ?? "no answer").join(", ")})`,
  );
  await cdp.detach();
});

t.test('WebSocket offering ["radiant", "radiant.bearer.<key>"]: opens as "radiant" and echoes', async (t) => {
  const { key } = await newKey("browser-ws");
  const tab = await openTab();
  t.teardown(() => tab.close());
  await openWebSocket(tab, "ws", gatewayWs, ["radiant", `radiant.bearer.${key}`], echoCall(1, { a: 1 }));
  await eventually("the echo", async () => answers((await probe(tab, "ws")).frames, 1).length >= 1, 30_000);
  const p = await probe(tab, "ws");
  t.equal(p.opens, 1);
  t.equal(p.protocol, "radiant", "the framing's name answered, never the token");
  t.match(p.frames[0], { type: "session" }, "the session frame first");
  t.match(answers(p.frames, 1), [{ jsonrpc: "2.0", id: 1, result: { a: 1 } }], "answered, once");
  t.equal(answers(p.frames, 1).length, 1);
  t.equal(p.errors, 0);
  t.equal(p.close, undefined, "still open");
});

t.test("without a credential: the EventSource errors and stays closed, the WebSocket fails", async (t) => {
  const tab = await openTab();
  t.teardown(() => tab.close());
  await openEventSource(tab, "sse", `${gateway}/sse`);
  await openWebSocket(tab, "ws", gatewayWs, ["radiant"]);
  // a 401 is not an event stream: the EventSource fails for good (readyState CLOSED) instead of reconnecting
  await eventually("the EventSource failed", async () => (await probe(tab, "sse")).readyState === 2, 30_000);
  await eventually("the WebSocket closed", async () => (await probe(tab, "ws")).close !== undefined, 30_000);
  const sse = await probe(tab, "sse");
  t.equal(sse.opens, 0, "the EventSource never opened");
  t.equal(sse.errors, 1, "one error, and no reconnect");
  t.same(sse.frames, []);
  const ws = await probe(tab, "ws");
  t.equal(ws.opens, 0, "the WebSocket never opened");
  t.equal(ws.errors, 1, "one error");
  t.equal(ws.close?.code, 1006, "the handshake failed (a browser shows no status)");
  t.same(ws.frames, []);
});

t.test("a revoked key closes an open browser WebSocket with 4401 (and ends its EventSource)", async (t) => {
  const { key, id } = await newKey("browser-revoked");
  const tab = await openTab();
  t.teardown(() => tab.close());
  await openWebSocket(tab, "ws", gatewayWs, ["radiant", `radiant.bearer.${key}`]);
  await openEventSource(tab, "sse", `${gateway}/sse?token=${encodeURIComponent(key)}`);
  await eventually("both sessions open", async () => (await probe(tab, "ws")).frames.length >= 1 && (await probe(tab, "sse")).frames.length >= 1, 30_000);
  t.equal((await admin.call(`/admin/keys/${id}`, { method: "DELETE" })).status, 204, "revoked");
  await eventually("the WebSocket closed", async () => (await probe(tab, "ws")).close !== undefined, 30_000);
  const ws = await probe(tab, "ws");
  t.equal(ws.close?.code, 4401);
  t.match(ws.close?.reason, /revoked/);
  // the stream says why before it ends; the EventSource's reconnect with the revoked key is refused for good
  await eventually("the EventSource closed for good", async () => (await probe(tab, "sse")).readyState === 2, 30_000);
  const sse = await probe(tab, "sse");
  t.match(sse.sseCloses, [{ code: 4401, reason: /revoked/ }], "event: close with 4401");
});
