// Who is connecting, through a whole stack with GATEWAY_AUTH_REQUIRED=true:
// gateway API keys made by the admin API (the official SDKs send them where
// each puts its key), OIDC tokens of a local issuer, a client certificate
// forwarded by a trusted front proxy, browser-style tokens (?token=, the
// WebSocket subprotocol). Every refusal is a 401 in the caller's own format,
// with a reason, and counted; a revoked key stops working at once, open
// connections included.
import { ADMIN_TOKEN, adminClient } from "./admin_client.js";
import Anthropic from "@anthropic-ai/sdk";
import { GoogleGenAI } from "@google/genai";
import OpenAI from "openai";
import t from "tap";
import { Client, eventually, rpc, startStack, upgrade } from "./harness.js";
import { OidcIssuer } from "./oidc_issuer.js";
import { request } from "./sse_client.js";

const issuer = await OidcIssuer.start("radiant-tests");
t.teardown(() => issuer.close());
const stack = await startStack(t, {
  gatewayEnv: {
    GATEWAY_AUTH_REQUIRED: "true",
    GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN,
    OIDC_ISSUER_URL: issuer.url,
    OIDC_AUDIENCE: issuer.audience,
    OIDC_TENANT_CLAIM: "org",
    GATEWAY_TRUSTED_PROXIES: "127.0.0.1",
  },
});
const base = stack.wsUrl.replace(/^ws/, "http").replace(/\/ws$/, "");
const { call: admin, newKey } = adminClient(stack);
const refused = async (code: string): Promise<number> => {
  const text = await (await fetch(`${stack.healthUrl}/metrics`)).text();
  return Number(new RegExp(`^radiant_auth_refused_total\\{code="${code}"\\} (\\d+)`, "m").exec(text)?.[1] ?? 0);
};
/** the upgrade's answer when it is refused: status and body */
const upgradeRefusal = async (url: string, protocols: string[] = [], headers: Record<string, string> = {}) => {
  const r = await upgrade(url, protocols, { headers });
  if ("client" in r) {
    r.client.ws.close();
    throw new Error("the upgrade was accepted");
  }
  if ("error" in r) throw r.error;
  return r;
};

t.test("the admin API: behind its token, keys shown once, never their hash", async (t) => {
  t.equal((await admin("/admin/keys", { token: "wrong" })).status, 401);
  t.equal((await request(`${stack.healthUrl}/admin/keys`)).status, 401, "no token");
  for (const bad of [
    {},
    { principal: "" },
    { principal: "a\nb" },
    { principal: "a", rpm: -1 },
    { principal: "a", models: "gpt" },
    { principal: "a", extra: 1 },
  ]) {
    const r = await admin("/admin/keys", { method: "POST", body: bad });
    t.equal(r.status, 400, `refused: ${JSON.stringify(bad)}`);
    t.match(JSON.parse(r.body), { error: /Bad Request/ });
  }
  const made = await newKey({ principal: "listed", tenant: "acme", models: ["echo-openai"], rpm: 100 });
  t.match(made.key, /^rad_[a-z2-7]{16}_[A-Za-z0-9_-]{43}$/);
  const list = JSON.parse((await admin("/admin/keys")).body) as { keys: Record<string, unknown>[] };
  const mine = list.keys.find((k) => k.id === made.id);
  t.match(mine, { id: made.id, principal: "listed", tenant: "acme", models: ["echo-openai"], rpm: 100 });
  t.notOk("hash" in mine! || "key" in mine!, "neither the key nor its hash is shown again");
  t.equal((await admin(`/admin/keys/${"a".repeat(16)}`, { method: "DELETE" })).status, 404);
  t.equal((await admin("/admin/keys/not-an-id", { method: "DELETE" })).status, 400);
});

t.test("no credential: 401 in each caller's own format, with WWW-Authenticate", async (t) => {
  const before = await refused("missing");
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    request(`${base}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
      body: JSON.stringify(body),
    });
  const openai = await post("/v1/chat/completions", { model: "echo-openai", messages: [{ role: "user", content: "hi" }] });
  t.equal(openai.status, 401);
  t.equal(openai.headers["www-authenticate"], 'Bearer realm="radiant"');
  t.match(JSON.parse(openai.body), { error: { type: "invalid_request_error", code: "invalid_api_key", message: /Unauthorized: a credential is required/ } });
  const anthropic = await post("/v1/messages", { model: "echo-anthropic", max_tokens: 10, messages: [{ role: "user", content: "hi" }] });
  t.equal(anthropic.status, 401);
  t.match(JSON.parse(anthropic.body), { type: "error", error: { type: "authentication_error" } });
  const google = await post("/v1beta/models/echo-google:generateContent", { contents: [{ role: "user", parts: [{ text: "hi" }] }] });
  t.equal(google.status, 401);
  t.match(JSON.parse(google.body), { error: { code: 401, status: "UNAUTHENTICATED" } });
  const mcp = await post("/mcp", rpc(1, "initialize", { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } }));
  t.equal(mcp.status, 401);
  t.match(JSON.parse(mcp.body), { jsonrpc: "2.0", error: { code: -32030, message: /Unauthorized/ } });
  const a2a = await post("/a2a/echo", rpc(1, "message/send", { message: { role: "user", parts: [{ kind: "text", text: "hi" }], messageId: "m1" } }));
  t.equal(a2a.status, 401);
  t.match(JSON.parse(a2a.body), { jsonrpc: "2.0", error: { code: -32030 } });
  t.equal((await request(`${base}/sse`, { headers: { accept: "text/event-stream" } })).status, 401);
  const ws = await upgradeRefusal(stack.wsUrl);
  t.equal(ws.status, 401);
  t.match(ws.body, /a credential is required/);
  // how a client learns to authenticate stays public
  t.equal((await request(`${base}/.well-known/agent-card.json`)).status, 200, "the agent card");
  t.equal((await request(`${base}/a2a/echo/.well-known/agent-card.json`)).status, 200);
  t.equal(await refused("missing"), before + 7, "each refusal counted");
});

t.test("the official SDKs with a gateway key, each where it puts its key; a wrong key is their AuthenticationError", async (t) => {
  const { key } = await newKey({ principal: "sdk-user" });
  const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0 });
  const chat = await openai.chat.completions.create({ model: "echo-openai", messages: [{ role: "user", content: "one two three" }] });
  t.equal(chat.choices[0]?.message.content, "one two three");
  const anthropic = new Anthropic({ baseURL: base, apiKey: key, maxRetries: 0 });
  const msg = await anthropic.messages.create({ model: "echo-anthropic", max_tokens: 50, messages: [{ role: "user", content: "four five" }] });
  t.match(msg.content[0], { type: "text", text: "four five" });
  const google = new GoogleGenAI({ apiKey: key, httpOptions: { baseUrl: base } });
  const gen = await google.models.generateContent({ model: "echo-google", contents: "six seven" });
  t.equal(gen.text, "six seven");

  const bad = `${key.slice(0, -4)}AAAA`;
  const thrown = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: unknown) => e,
    );
  const o = await thrown(new OpenAI({ baseURL: `${base}/v1`, apiKey: bad, maxRetries: 0 }).models.list());
  t.ok(o instanceof OpenAI.AuthenticationError, "OpenAI: AuthenticationError");
  t.match(o, { status: 401, code: "invalid_api_key" });
  const a = await thrown(
    new Anthropic({ baseURL: base, apiKey: bad, maxRetries: 0 }).messages.create({
      model: "echo-anthropic",
      max_tokens: 5,
      messages: [{ role: "user", content: "x" }],
    }),
  );
  t.ok(a instanceof Anthropic.AuthenticationError, "Anthropic: AuthenticationError");
  t.match(a, { status: 401, error: { type: "error", error: { type: "authentication_error" } } });
  const g = await thrown(new GoogleGenAI({ apiKey: bad, httpOptions: { baseUrl: base } }).models.generateContent({ model: "echo-google", contents: "x" }));
  t.match(g, { status: 401, message: /UNAUTHENTICATED|unknown or revoked/ });
  // a placeholder an SDK insists on is no credential when one is required
  const placeholder = await thrown(new OpenAI({ baseURL: `${base}/v1`, apiKey: "not-needed", maxRetries: 0 }).models.list());
  t.ok(placeholder instanceof OpenAI.AuthenticationError);
});

t.test(
  "OIDC: a token of the issuer works over /ws; expired, wrong audience, wrong issuer, unknown key are each refused with a reason and counted",
  async (t) => {
    const good = await issuer.sign("alice@example.com", { claims: { org: "acme" } });
    const c = await Client.connect(stack.wsUrl, [], { headers: { authorization: `Bearer ${good}` } });
    await c.next();
    const r = await c.call(rpc(1, "radiant.test/echo", { hi: 1 }));
    t.match(r, { id: 1, result: { hi: 1 } });
    c.ws.close();

    const cases: [string, Promise<string>, string, RegExp][] = [
      ["expired", issuer.sign("alice@example.com", { expIn: -120 }), "jwt_expired", /expired/],
      ["wrong audience", issuer.sign("alice@example.com", { aud: "another-service" }), "jwt_bad_audience", /audience/],
      ["wrong issuer", issuer.sign("alice@example.com", { iss: "https://evil.example" }), "jwt_bad_issuer", /issuer/],
      ["unknown key", issuer.sign("alice@example.com", { unknownKey: true }), "jwt_unknown_kid", /key/],
    ];
    for (const [what, token, code, reason] of cases) {
      const before = await refused(code);
      const ws = await upgradeRefusal(stack.wsUrl, [], { authorization: `Bearer ${await token}` });
      t.equal(ws.status, 401, what);
      t.match(ws.body, reason, what);
      const http = await request(`${base}/v1/models`, { headers: { authorization: `Bearer ${await token}` } });
      t.equal(http.status, 401, `${what} (HTTP)`);
      t.match(JSON.parse(http.body), { error: { message: reason } });
      t.equal(await refused(code), before + 2, `${what} counted`);
    }
  },
);

t.test("browser-style: a token in ?token= on /sse (kept through its redirect) and in the WebSocket subprotocol", async (t) => {
  const token = await issuer.sign("browser-user");
  const first = await request(`${base}/sse?token=${encodeURIComponent(token)}`, { headers: { accept: "text/event-stream" } });
  t.equal(first.status, 307);
  const location = first.headers.location ?? "";
  t.match(location, /[?&]token=/, "the session's URL keeps the credential, for the browser's reconnects");

  const c = await Client.connect(stack.wsUrl, ["radiant", `radiant.bearer.${token}`]);
  t.equal(c.ws.protocol, "radiant", "the framing's name is answered, never the token");
  await c.next();
  t.match(await c.call(rpc(1, "radiant.test/echo", { via: "subprotocol" })), { result: { via: "subprotocol" } });
  c.ws.close();
  const mcp = await Client.connect(stack.wsUrl, ["mcp", `radiant.bearer.${token}`]);
  t.equal(mcp.ws.protocol, "mcp");
  mcp.ws.close();
  const alone = await upgradeRefusal(stack.wsUrl, [`radiant.bearer.${token}`]);
  t.equal(alone.status, 400, "a token entry alone: the browser would fail the handshake");
  t.match(alone.body, /offer "radiant" or "mcp" too/);
  t.notMatch(alone.body, token.slice(0, 20), "the token is not echoed");
});

t.test("a client certificate from the trusted front proxy names the principal (X-Forwarded-Client-Cert)", async (t) => {
  const xfcc = 'By=spiffe://radiant/gw;Hash=abc123;Subject="CN=service-a,OU=ml,O=Example";URI=spiffe://example/service-a';
  const c = await Client.connect(stack.wsUrl, [], { headers: { "x-forwarded-client-cert": xfcc } });
  const session = await c.next();
  t.ok(session.resume_token, "let in");
  // the session is service-a's: a key of another principal cannot resume it
  const { key } = await newKey({ principal: "not-service-a" });
  const stolen = await Client.connect(`${stack.wsUrl}?resume=${encodeURIComponent(String(session.resume_token))}&last_seq=0`, [], {
    headers: { authorization: `Bearer ${key}` },
  });
  const f = await stolen.next();
  t.match(JSON.stringify(f), /another principal/, "refused: the token was issued to another principal");
  stolen.ws.close();
  c.ws.close();
  const bad = await upgradeRefusal(stack.wsUrl, [], { "x-forwarded-client-cert": 'Subject="O=No Common Name"' });
  t.equal(bad.status, 401);
  t.match(bad.body, /X-Forwarded-Client-Cert names no usable subject/);
});

t.test("a revoked key stops at once: its next request is refused and its open connections close (4401)", async (t) => {
  const { key, id } = await newKey({ principal: "to-revoke" });
  const before = await refused("bad_key");
  const c = await Client.connect(stack.wsUrl, [], { headers: { authorization: `Bearer ${key}` } });
  await c.next();
  t.equal((await request(`${base}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status, 200);
  t.equal((await admin(`/admin/keys/${id}`, { method: "DELETE" })).status, 204);
  const closed = await c.closed;
  t.equal(closed.code, 4401);
  t.match(closed.reason, /revoked/);
  await eventually("the key refused", async () => (await request(`${base}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status === 401, 5000);
  const http = await request(`${base}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
  t.match(JSON.parse(http.body), { error: { message: /unknown or revoked API key/ } });
  t.ok((await refused("bad_key")) >= before + 2, "each refusal counted");
  t.equal((await admin(`/admin/keys/${id}`, { method: "DELETE" })).status, 404, "gone");
});
