// Limits per principal and per key, through a stack of two gateway processes
// (so a limit must hold across them: each tells the other what it admitted):
// connections at once, requests per minute, LLM tokens per minute (from the
// providers' usage), a key's model allowlist. Over a limit: 429 with
// Retry-After in the caller's own format (the SDKs' RateLimitError, a JSON-RPC
// error on a socket, the upgrade refused); per-principal metrics count it.
import { ADMIN_TOKEN, adminClient } from "./admin_client.js";
import { Agent, get } from "node:http";
import OpenAI from "openai";
import t from "tap";
import type WebSocket from "ws";
import { Client, eventually, rpc, startStack, upgrade } from "./harness.js";
import { request } from "./sse_client.js";

const stack = await startStack(t, {
  gatewayProcesses: 2,
  gatewayEnv: { GATEWAY_AUTH_REQUIRED: "true", GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN, GATEWAY_PRINCIPAL_MAX_CONNECTIONS: "3" },
});
const base = stack.wsUrl.replace(/^ws/, "http").replace(/\/ws$/, "");
/**
 * A new key, once both gateway processes know it: each follows the key bucket, and under load one may
 * hear of a new key a moment after the admin API answered (each request is a new connection, which the
 * kernel hands to either process: several in a row accepted means both have it).
 */
const keyOf = async (grant: Record<string, unknown>): Promise<string> => {
  const { key } = await adminClient(stack).newKey(grant);
  // (a key with a request rate is not probed: the probes would spend it)
  if (grant.rpm !== undefined) return key;
  let accepted = 0;
  await eventually("the new key known to both processes", async () => {
    // a connection of its own each time (an agent of its own, let go after)
    const agent = new Agent({ keepAlive: true });
    const status = await new Promise<number>((resolve, reject) => {
      get(`${base}/v1/models`, { agent, headers: { authorization: `Bearer ${key}` } }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      }).on("error", reject);
    }).finally(() => agent.destroy());
    accepted = status === 200 ? accepted + 1 : 0;
    return accepted >= 6;
  });
  return key;
};
const metric = async (name: string, labels: string): Promise<number> => {
  const text = await (await fetch(`${stack.healthUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return Number(line?.split(" ").pop() ?? 0);
};
/** how long a report takes to reach the other process, with room to spare */
const settle = () => new Promise((r) => setTimeout(r, 2500));
const chat = (key: string, model = "echo-openai") =>
  request(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "a few words to count" }] }),
  });
/** A WebSocket opened with `key`, or the upgrade's refusal. */
const connectWith = async (key: string): Promise<{ ws?: WebSocket; status?: number; retryAfter?: string; body?: string }> => {
  const r = await upgrade(stack.wsUrl, [], { headers: { authorization: `Bearer ${key}` } });
  if ("client" in r) return { ws: r.client.ws };
  if ("error" in r) throw r.error;
  return { status: r.status, retryAfter: String(r.headers["retry-after"]), body: r.body };
};

t.test("connections: the principal's limit (GATEWAY_PRINCIPAL_MAX_CONNECTIONS) and a key's own, across processes", async (t) => {
  const key = await keyOf({ principal: "conn-user" });
  const open: WebSocket[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await connectWith(key);
    t.ok(r.ws, `connection ${i + 1} of 3`);
    open.push(r.ws!);
    await settle();
  }
  const over = await connectWith(key);
  t.equal(over.status, 429, "the fourth is refused, whichever process it reached");
  t.ok(Number(over.retryAfter) >= 1, "with Retry-After");
  t.match(over.body, /too many connections for principal conn-user: the limit is 3/);
  const other = await keyOf({ principal: "conn-user-2", connections: 1 });
  const one = await connectWith(other);
  t.ok(one.ws, "a key's own limit: one");
  await settle();
  t.equal((await connectWith(other)).status, 429, "a second on that key is refused");
  t.ok((await metric("radiant_principal_rejections_total", 'principal="conn-user"')) >= 1, "counted");
  open[0]!.close();
  await eventually(
    "room again once one closes (and the other process hears of it)",
    async () => {
      const r = await connectWith(key);
      r.ws?.close();
      return r.ws !== undefined;
    },
    10_000,
  );
  for (const ws of [...open, one.ws!]) ws.close();
});

t.test("requests per minute of a key: the SDK gets RateLimitError with Retry-After, across both processes", async (t) => {
  const key = await keyOf({ principal: "rpm-user", rpm: 6 });
  const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0 });
  for (let i = 0; i < 6; i++) {
    await openai.models.list();
    // each admission heard by the other process before the next request
    await settle();
  }
  for (let i = 0; i < 4; i++) {
    const e = await openai.models.list().then(
      () => undefined,
      (err: unknown) => err,
    );
    t.ok(e instanceof OpenAI.RateLimitError, `request ${7 + i}: RateLimitError`);
    t.match(e, { status: 429, code: "rate_limit_exceeded", message: /6 requests per minute/ });
    t.ok(Number((e as { headers: Headers }).headers.get("retry-after")) >= 1, "Retry-After");
  }
  t.equal(await metric("radiant_principal_requests_total", 'principal="rpm-user"'), 6, "six let in, counted once each");
  t.equal(await metric("radiant_principal_rejections_total", 'principal="rpm-user",limit="requests"'), 4);
});

t.test("requests per minute on a WebSocket: the over-limit call gets a JSON-RPC error naming its id; notifications pass", async (t) => {
  const key = await keyOf({ principal: "ws-rpm-user", rpm: 2 });
  const c = await Client.connect(stack.wsUrl, [], { headers: { authorization: `Bearer ${key}` } });
  await c.next();
  t.match(await c.call(rpc(1, "radiant.test/echo", { n: 1 })), { result: { n: 1 } });
  t.match(await c.call(rpc(2, "radiant.test/echo", { n: 2 })), { result: { n: 2 } });
  const over = await c.call(rpc(3, "radiant.test/echo", { n: 3 }));
  t.match(over, { id: 3, error: { code: -32029, message: /rate limit reached for API key .*: 2 requests per minute; retry after \d+ s/ } });
  c.ws.close();
});

t.test("every call counts: one with id null, and each call of a batch", async (t) => {
  const key = await keyOf({ principal: "batch-user", rpm: 4 });
  const c = await Client.connect(stack.wsUrl, [], { headers: { authorization: `Bearer ${key}` } });
  await c.next();
  c.send([rpc("b1", "radiant.test/echo", {}), rpc("b2", "radiant.test/echo", {}), rpc("b3", "radiant.test/echo", {})]);
  // on this framing a batch's answers come one frame each
  const batch = await c.take(3);
  t.same(batch.map((f) => f.id).sort(), ["b1", "b2", "b3"], "a batch of three: let in (three counted)");
  c.send({ jsonrpc: "2.0", id: null, method: "radiant.test/echo", params: { n: 4 } });
  t.match(await c.next(), { id: null, result: { n: 4 } }, "the fourth, with id null");
  const over = await c.call(rpc(5, "radiant.test/echo", {}));
  t.match(over, { id: 5, error: { code: -32029 } }, "the fifth call is over four");
  c.send([rpc("b6", "radiant.test/echo", {})]);
  t.match(JSON.stringify(await c.next()), /-32029/, "a batch over the limit is refused too");
  c.ws.close();
});

t.test("tokens per minute: once the provider's usage reaches the key's tpm, its next LLM request is refused", async (t) => {
  const key = await keyOf({ principal: "tpm-user", tpm: 10 });
  const first = await chat(key);
  t.equal(first.status, 200);
  const used = (JSON.parse(first.body) as { usage: { total_tokens: number } }).usage.total_tokens;
  t.ok(used >= 10, `the answer used ${used} tokens`);
  await eventually("the workers' usage report heard", async () => (await chat(key)).status === 429, 10_000);
  const refused = await chat(key);
  t.equal(refused.status, 429);
  t.match(JSON.parse(refused.body), { error: { type: "rate_limit_error", message: /token limit reached .*10 tokens per minute/ } });
  t.ok(Number(refused.headers["retry-after"]) >= 1);
  t.ok((await metric("radiant_principal_tokens_total", 'principal="tpm-user"')) >= used, "tokens per principal in /metrics");
});

t.test("a key's models: others are 403 in the provider's format, and the model list shows only its own", async (t) => {
  const key = await keyOf({ principal: "model-user", models: ["echo-openai"] });
  t.equal((await chat(key)).status, 200);
  const no = await chat(key, "echo-anthropic");
  t.equal(no.status, 403);
  t.match(JSON.parse(no.body), { error: { code: "model_not_allowed", message: /may not use the model `echo-anthropic`/ } });
  const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0 });
  const e = await openai.chat.completions.create({ model: "echo-google", messages: [{ role: "user", content: "x" }] }).then(
    () => undefined,
    (err: unknown) => err,
  );
  t.ok(e instanceof OpenAI.PermissionDeniedError, "the SDK's PermissionDeniedError");
  const ids = (await openai.models.list()).data.map((m) => m.id);
  t.same(ids, ["echo-openai"]);
  const prefixed = await keyOf({ principal: "model-user", models: ["echo-*"] });
  t.equal((await chat(prefixed, "echo-anthropic")).status, 200, "a prefix ending in * allows its family");
});
