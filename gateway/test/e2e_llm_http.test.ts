// The provider endpoints as raw HTTP sees them: a stream cut mid-way and
// resumed (every event once, in order), a client that leaves and does not come
// back (its upstream request is cancelled), upstream faults (429 with its
// Retry-After, an upstream that is down, a missing key) and bad input, each
// answered in the provider's own error shape and status. And the same bodies
// as frames on a WebSocket session.
import { readFileSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import t from "tap";
import { Client, eventually, startStack } from "./harness.js";
import { request, SseReader } from "./sse_client.js";

const modelsFile = join(tmpdir(), `radiant-models-${process.pid}.json`);
writeFileSync(
  modelsFile,
  JSON.stringify({
    models: [
      { match: "dead-openai", format: "openai", baseUrl: "https://127.0.0.1:9", keyEnv: null },
      { match: "keyed-anthropic", format: "anthropic", baseUrl: "https://127.0.0.1:9", keyEnv: "RADIANT_TEST_UNSET_KEY" },
    ],
  }),
);
const stack = await startStack(t, {
  env: { RADIANT_MODELS: modelsFile, EGRESS_MAX_ATTEMPTS: "2", EGRESS_RETRY_BASE_MS: "50", EGRESS_BREAKER_FAILURES: "1000" },
  gatewayEnv: { GATEWAY_LLM_RESUME_GRACE_MS: "400", GATEWAY_MAX_PAYLOAD: "65536" },
});
const base = stack.wsUrl.replace(/^ws/, "http").replace(/\/ws$/, "");
const ca = readFileSync(stack.echoCertFile!);

/** Tell an echo upstream what to do to the next requests (its admin API). */
function faults(format: "openai" | "anthropic" | "google", list: unknown[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify(list);
    const req = httpsRequest(
      `${stack.echoUrls![format]}/_echo/faults`,
      { method: "POST", ca, headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) } },
      (res) => {
        res.resume();
        res.on("end", () => (res.statusCode === 200 || res.statusCode === 204 ? resolve() : reject(new Error(`faults: ${res.statusCode}`))));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(" ");
const json = { "content-type": "application/json" };
const chatBody = (text: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: "echo-openai", stream: true, messages: [{ role: "user", content: text }], ...extra });

t.test("a stream cut at chunk 50 of 200 resumes with its token and Last-Event-ID: all 200 once, in order", async (t) => {
  await faults("openai", [{ chunkDelayMs: 15 }]);
  const first = await SseReader.open(`${base}/v1/chat/completions`, json, "POST", chatBody(words(200)));
  t.equal(first.status, 200);
  const token = String(first.res!.headers["radiant-resume-token"] ?? "");
  t.ok(token.length > 20, "the response names its resume token");
  const got = await first.waitFor(51); // the role chunk, then words
  first.cut();
  const lastId = got[got.length - 1]!.id!;
  t.ok(Number(lastId) > 0, "events carry ids");
  const rest = await SseReader.open(
    `${base}/v1/chat/completions`,
    { ...json, "radiant-resume-token": token, "last-event-id": lastId },
    "POST",
    chatBody("ignored"),
  );
  t.equal(rest.status, 200);
  await rest.waitEnd(60_000);
  const all = [...got, ...rest.events];
  t.equal(all[all.length - 1]!.data, "[DONE]", "the stream ends with [DONE]");
  const chunks = all.filter((e) => e.data !== "[DONE]").map((e) => JSON.parse(e.data) as { choices: { delta: { content?: string } }[] });
  const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
  t.equal(text, words(200), "every word exactly once, in order");
  const ids = all.filter((e) => e.id !== undefined).map((e) => Number(e.id));
  t.same(
    ids,
    [...ids].sort((a, b) => a - b),
    "ids increase",
  );
  t.equal(new Set(ids).size, ids.length, "no event twice");
});

t.test(
  "a resume while the first response still looks connected: the first ends, the resumed one gets the rest, and the first leaving later cancels nothing",
  async (t) => {
    await faults("openai", [{ chunkDelayMs: 15 }]);
    const first = await SseReader.open(`${base}/v1/chat/completions`, json, "POST", chatBody(words(100)));
    const token = String(first.res!.headers["radiant-resume-token"]);
    const got = await first.waitFor(20);
    const lastId = got[got.length - 1]!.id!;
    const rest = await SseReader.open(
      `${base}/v1/chat/completions`,
      { ...json, "radiant-resume-token": token, "last-event-id": lastId },
      "POST",
      chatBody("x"),
    );
    await first.waitEnd(20_000);
    first.cut(); // found dead only now: past the grace period it must cancel nothing
    await rest.waitEnd(60_000);
    const seen = first.events.filter((e) => Number(e.id) <= Number(lastId));
    const all = [...seen, ...rest.events].map((e) => e.data);
    t.equal(all[all.length - 1], "[DONE]");
    const text = all
      .slice(0, -1)
      .map((d) => (JSON.parse(d) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? "")
      .join("");
    t.equal(text, words(100), "every word exactly once, in order; no cancellation error");
  },
);

t.test("Google streams (no event ids) resume by the count of events received", async (t) => {
  await faults("google", [{ chunkDelayMs: 15 }]);
  const url = `${base}/v1beta/models/echo-google:streamGenerateContent?alt=sse`;
  const body = JSON.stringify({ contents: [{ role: "user", parts: [{ text: words(120) }] }] });
  const first = await SseReader.open(url, json, "POST", body);
  const token = String(first.res!.headers["radiant-resume-token"]);
  const got = await first.waitFor(30);
  first.cut();
  t.notOk(
    got.some((e) => e.id !== undefined),
    "no id lines: Google's SDK would read them as JSON",
  );
  const rest = await SseReader.open(url, { ...json, "radiant-resume-token": token, "radiant-events-received": String(got.length) }, "POST", body);
  await rest.waitEnd(60_000);
  const text = [...got, ...rest.events]
    .map((e) => (JSON.parse(e.data) as { candidates?: { content?: { parts?: { text?: string }[] } }[] }).candidates?.[0]?.content?.parts?.[0]?.text ?? "")
    .join("");
  t.equal(text, words(120), "every word exactly once, in order");
});

t.test("a plain HTTP client that leaves and does not resume cancels its upstream request", async (t) => {
  await faults("openai", [{ chunkDelayMs: 100 }]);
  const before = await echoStats("openai");
  const r = await SseReader.open(`${base}/v1/chat/completions`, json, "POST", chatBody(words(300)));
  await r.waitFor(3);
  r.cut();
  await eventually("the upstream stream reset", async () => (await echoStats("openai")).aborted > before.aborted, 20_000);
  t.pass("cancelled long before its 30 s of chunks");
});

t.test("a worker streams as many answers at once as it runs requests: 20 long streams all flow together", async (t) => {
  await faults(
    "openai",
    Array.from({ length: 20 }, () => ({ chunkDelayMs: 100 })),
  );
  const readers = await Promise.all(Array.from({ length: 20 }, () => SseReader.open(`${base}/v1/chat/completions`, json, "POST", chatBody(words(40)))));
  await eventually("every stream has begun", () => readers.every((r) => r.events.length >= 2), 30_000);
  t.equal(readers.filter((r) => r.ended).length, 0, "none had to finish for another to begin");
  for (const r of readers) r.cut();
});

t.test("an upstream stream cut mid-way: what came is kept, once, and the answer ends with an error saying it was interrupted", async (t) => {
  await faults("openai", [{ cutAfterChunks: 6 }]);
  const r = await SseReader.open(`${base}/v1/chat/completions`, json, "POST", chatBody(words(40)));
  await r.waitEnd(60_000);
  const data = r.events.map((e) => e.data);
  t.equal(data[data.length - 1], "[DONE]");
  const last = JSON.parse(data[data.length - 2]!) as { error?: { message?: string } };
  t.match(last.error?.message, /interrupted/, "the client's own in-stream error");
  const text = data
    .slice(0, -2)
    .map((d) => (JSON.parse(d) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? "")
    .join("");
  t.ok(words(40).startsWith(text), "a prefix of the answer, nothing twice");
  t.ok(text.length < words(40).length, "and not the whole of it");
});

t.test("upstream faults: a 429 keeps its Retry-After; a dead upstream is 502; a missing key names its variable", async (t) => {
  await faults("openai", [{ status: 429, retryAfter: "60" }]);
  const r = await request(`${base}/v1/chat/completions`, { method: "POST", headers: json, body: chatBody("hi", { stream: false }) });
  t.equal(r.status, 429);
  t.equal(r.headers["retry-after"], "60");
  t.match(JSON.parse(r.body), { error: { message: /./ } }, "the upstream's own error body, as OpenAI sends it");

  const dead = await request(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: json,
    body: JSON.stringify({ model: "dead-openai", messages: [{ role: "user", content: "x" }] }),
  });
  t.equal(dead.status, 502);
  t.equal(dead.headers["retry-after"], "1", "with retry advice");
  t.match(JSON.parse(dead.body), { error: { message: /./ } });

  const keyed = await request(`${base}/v1/messages`, {
    method: "POST",
    headers: { ...json, "anthropic-version": "2023-06-01" },
    body: JSON.stringify({ model: "keyed-anthropic", max_tokens: 5, messages: [{ role: "user", content: "x" }] }),
  });
  t.equal(keyed.status, 401);
  t.match(JSON.parse(keyed.body), { type: "error", error: { message: /RADIANT_TEST_UNSET_KEY/ } });
});

t.test("bad input: each provider's error shape and status", async (t) => {
  const notJson = await request(`${base}/v1/messages`, { method: "POST", headers: json, body: "{nope" });
  t.equal(notJson.status, 400);
  t.match(JSON.parse(notJson.body), { type: "error", error: { type: "invalid_request_error" } });
  const big = await request(`${base}/v1/chat/completions`, { method: "POST", headers: json, body: chatBody("x".repeat(70_000)) });
  t.equal(big.status, 413);
  t.match(JSON.parse(big.body), { error: { message: /Too Large/ } });
  const type = await request(`${base}/v1/chat/completions`, { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" });
  t.equal(type.status, 415);
  const array = await request(`${base}/v1/chat/completions`, { method: "POST", headers: json, body: "[]" });
  t.equal(array.status, 400);
  const noAlt = await request(`${base}/v1beta/models/echo-google:streamGenerateContent`, { method: "POST", headers: json, body: "{}" });
  t.equal(noAlt.status, 400);
  t.match(JSON.parse(noAlt.body), { error: { status: "INVALID_ARGUMENT" } });
  const method = await request(`${base}/v1beta/models/echo-google:countTokens`, { method: "POST", headers: json, body: "{}" });
  t.equal(method.status, 404);
  const badModel = await request(`${base}/v1beta/models/a%22b:generateContent`, { method: "POST", headers: json, body: "{}" });
  t.equal(badModel.status, 404);
  const badToken = await request(`${base}/v1/chat/completions`, { method: "POST", headers: { ...json, "radiant-resume-token": "x.y.z" }, body: chatBody("x") });
  t.equal(badToken.status, 401);
  const badId = await request(`${base}/v1/chat/completions`, { method: "POST", headers: { ...json, "last-event-id": "-1" }, body: chatBody("x") });
  t.equal(badId.status, 400);
  const noModel = await request(`${base}/v1/chat/completions`, { method: "POST", headers: json, body: JSON.stringify({ messages: [] }) });
  t.equal(noModel.status, 400);
});

t.test("hostile bodies and headers on every endpoint: always an answer in the provider's shape, never a 500, the gateway stays up", async (t) => {
  const paths = [
    "/v1/chat/completions",
    "/v1/responses",
    "/v1/messages",
    "/v1beta/models/echo-google:generateContent",
    "/v1/models/echo-google:generateContent",
  ];
  const bodies = fc.oneof(
    fc.json(),
    fc.string(),
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString("latin1")),
    fc
      .record({
        model: fc.constantFrom("echo-openai", "echo-anthropic", "echo-google", "x\u0000", "../../etc"),
        messages: fc.jsonValue(),
        stream: fc.jsonValue(),
      })
      .map((o) => JSON.stringify(o)),
    fc.record({ contents: fc.jsonValue(), model: fc.string() }).map((o) => JSON.stringify(o)),
  );
  const headers = fc.record({
    "last-event-id": fc.oneof(fc.constant(""), fc.string({ maxLength: 20 })),
    "radiant-resume-token": fc.oneof(fc.constant(""), fc.string({ maxLength: 40 })),
  });
  const samples = fc.sample(fc.tuple(fc.constantFrom(...paths), bodies, headers), { seed: 7, numRuns: 80 });
  for (const [path, body, h] of samples) {
    const clean = Object.fromEntries(Object.entries(h).filter(([, v]) => v !== "" && /^[\x21-\x7e]*$/.test(v)));
    const r = await request(`${base}${path}`, { method: "POST", headers: { ...json, ...clean }, body });
    t.ok(r.status >= 200 && r.status !== 500, `${path} ${JSON.stringify(body).slice(0, 60)} → ${r.status}`);
    if (r.status >= 400) t.doesNotThrow(() => JSON.parse(r.body), `an error body in JSON (${r.status})`);
  }
  t.equal((await stack.health()).code, 200, "still serving");
});

t.test("on a WebSocket session: each chunk a frame with its seq_num, tagged with the request's id", async (t) => {
  const c = await Client.connect(stack.wsUrl);
  await c.next();
  c.send({ id: "q1", model: "echo-anthropic", max_tokens: 50, stream: true, system: "x", messages: [{ role: "user", content: "one two three" }] });
  await eventually("message_stop", () => c.frames.some((f) => f.type === "message_stop"));
  const frames = c.frames.slice(1);
  const mine = frames.filter((f) => f.request_id === "q1");
  t.equal(mine.length, frames.length, "every frame names its request");
  const seqs = frames.map((f) => Number(f.seq_num));
  t.ok(
    seqs.every((s, i) => i === 0 || s > seqs[i - 1]!),
    "seq_num increases",
  );
  const text = frames
    .filter((f) => f.type === "content_block_delta")
    .map((f) => (f.delta as { text?: string }).text ?? "")
    .join("");
  t.equal(text, "one two three");

  // the Responses API: `input` without `messages`
  c.send({ id: 2, model: "echo-google", input: "four five", stream: true });
  await eventually("response.completed", () => c.frames.some((f) => f.request_id === 2 && f.type === "response.completed"));
  const deltas = c.frames.filter((f) => f.request_id === 2 && f.type === "response.output_text.delta").map((f) => f.delta);
  t.equal(deltas.join(""), "four five");
  t.equal(deltas.length, 2, "one delta per word");

  // cancelled with MCP's notification, by its id: the upstream call stops
  await faults("openai", [{ chunkDelayMs: 100 }]);
  const before = await echoStats("openai");
  c.send({ id: "long", model: "echo-openai", stream: true, messages: [{ role: "user", content: words(300) }] });
  await eventually("the first chunks", () => c.frames.filter((f) => f.request_id === "long").length >= 3);
  c.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: "long" } });
  await eventually("the upstream stream reset", async () => (await echoStats("openai")).aborted > before.aborted, 20_000);
  t.ok(c.frames.filter((f) => f.request_id === "long").length < 300, "stopped long before its 300 words");
  await c.close();
});

async function echoStats(format: "openai" | "anthropic" | "google"): Promise<{ aborted: number; requests: number }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${stack.echoUrls![format]}/_echo/stats`, { ca }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve(JSON.parse(body) as { aborted: number; requests: number }));
    });
    req.on("error", reject);
    req.end();
  });
}
