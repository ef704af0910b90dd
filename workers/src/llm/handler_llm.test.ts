// The LLM handler with a fake egress proxy: how a reply begins (its head),
// ends, and fails, in the client's own shape — the translations themselves are
// pinned by the golden files in translate/.
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import t from "tap";
import { ModelTable } from "@radiant/infra/models";
import { makeSessionId, type Operation, type Protocol } from "@radiant/wire";
import { captureLog } from "../../test/fakes.js";
import type { HandlerContext, Reply } from "../handler.js";
import type { UpstreamAnswer, UpstreamCall } from "./egress_client.js";
import { llmHandlers } from "./handler_llm.js";

const sid = makeSessionId("ltest1", randomBytes(16));
const models = new ModelTable([
  { match: "echo-openai", format: "openai", baseUrl: "https://127.0.0.1:1", keyEnv: null },
  { match: "echo-anthropic", format: "anthropic", baseUrl: "https://127.0.0.1:1", keyEnv: null },
  { match: "echo-google", format: "google", baseUrl: "https://127.0.0.1:1", keyEnv: null },
]);

interface Fake {
  status?: number;
  headers?: Record<string, string>;
  /** body pieces; an Error cuts the body there */
  body: (string | Error)[];
}

function answer(f: Fake): UpstreamAnswer {
  const body = Readable.from(
    (async function* () {
      for (const p of f.body) {
        if (p instanceof Error) throw p;
        yield Buffer.from(p);
      }
    })(),
  );
  return { status: f.status ?? 200, header: (n) => f.headers?.[n], body };
}

async function run(proto: Protocol, op: string, body: unknown, fake: Fake | Error, signal = new AbortController().signal) {
  const calls: UpstreamCall[] = [];
  const table = llmHandlers({
    models,
    egress: {
      call: async (c) => {
        calls.push(c);
        if (fake instanceof Error) throw fake;
        return answer(fake);
      },
    },
    now: () => 1700000000,
  });
  const h = (table as Record<string, Record<string, (r: unknown, c: HandlerContext) => AsyncIterable<Reply>>>)[proto]![op]!;
  const ctx: HandlerContext = { log: captureLog().log, working: () => {}, signal, cancelRequest: () => {}, committed: () => {} };
  const req = { body: Buffer.from(typeof body === "string" ? body : JSON.stringify(body)), sid, rid: "gx1", op: op as Operation, principal: "anonymous" };
  const out: Reply[] = [];
  let thrown: unknown;
  try {
    for await (const r of h(req, ctx)) out.push(r);
  } catch (e) {
    thrown = e;
  }
  return { out, calls, thrown, json: out.filter((r) => r.body.length > 0).map((r) => JSON.parse(r.body.toString()) as Record<string, unknown>) };
}

const chat = (extra: Record<string, unknown> = {}) => ({ model: "echo-openai", messages: [{ role: "user", content: "hi" }], ...extra });
const never: Fake = { body: [] };

t.test("refused before any call: no model, an unknown one, a body that is not an object — in the client's shape, with a status", async (t) => {
  const none = await run("openai", "chat", { messages: [] }, never);
  t.same(none.out[0]!.head, { status: 400, stream: false });
  t.ok(none.out[0]!.last);
  t.match(none.json[0], { error: { type: "invalid_request_error", message: /model/ } });
  const unknown = await run("anthropic", "messages", { model: "nope", max_tokens: 1, messages: [] }, never);
  t.same(unknown.out[0]!.head, { status: 404, stream: false });
  t.match(unknown.json[0], { type: "error", error: { type: "not_found_error" } });
  t.equal(unknown.out[0]!.event, undefined);
  const openaiUnknown = await run("openai", "chat", chat({ model: "nope" }), never);
  t.match(openaiUnknown.json[0], { error: { code: "model_not_found" } });
  const array = await run("google", "generate", "[1]", never);
  t.same(array.out[0]!.head?.status, 400);
  t.match(array.json[0], { error: { status: "INVALID_ARGUMENT" } });
  t.equal(none.calls.length + unknown.calls.length + array.calls.length, 0, "nothing was called");
});

t.test("a plain answer: one frame, head 200 json, last; the client's model and the request's id", async (t) => {
  const up = {
    id: "x",
    object: "chat.completion",
    created: 1,
    model: "upstream",
    choices: [{ index: 0, message: { role: "assistant", content: "hello" }, finish_reason: "stop" }],
  };
  const r = await run("openai", "chat", chat({ id: "q7" }), { body: [JSON.stringify(up)] });
  t.equal(r.out.length, 1);
  t.same(r.out[0]!.head, { status: 200, stream: false });
  t.ok(r.out[0]!.last);
  t.equal(r.json[0]!.request_id, "q7", "a session request's own id comes back first");
  t.equal(Object.keys(r.json[0]!)[0], "request_id");
  t.equal(r.calls[0]!.path, "/v1/chat/completions");
  t.equal(r.calls[0]!.model, "echo-openai");
  t.notOk(JSON.parse(r.calls[0]!.body!).id, "the id is ours: it does not go upstream");
});

t.test("a stream: the head on the first frame only, events as they come, an End marker after", async (t) => {
  const ev = (d: unknown) => `data: ${JSON.stringify(d)}\n\n`;
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
    id: "c",
    object: "chat.completion.chunk",
    created: 1,
    model: "up",
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
  const body = [
    ev(chunk({ role: "assistant", content: "" })),
    ev(chunk({ content: "a " })),
    `${ev(chunk({ content: "b" }))}${ev(chunk({}, "stop"))}`,
    "data: [DONE]\n\n",
  ];
  const r = await run("openai", "chat", chat({ stream: true }), { body, headers: { "content-type": "text/event-stream" } });
  const heads = r.out.map((x) => x.head);
  t.same(heads[0], { status: 200, stream: true });
  t.ok(
    heads.slice(1).every((h) => h === undefined),
    "only the first",
  );
  const last = r.out[r.out.length - 1]!;
  t.equal(last.body.length, 0, "an empty frame ends it (the writer's End marker)");
  t.ok(last.last);
  t.equal(r.json.map((j) => (j.choices as { delta: { content?: string } }[])[0]?.delta.content ?? "").join(""), "a b");
});

t.test("Google: the model comes from the body's last member, stream from the operation; neither goes upstream", async (t) => {
  const r = await run("google", "stream", '{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"model":"echo-google"}', { body: [] });
  t.equal(r.calls[0]!.path, "/v1beta/models/echo-google:streamGenerateContent?alt=sse");
  const sent = JSON.parse(r.calls[0]!.body!) as Record<string, unknown>;
  t.notOk("model" in sent);
  t.notOk("stream" in sent);
});

t.test("the proxy's refusals and the upstream's errors", async (t) => {
  const key = await run("openai", "chat", chat(), {
    status: 401,
    headers: { "radiant-error": "missing-key" },
    body: ['{"error":{"message":"no API key for model echo-openai: set OPENAI_API_KEY"}}'],
  });
  t.same(key.out[0]!.head, { status: 401, stream: false });
  t.match(key.json[0], { error: { message: /OPENAI_API_KEY/, type: "authentication_error" } });
  const open = await run(
    "anthropic",
    "messages",
    { model: "echo-anthropic", max_tokens: 5, messages: [{ role: "user", content: "x" }] },
    {
      status: 503,
      headers: { "radiant-error": "circuit-open", "retry-after": "7" },
      body: ['{"error":{"message":"circuit open"}}'],
    },
  );
  t.same(open.out[0]!.head, { status: 503, stream: false, retryAfter: "7" });
  const limited = await run("openai", "chat", chat(), {
    status: 429,
    headers: { "retry-after": "3" },
    body: ['{"error":{"message":"slow down","type":"rate_limit_error","param":null,"code":null}}'],
  });
  t.same(limited.out[0]!.head, { status: 429, stream: false, retryAfter: "3" });
  t.match(limited.json[0], { error: { message: "slow down" } });
  const down = await run("openai", "chat", chat(), new Error("ECONNREFUSED"));
  t.same(down.out[0]!.head, { status: 503, stream: false, retryAfter: "1" });
  const notJson = await run("openai", "chat", chat(), { body: ["<html>"] });
  t.same(notJson.out[0]!.head?.status, 502);
});

t.test("a stream cut mid-way throws (the run ends the answer 'interrupted'); a cancelled one stops quietly", async (t) => {
  const ev = (d: unknown) => `data: ${JSON.stringify(d)}\n\n`;
  const part = ev({ id: "c", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: { content: "a" }, finish_reason: null }] });
  const cut = await run("openai", "chat", chat({ stream: true }), { body: [part, new Error("socket hang up")] });
  t.ok(cut.out.length >= 1, "what came before the cut went out");
  t.match(cut.thrown, Error);
  const ac = new AbortController();
  ac.abort("client gone");
  const gone = await run("openai", "chat", chat({ stream: true }), new Error("aborted"), ac.signal);
  t.equal(gone.out.length, 0);
  t.equal(gone.thrown, undefined);
});

t.test("model lists in OpenAI's and Google's shapes", async (t) => {
  const o = await run("openai", "models", {}, never);
  t.match(o.json[0], { object: "list" });
  t.same(((o.json[0]!.data as { id: string }[]) ?? []).map((m) => m.id).sort(), ["echo-anthropic", "echo-google", "echo-openai"]);
  const g = await run("google", "models", {}, never);
  t.ok((g.json[0]!.models as { name: string }[]).some((m) => m.name === "models/echo-google"));
});
