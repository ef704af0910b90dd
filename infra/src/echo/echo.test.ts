// The echo upstreams over real TLS: each format plain and streamed (SSE read the
// way the SDKs read it), tool calls, usage, limits, faults, errors, the admin
// API and the stats, the official SDKs against them, and main.ts as a process.
import t from "tap";
import http2 from "node:http2";
import https from "node:https";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { Agent, fetch as undiciFetch } from "../../../workers/node_modules/undici/index.js";
import OpenAI from "../../../gateway/node_modules/openai/index.mjs";
import Anthropic from "../../../gateway/node_modules/@anthropic-ai/sdk/index.mjs";
import type * as GenAI from "../../../gateway/node_modules/@google/genai/dist/node/node.js";
import { selfSignedCert } from "./cert.js";
import { countWords, wordPieces } from "./echo_answer.js";
import { type EchoFormatName, type EchoServer, type Fault, MAX_BODY_BYTES, startEcho } from "./echo_server.js";

// the package's types sit beside its .mjs under another name: typed from node.d.ts, loaded from the file
const { GoogleGenAI } = (await import("../../../gateway/node_modules/@google/genai/dist/node/index.mjs" as string)) as typeof GenAI;

const dir = mkdtempSync(join(tmpdir(), "radiant-test-echo-"));
const cert = selfSignedCert(dir);
const servers: EchoServer[] = [];
const sessions: http2.ClientHttp2Session[] = [];
const agent = new Agent({ connect: { ca: cert.cert }, allowH2: true });
t.teardown(async () => {
  for (const s of sessions) s.destroy();
  await Promise.all(servers.map((s) => s.close()));
  await agent.close();
  rmSync(dir, { recursive: true, force: true });
});

async function echo(format: EchoFormatName, chunkDelayMs?: number): Promise<EchoServer> {
  const s = await startEcho({ format, cert, ...(chunkDelayMs !== undefined ? { chunkDelayMs } : {}) });
  servers.push(s);
  return s;
}

const [openai, anthropic, google] = await Promise.all([echo("openai"), echo("anthropic"), echo("google")]);

// ---- an HTTP/2 client, and SSE read as the SDKs read it ----

function connect(url: string): http2.ClientHttp2Session {
  const s = http2.connect(url, { ca: cert.cert });
  s.on("error", () => {});
  sessions.push(s);
  return s;
}

interface Got {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: string;
  /** the stream ended cleanly (END_STREAM), not reset */
  ended: boolean;
  rstCode: number;
  /** when each piece of the body arrived, ms after the request */
  arrivals: number[];
  ms: number;
}

interface Call {
  method?: string;
  headers?: Record<string, string>;
  body?: unknown;
}

const sessionFor = new Map<string, http2.ClientHttp2Session>();
function shared(url: string): http2.ClientHttp2Session {
  let s = sessionFor.get(url);
  if (!s || s.closed || s.destroyed) sessionFor.set(url, (s = connect(url)));
  return s;
}

function call(url: string, path: string, c: Call = {}, session = shared(url)): Promise<Got> {
  const start = Date.now();
  return new Promise((resolve) => {
    const req = session.request({
      ":method": c.method ?? (c.body === undefined ? "GET" : "POST"),
      ":path": path,
      "content-type": "application/json",
      ...c.headers,
    });
    const got: Got = { status: 0, headers: {}, body: "", ended: false, rstCode: 0, arrivals: [], ms: 0 };
    req.setEncoding("utf8");
    req.on("response", (h) => {
      got.status = Number(h[":status"]);
      got.headers = h;
    });
    req.on("data", (d: string) => {
      got.body += d;
      got.arrivals.push(Date.now() - start);
    });
    req.on("end", () => (got.ended = true));
    req.on("error", () => {});
    req.on("close", () => {
      got.rstCode = req.rstCode ?? 0;
      got.ms = Date.now() - start;
      resolve(got);
    });
    req.end(c.body === undefined ? undefined : typeof c.body === "string" ? c.body : JSON.stringify(c.body));
  });
}

interface SseEvent {
  event: string | null;
  data: string;
}

/** Events split on blank lines (\n\n, \r\r or \r\n\r\n), `event:`/`data:` fields, as the SDKs' decoders do. */
function sse(body: string): SseEvent[] {
  const out: SseEvent[] = [];
  for (const block of body.split(/\r\n\r\n|\n\n|\r\r/)) {
    if (block.trim() === "") continue;
    let event: string | null = null;
    const data: string[] = [];
    for (const line of block.split(/\r\n|\n|\r/)) {
      if (line.startsWith(":")) continue;
      const i = line.indexOf(":");
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
      if (field === "event") event = value;
      if (field === "data") data.push(value);
    }
    out.push({ event, data: data.join("\n") });
  }
  return out;
}

const parse = (s: string): unknown => JSON.parse(s);
/** The value at a dotted path in parsed JSON: names pick fields, numbers pick items (-1 the last). */
function at(v: unknown, path: string): unknown {
  let cur = v;
  for (const k of path.split(".")) {
    if (Array.isArray(cur)) cur = cur.at(Number(k));
    else if (typeof cur === "object" && cur !== null) cur = (cur as Record<string, unknown>)[k];
    else return undefined;
  }
  return cur;
}
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const datas = (g: Got): unknown[] =>
  sse(g.body)
    .filter((e) => e.data !== "[DONE]")
    .map((e) => parse(e.data));

const TEXT = "The quick  brown fox\tjumps over the lazy dog. ";
const WORDS = [...wordPieces(TEXT)];
const AV = { "anthropic-version": "2023-06-01" };
const WEATHER_ARGS = { city: "Paris", unit: "celsius", days: [1, 2, 3], note: "a b c" };
const CALL_TEXT = `call get_weather ${JSON.stringify(WEATHER_ARGS, null, 1)}`;

const chat = (extra: Record<string, unknown> = {}, text = TEXT) => ({
  model: "echo-openai",
  messages: [
    { role: "system", content: "Be brief." },
    { role: "user", content: "earlier words" },
    { role: "assistant", content: "ok" },
    { role: "user", content: text },
  ],
  ...extra,
});
const OPENAI_TOOLS = [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }];
const messages = (extra: Record<string, unknown> = {}, text = TEXT) => ({
  model: "echo-anthropic",
  max_tokens: 1000,
  system: "Be brief.",
  messages: [
    { role: "user", content: [{ type: "text", text: "earlier words" }] },
    { role: "assistant", content: "ok" },
    { role: "user", content: text },
  ],
  ...extra,
});
const ANTHROPIC_TOOLS = [{ name: "get_weather", input_schema: { type: "object" } }];
const contents = (extra: Record<string, unknown> = {}, text = TEXT) => ({
  systemInstruction: { parts: [{ text: "Be brief." }] },
  contents: [
    { role: "user", parts: [{ text: "earlier words" }] },
    { role: "model", parts: [{ text: "ok" }] },
    { role: "user", parts: [{ text }] },
  ],
  ...extra,
});
const GOOGLE_TOOLS = [{ functionDeclarations: [{ name: "get_weather", parameters: { type: "OBJECT" } }] }];
// "Be brief." + "earlier words" + "ok" + TEXT
const INPUT_WORDS = 2 + 2 + 1 + countWords(TEXT);

t.test("word pieces: one word each, whitespace kept, joined they are the text", async (t) => {
  t.same(WORDS, ["The", " quick", "  brown", " fox", "\tjumps", " over", " the", " lazy", " dog. "]);
  t.equal(WORDS.join(""), TEXT);
  t.same([...wordPieces("  lead and trail  ")], ["  lead", " and", " trail  "]);
  t.same([...wordPieces("   ")], []);
});

t.test("OpenAI chat completions", async (t) => {
  t.test("plain", async (t) => {
    const g = await call(openai.url, "/v1/chat/completions", { body: chat() });
    t.equal(g.status, 200);
    t.match(g.headers["content-type"], /^application\/json/);
    const b = parse(g.body);
    t.match(b, { object: "chat.completion", model: "echo-openai", choices: [{ index: 0, finish_reason: "stop", logprobs: null }] });
    t.match(at(b, "id"), /^chatcmpl-/);
    t.same(at(b, "choices.0.message"), { role: "assistant", content: TEXT, refusal: null, annotations: [] });
    t.match(at(b, "usage"), { prompt_tokens: INPUT_WORDS, completion_tokens: WORDS.length, total_tokens: INPUT_WORDS + WORDS.length });
  });

  t.test("streamed, with include_usage: chunks exactly as OpenAI sends them", async (t) => {
    const g = await call(openai.url, "/v1/chat/completions", { body: chat({ stream: true, stream_options: { include_usage: true } }) });
    t.equal(g.status, 200);
    t.match(g.headers["content-type"], /^text\/event-stream/);
    const events = sse(g.body);
    t.ok(
      events.every((e) => e.event === null),
      "no event names",
    );
    t.equal(events.at(-1)?.data, "[DONE]", "ends with [DONE]");
    const chunks = datas(g);
    t.equal(new Set(chunks.map((c) => at(c, "id"))).size, 1, "one id");
    t.equal(new Set(chunks.map((c) => at(c, "created"))).size, 1, "one created");
    t.ok(
      chunks.every((c) => at(c, "object") === "chat.completion.chunk"),
      "chunk objects",
    );
    t.same(at(chunks[0], "choices.0.delta"), { role: "assistant", content: "", refusal: null }, "first delta has the role");
    const words = chunks.slice(1, -2).map((c) => at(c, "choices.0.delta.content"));
    t.same(words, WORDS, "every word once, in order");
    t.equal(words.join(""), TEXT);
    t.same(at(chunks.at(-2), "choices.0"), { index: 0, delta: {}, logprobs: null, finish_reason: "stop" });
    t.ok(
      chunks.slice(0, -1).every((c) => at(c, "usage") === null),
      "usage:null on every chunk but the last",
    );
    t.same(at(chunks.at(-1), "choices"), [], "the last has no choices");
    t.match(at(chunks.at(-1), "usage"), { prompt_tokens: INPUT_WORDS, completion_tokens: WORDS.length, total_tokens: INPUT_WORDS + WORDS.length });
  });

  t.test("streamed without include_usage: no usage field at all", async (t) => {
    const g = await call(openai.url, "/v1/chat/completions", { body: chat({ stream: true }) });
    const chunks = datas(g);
    t.ok(chunks.every((c) => at(c, "usage") === undefined));
    t.equal(chunks.length, WORDS.length + 2);
  });

  t.test("max_tokens / max_completion_tokens cut the answer: finish length", async (t) => {
    const plain = parse((await call(openai.url, "/v1/chat/completions", { body: chat({ max_tokens: 3 }) })).body);
    t.equal(at(plain, "choices.0.message.content"), WORDS.slice(0, 3).join(""));
    t.equal(at(plain, "choices.0.finish_reason"), "length");
    t.equal(at(plain, "usage.completion_tokens"), 3);
    const g = await call(openai.url, "/v1/chat/completions", { body: chat({ max_completion_tokens: 2, stream: true }) });
    const chunks = datas(g);
    t.same(
      chunks.slice(1, -1).map((c) => at(c, "choices.0.delta.content")),
      WORDS.slice(0, 2),
    );
    t.equal(at(chunks.at(-1), "choices.0.finish_reason"), "length");
  });

  t.test("tool call, plain and streamed", async (t) => {
    const plain = parse((await call(openai.url, "/v1/chat/completions", { body: chat({ tools: OPENAI_TOOLS }, CALL_TEXT) })).body);
    t.equal(at(plain, "choices.0.finish_reason"), "tool_calls");
    const msg = at(plain, "choices.0.message");
    t.equal(at(msg, "content"), null);
    t.match(at(msg, "tool_calls"), [{ type: "function", function: { name: "get_weather" } }]);
    t.match(at(msg, "tool_calls.0.id"), /^call_/);
    t.same(JSON.parse(String(at(msg, "tool_calls.0.function.arguments"))), WEATHER_ARGS);
    t.equal(at(plain, "usage.completion_tokens"), 1);

    const chunks = datas(await call(openai.url, "/v1/chat/completions", { body: chat({ tools: OPENAI_TOOLS, stream: true }, CALL_TEXT) }));
    t.match(at(chunks[0], "choices.0.delta"), {
      role: "assistant",
      tool_calls: [{ index: 0, type: "function", function: { name: "get_weather", arguments: "" } }],
    });
    const args = chunks.slice(1, -1).map((c) => at(c, "choices.0.delta.tool_calls.0.function.arguments") as string);
    t.ok(
      args.slice(0, -1).every((a) => a.length === 8),
      "pieces of 8 characters",
    );
    t.equal(args.join(""), JSON.stringify(WEATHER_ARGS));
    t.equal(at(chunks.at(-1), "choices.0.finish_reason"), "tool_calls");
  });

  t.test("no tool call when the tool is not defined, or a tool result already answered it", async (t) => {
    const undefinedTool = parse((await call(openai.url, "/v1/chat/completions", { body: chat({ tools: OPENAI_TOOLS }, "call other {}") })).body);
    t.equal(at(undefinedTool, "choices.0.message.content"), "call other {}");
    const noTools = parse((await call(openai.url, "/v1/chat/completions", { body: chat({}, CALL_TEXT) })).body);
    t.equal(at(noTools, "choices.0.message.content"), CALL_TEXT);
    const body = chat({ tools: OPENAI_TOOLS }, CALL_TEXT);
    body.messages.push(
      { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "get_weather", arguments: "{}" } }] } as never,
      { role: "tool", tool_call_id: "c1", content: "sunny" } as never,
    );
    const answered = parse((await call(openai.url, "/v1/chat/completions", { body })).body);
    t.equal(at(answered, "choices.0.finish_reason"), "stop");
    t.equal(at(answered, "choices.0.message.content"), CALL_TEXT, "the last user text, not the tool result");
  });

  t.test("text parts are joined; images are not text", async (t) => {
    const body = {
      model: "m",
      messages: [
        { role: "user", content: "older" },
        {
          role: "user",
          content: [
            { type: "text", text: "one " },
            { type: "image_url", image_url: { url: "data:," } },
            { type: "text", text: "two" },
          ],
        },
      ],
    };
    t.equal(at(parse((await call(openai.url, "/v1/chat/completions", { body })).body), "choices.0.message.content"), "one two");
  });
});

t.test("OpenAI Responses API", async (t) => {
  const req = (extra: Record<string, unknown> = {}, text = TEXT) => ({
    model: "echo-openai",
    instructions: "Be brief.",
    input: [
      { role: "user", content: "earlier words" },
      { role: "assistant", content: "ok" },
      { type: "message", role: "user", content: [{ type: "input_text", text }] },
    ],
    ...extra,
  });

  t.test("plain", async (t) => {
    const b = parse((await call(openai.url, "/v1/responses", { body: req() })).body);
    t.match(b, { object: "response", status: "completed", model: "echo-openai", instructions: "Be brief.", error: null, incomplete_details: null });
    t.match(at(b, "output"), [{ type: "message", role: "assistant", status: "completed", content: [{ type: "output_text", text: TEXT, annotations: [] }] }]);
    t.match(at(b, "usage"), { input_tokens: INPUT_WORDS, output_tokens: WORDS.length, total_tokens: INPUT_WORDS + WORDS.length });
    const s = parse((await call(openai.url, "/v1/responses", { body: { model: "m", input: "just a string" } })).body);
    t.equal(at(s, "output.0.content.0.text"), "just a string");
  });

  t.test("streamed: the event sequence, named, numbered", async (t) => {
    const g = await call(openai.url, "/v1/responses", { body: req({ stream: true }) });
    const events = sse(g.body);
    const types = events.map((e) => e.event);
    t.same(types, [
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      ...WORDS.map(() => "response.output_text.delta"),
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    const data = events.map((e) => parse(e.data));
    t.same(
      data.map((d) => at(d, "type")),
      types,
      "event: equals the type",
    );
    t.same(
      data.map((d) => at(d, "sequence_number")),
      data.map((_, i) => i),
      "sequence numbers",
    );
    const deltas = data.filter((d) => at(d, "type") === "response.output_text.delta");
    t.same(
      deltas.map((d) => at(d, "delta")),
      WORDS,
    );
    t.equal(
      at(
        data.find((d) => at(d, "type") === "response.output_text.done"),
        "text",
      ),
      TEXT,
    );
    t.equal(at(data.at(-1), "response.output.0.content.0.text"), TEXT);
    t.match(at(data.at(-1), "response.usage"), { input_tokens: INPUT_WORDS, output_tokens: WORDS.length });
    t.equal(at(data[0], "response.status"), "in_progress");
  });

  t.test("max_output_tokens: incomplete", async (t) => {
    const b = parse((await call(openai.url, "/v1/responses", { body: req({ max_output_tokens: 2 }) })).body);
    t.equal(at(b, "status"), "incomplete");
    t.same(at(b, "incomplete_details"), { reason: "max_output_tokens" });
    t.equal(at(b, "output.0.content.0.text"), WORDS.slice(0, 2).join(""));
    const events = sse((await call(openai.url, "/v1/responses", { body: req({ max_output_tokens: 2, stream: true }) })).body);
    t.equal(events.at(-1)?.event, "response.incomplete");
  });

  t.test("function calls, plain and streamed", async (t) => {
    const tools = [{ type: "function", name: "get_weather", parameters: { type: "object" } }];
    const b = parse((await call(openai.url, "/v1/responses", { body: req({ tools }, CALL_TEXT) })).body);
    t.match(at(b, "output"), [{ type: "function_call", name: "get_weather", status: "completed" }]);
    t.same(JSON.parse(String(at(b, "output.0.arguments"))), WEATHER_ARGS);
    t.match(at(b, "output.0.call_id"), /^call_/);
    const data = sse((await call(openai.url, "/v1/responses", { body: req({ tools, stream: true }, CALL_TEXT) })).body).map((e) => parse(e.data));
    const types = data.map((d) => at(d, "type"));
    t.equal(types[2], "response.output_item.added");
    t.match(at(data[2], "item"), { type: "function_call", name: "get_weather", arguments: "" });
    const deltas = data.filter((d) => at(d, "type") === "response.function_call_arguments.delta").map((d) => at(d, "delta"));
    t.equal(deltas.join(""), JSON.stringify(WEATHER_ARGS));
    t.match(
      data.find((d) => at(d, "type") === "response.function_call_arguments.done"),
      { arguments: JSON.stringify(WEATHER_ARGS), name: "get_weather" },
    );
    t.same(types.slice(-2), ["response.output_item.done", "response.completed"]);
  });
});

t.test("GET /v1/models", async (t) => {
  t.match(parse((await call(openai.url, "/v1/models")).body), { object: "list", data: [{ id: "echo-openai", object: "model" }] });
  t.match(parse((await call(anthropic.url, "/v1/models", { headers: AV })).body), { data: [{ id: "echo-anthropic", type: "model" }], has_more: false });
  t.match(parse((await call(google.url, "/v1beta/models")).body), { models: [{ name: "models/echo-google" }] });
  t.equal((await call(google.url, "/v1/models", { headers: { "x-goog-api-key": "k" } })).status, 200, "/v1/models for a Google client");
  t.equal((await call(google.url, "/v1/models")).status, 404, "not for anyone else");
});

t.test("Anthropic messages", async (t) => {
  t.test("plain", async (t) => {
    const g = await call(anthropic.url, "/v1/messages", { headers: AV, body: messages() });
    t.equal(g.status, 200);
    t.ok(g.headers["request-id"], "request-id header");
    const b = parse(g.body);
    t.match(b, { type: "message", role: "assistant", model: "echo-anthropic", stop_reason: "end_turn", stop_sequence: null });
    t.same(at(b, "content"), [{ type: "text", text: TEXT, citations: null }]);
    t.match(at(b, "usage"), { input_tokens: INPUT_WORDS, output_tokens: WORDS.length });
  });

  t.test("streamed: every event named by its type, in order", async (t) => {
    const g = await call(anthropic.url, "/v1/messages", { headers: AV, body: messages({ stream: true }) });
    t.match(g.headers["content-type"], /^text\/event-stream/);
    const events = sse(g.body);
    const data = events.map((e) => parse(e.data));
    t.same(
      events.map((e) => e.event),
      data.map((d) => at(d, "type")),
      "event: equals type",
    );
    t.same(
      events.map((e) => e.event),
      ["message_start", "content_block_start", "ping", ...WORDS.map(() => "content_block_delta"), "content_block_stop", "message_delta", "message_stop"],
    );
    t.match(at(data[0], "message"), { type: "message", role: "assistant", content: [], stop_reason: null, usage: { input_tokens: INPUT_WORDS } });
    t.same(data[1], { type: "content_block_start", index: 0, content_block: { type: "text", text: "", citations: null } });
    const words = data.filter((d) => at(d, "type") === "content_block_delta").map((d) => at(d, "delta.text"));
    t.same(words, WORDS);
    t.match(data.at(-2), { delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: WORDS.length } });
  });

  t.test("max_tokens smaller than the answer: stop_reason max_tokens", async (t) => {
    const b = parse((await call(anthropic.url, "/v1/messages", { headers: AV, body: messages({ max_tokens: 4 }) })).body);
    t.equal(at(b, "stop_reason"), "max_tokens");
    t.equal(at(b, "content.0.text"), WORDS.slice(0, 4).join(""));
    t.equal(at(b, "usage.output_tokens"), 4);
  });

  t.test("tool use, plain and streamed", async (t) => {
    const b = parse((await call(anthropic.url, "/v1/messages", { headers: AV, body: messages({ tools: ANTHROPIC_TOOLS }, CALL_TEXT) })).body);
    t.equal(at(b, "stop_reason"), "tool_use");
    t.match(at(b, "content"), [{ type: "tool_use", name: "get_weather", input: WEATHER_ARGS }]);
    t.match(at(b, "content.0.id"), /^toolu_/);
    const data = datas(await call(anthropic.url, "/v1/messages", { headers: AV, body: messages({ tools: ANTHROPIC_TOOLS, stream: true }, CALL_TEXT) }));
    t.match(at(data[1], "content_block"), { type: "tool_use", name: "get_weather", input: {} });
    const parts = data.filter((d) => at(d, "type") === "content_block_delta").map((d) => at(d, "delta"));
    t.ok(parts.every((p) => at(p, "type") === "input_json_delta"));
    t.same(JSON.parse(parts.map((p) => at(p, "partial_json")).join("")), WEATHER_ARGS);
    t.match(data.at(-2), { delta: { stop_reason: "tool_use" }, usage: { output_tokens: 1 } });
  });

  t.test("tool results are not user text", async (t) => {
    const body = messages({ tools: ANTHROPIC_TOOLS }, CALL_TEXT);
    body.messages.push(
      { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "get_weather", input: {} }] } as never,
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "sunny and warm" }] } as never,
    );
    const b = parse((await call(anthropic.url, "/v1/messages", { headers: AV, body })).body);
    t.equal(at(b, "stop_reason"), "end_turn");
    t.equal(at(b, "content.0.text"), CALL_TEXT);
    t.equal(at(b, "usage.input_tokens"), INPUT_WORDS - countWords(TEXT) + countWords(CALL_TEXT) + 3, "the tool result's words count as input");
  });

  t.test("the headers and fields the real API insists on", async (t) => {
    const noVersion = await call(anthropic.url, "/v1/messages", { body: messages() });
    t.equal(noVersion.status, 400);
    t.match(parse(noVersion.body), { type: "error", error: { type: "invalid_request_error", message: /anthropic-version/ } });
    t.ok(noVersion.headers["request-id"]);
    const body = messages();
    delete (body as Partial<typeof body>).max_tokens;
    const noMax = await call(anthropic.url, "/v1/messages", { headers: AV, body });
    t.equal(noMax.status, 400);
    t.match(parse(noMax.body), { type: "error", error: { type: "invalid_request_error", message: /max_tokens/ } });
  });
});

t.test("Google generateContent", async (t) => {
  t.test("plain, under /v1beta/ and /v1/", async (t) => {
    for (const v of ["v1beta", "v1"]) {
      const g = await call(google.url, `/${v}/models/echo-google:generateContent`, { body: contents() });
      t.equal(g.status, 200, v);
      const b = parse(g.body);
      t.match(b, { candidates: [{ index: 0, finishReason: "STOP", content: { role: "model", parts: [{ text: TEXT }] } }], modelVersion: "echo-google" });
      t.match(at(b, "usageMetadata"), { promptTokenCount: INPUT_WORDS, candidatesTokenCount: WORDS.length, totalTokenCount: INPUT_WORDS + WORDS.length });
    }
  });

  t.test("streamed with alt=sse: data-only events ended by CRLF CRLF, no terminator", async (t) => {
    const g = await call(google.url, "/v1beta/models/echo-google:streamGenerateContent?alt=sse", { body: contents() });
    t.match(g.headers["content-type"], /^text\/event-stream/);
    t.match(g.body, /^data: [^\r\n]+\r\n\r\n(data: [^\r\n]+\r\n\r\n)*$/, "the framing Google's readers match");
    const events = sse(g.body);
    t.ok(events.every((e) => e.event === null));
    const chunks = events.map((e) => parse(e.data));
    t.same(
      chunks.map((c) => at(c, "candidates.0.content.parts.0.text")),
      WORDS,
    );
    t.ok(
      chunks.slice(0, -1).every((c) => at(c, "candidates.0.finishReason") === undefined),
      "finishReason only on the last",
    );
    t.equal(at(chunks.at(-1), "candidates.0.finishReason"), "STOP");
    t.match(at(chunks.at(-1), "usageMetadata"), { promptTokenCount: INPUT_WORDS, candidatesTokenCount: WORDS.length });
  });

  t.test("streamed without alt=sse: one JSON array", async (t) => {
    const g = await call(google.url, "/v1/models/echo-google:streamGenerateContent", { body: contents() });
    const arr = list(parse(g.body));
    t.equal(arr.map((c) => at(c, "candidates.0.content.parts.0.text")).join(""), TEXT);
  });

  t.test("maxOutputTokens: MAX_TOKENS", async (t) => {
    const b = parse((await call(google.url, "/v1beta/models/m:generateContent", { body: contents({ generationConfig: { maxOutputTokens: 5 } }) })).body);
    t.equal(at(b, "candidates.0.finishReason"), "MAX_TOKENS");
    t.equal(at(b, "candidates.0.content.parts.0.text"), WORDS.slice(0, 5).join(""));
    const chunks = datas(
      await call(google.url, "/v1beta/models/m:streamGenerateContent?alt=sse", { body: contents({ generationConfig: { maxOutputTokens: 2 } }) }),
    );
    t.equal(chunks.length, 2);
    t.equal(at(chunks[1], "candidates.0.finishReason"), "MAX_TOKENS");
  });

  t.test("function calls", async (t) => {
    const b = parse((await call(google.url, "/v1beta/models/m:generateContent", { body: contents({ tools: GOOGLE_TOOLS }, CALL_TEXT) })).body);
    t.same(at(b, "candidates.0.content.parts"), [{ functionCall: { name: "get_weather", args: WEATHER_ARGS } }]);
    t.equal(at(b, "candidates.0.finishReason"), "STOP");
    const chunks = datas(await call(google.url, "/v1beta/models/m:streamGenerateContent?alt=sse", { body: contents({ tools: GOOGLE_TOOLS }, CALL_TEXT) }));
    t.equal(chunks.length, 1, "one chunk with the whole call");
    t.same(at(chunks[0], "candidates.0.content.parts"), [{ functionCall: { name: "get_weather", args: WEATHER_ARGS } }]);
  });
});

t.test("errors: each format's body and status", async (t) => {
  t.test("no user text: 400", async (t) => {
    const o = await call(openai.url, "/v1/chat/completions", { body: { model: "m", messages: [{ role: "system", content: "x" }] } });
    t.equal(o.status, 400);
    t.match(parse(o.body), { error: { message: String, type: "invalid_request_error", param: "messages", code: null } });
    const a = await call(anthropic.url, "/v1/messages", {
      headers: AV,
      body: { model: "m", max_tokens: 10, messages: [{ role: "user", content: [{ type: "image", source: {} }] }] },
    });
    t.equal(a.status, 400);
    t.match(parse(a.body), { type: "error", error: { type: "invalid_request_error", message: String } });
    const g = await call(google.url, "/v1beta/models/m:generateContent", { body: { contents: [{ role: "user", parts: [{ text: "  " }] }] } });
    t.equal(g.status, 400);
    t.same(Object.keys(at(parse(g.body), "error") as object).sort(), ["code", "details", "message", "status"]);
    t.match(parse(g.body), { error: { code: 400, status: "INVALID_ARGUMENT", details: [] } });
  });

  t.test("malformed JSON: 400", async (t) => {
    for (const [url, path, headers] of [
      [openai.url, "/v1/chat/completions", {}],
      [anthropic.url, "/v1/messages", AV],
      [google.url, "/v1beta/models/m:generateContent", {}],
    ] as const) {
      const g = await call(url, path, { headers, body: '{"model": ' });
      t.equal(g.status, 400, path);
    }
    t.match(parse((await call(openai.url, "/v1/chat/completions", { body: "[" })).body), { error: { type: "invalid_request_error" } });
  });

  t.test("unknown requests: 404 in the format's shape", async (t) => {
    const o = await call(openai.url, "/v1/nothing", { body: {} });
    t.equal(o.status, 404);
    t.match(parse(o.body), { error: { message: "Invalid URL (POST /v1/nothing)", type: "invalid_request_error", param: null, code: null } });
    const a = await call(anthropic.url, "/v2/messages", { headers: AV, body: {} });
    t.equal(a.status, 404);
    t.match(parse(a.body), { type: "error", error: { type: "not_found_error" } });
    const g = await call(google.url, "/v1beta/models/m:countTokens", { body: {} });
    t.equal(g.status, 404);
    t.match(parse(g.body), { error: { code: 404, status: "NOT_FOUND", details: [] } });
  });

  t.test("bodies over 32 MiB: 413, by content-length or by counting", async (t) => {
    // a declared length too big is refused at once, while the client is still sending
    const declared = await new Promise<{ status: number; body: string }>((resolve) => {
      const req = shared(openai.url).request({ ":method": "POST", ":path": "/v1/chat/completions", "content-length": String(MAX_BODY_BYTES + 1) });
      let status = 0;
      let body = "";
      req.setEncoding("utf8");
      req.on("response", (h) => (status = Number(h[":status"])));
      req.on("data", (d: string) => (body += d));
      req.on("error", () => {});
      req.on("close", () => resolve({ status, body }));
      req.write("{");
    });
    t.equal(declared.status, 413);
    t.match(parse(declared.body), { error: { type: "invalid_request_error" } });
    const big = `{"model":"m","messages":[{"role":"user","content":"${"x".repeat(MAX_BODY_BYTES)}"}]}`;
    const counted = await call(anthropic.url, "/v1/messages", { headers: AV, body: big });
    t.equal(counted.status, 413);
    t.match(parse(counted.body), { type: "error", error: { type: "request_too_large" } });
    t.equal((await call(anthropic.url, "/v1/models", { headers: AV })).status, 200, "the session carries on");
  });

  t.test("hostile bodies get 400s, never a crash", async (t) => {
    const bodies = [
      "null",
      "[]",
      "12",
      '"str"',
      "{}",
      '{"model":1,"messages":[]}',
      '{"model":"m","messages":"x"}',
      '{"model":"m","messages":[null,1,"x"]}',
      '{"model":"m","messages":[{"role":"user","content":{"a":1}}]}',
      '{"model":"m","max_tokens":-1,"messages":[{"role":"user","content":"hi"}]}',
      '{"model":"m","max_tokens":1.5,"messages":[{"role":"user","content":"hi"}]}',
      '{"model":"m","max_tokens":"9","messages":[{"role":"user","content":"hi"}]}',
      '{"model":"m","stream":"yes","messages":[{"role":"user","content":"hi"}]}',
      '{"model":"m","input":[1,2]}',
      '{"contents":[{"parts":"x"}]}',
      '{"contents":{"parts":[]}}',
      `{"model":"m","messages":[{"role":"user","content":"call get_weather ${"[".repeat(100_000)}"}],"tools":[]}`,
    ];
    const urls = [
      [openai.url, "/v1/chat/completions", {}],
      [openai.url, "/v1/responses", {}],
      [anthropic.url, "/v1/messages", AV],
      [google.url, "/v1beta/models/m:streamGenerateContent?alt=sse", {}],
    ] as const;
    for (const [url, path, headers] of urls) {
      for (const body of bodies) {
        const g = await call(url, path, { headers, body });
        t.ok(g.status === 400 || g.status === 200, `${path} ${body.slice(0, 60)} → ${g.status}`);
        if (g.status === 400) t.doesNotThrow(() => parse(g.body));
      }
    }
    // deep nesting in tool arguments with the tool defined: parsed, or echoed when too deep to print again
    const deep = `call get_weather {"a":${"[".repeat(5000)}${"]".repeat(5000)}}`;
    const g = await call(openai.url, "/v1/chat/completions", { body: chat({ tools: OPENAI_TOOLS }, deep) });
    t.equal(g.status, 200);
    // a value the answer repeats but cannot be printed again: the format's 500, not a crash
    const tooDeep = await call(openai.url, "/v1/responses", { body: `{"model":"m","input":"hi","tools":${"[".repeat(1e6)}${"]".repeat(1e6)}}` });
    t.equal(tooDeep.status, 500);
    t.match(parse(tooDeep.body), { error: { type: "server_error" } });
    t.equal((await call(openai.url, "/v1/models")).status, 200, "still serving");
  });
});

t.test("faults", async (t) => {
  const s = await echo("openai");
  const a = await echo("anthropic");
  const g = await echo("google");
  const ask = (stream = false) => call(s.url, "/v1/chat/completions", { body: chat(stream ? { stream: true } : {}) });

  t.test("a status answers with the format's error body; 429 carries Retry-After; then back to normal", async (t) => {
    s.setFaults([{ status: 429 }, { status: 503, retryAfter: "7" }]);
    const r1 = await ask();
    t.equal(r1.status, 429);
    t.equal(r1.headers["retry-after"], "1");
    t.match(parse(r1.body), { error: { type: "requests", code: "rate_limit_exceeded", message: String, param: null } });
    const r2 = await ask();
    t.equal(r2.status, 503);
    t.equal(r2.headers["retry-after"], "7");
    t.match(parse(r2.body), { error: { type: "server_error" } });
    t.equal((await ask()).status, 200, "faults used up");

    a.setFaults([{ status: 529 }, { status: 429 }]);
    const ra = await call(a.url, "/v1/messages", { headers: AV, body: messages() });
    t.equal(ra.status, 529);
    t.match(parse(ra.body), { type: "error", error: { type: "overloaded_error", message: "Overloaded" } });
    t.ok(ra.headers["request-id"]);
    const ra2 = await call(a.url, "/v1/messages", { headers: AV, body: messages() });
    t.match(parse(ra2.body), { type: "error", error: { type: "rate_limit_error" } });
    t.ok(ra2.headers["retry-after"]);

    g.setFaults([{ status: 429 }]);
    const rg = await call(g.url, "/v1beta/models/m:streamGenerateContent?alt=sse", { body: contents() });
    t.equal(rg.status, 429);
    t.same(parse(rg.body), { error: { code: 429, message: at(parse(rg.body), "error.message"), status: "RESOURCE_EXHAUSTED", details: [] } });
  });

  t.test("a body of one's own (alone: under a 200); any status, 2xx too", async (t) => {
    s.setFaults([{ status: 500, body: "oops" }, { body: '{"not":"a completion"}' }, { status: 200 }, { status: 204 }]);
    const r1 = await ask();
    t.equal(r1.status, 500);
    t.equal(r1.body, "oops");
    const r2 = await ask();
    t.equal(r2.status, 200);
    t.same(parse(r2.body), { not: "a completion" });
    const r3 = await ask();
    t.equal(r3.status, 200);
    t.match(parse(r3.body), { error: { message: String } }, "an error body under a 200, as some upstreams send");
    const r4 = await ask(true);
    t.equal(r4.status, 204);
    t.equal(r4.body, "", "no body where the status allows none");
    t.ok(r4.ended);
  });

  t.test("delayMs holds the response head back", async (t) => {
    s.setFaults([{ delayMs: 300 }]);
    const r = await ask();
    t.equal(r.status, 200);
    t.ok(r.ms >= 280, `took ${r.ms} ms`);
    t.ok((await ask()).ms < 250, "the next is on time");
  });

  t.test("chunkDelayMs spaces the chunks; the server option does the same for every stream", async (t) => {
    s.setFaults([{ chunkDelayMs: 40 }]);
    const r = await ask(true);
    t.equal(datas(r).length, WORDS.length + 2);
    t.ok(r.ms >= 40 * (WORDS.length + 2), `took ${r.ms} ms`);
    t.ok(r.arrivals.length >= WORDS.length, "arrived in pieces");
    const slow = await echo("google", 30);
    const rs = await call(slow.url, "/v1beta/models/m:streamGenerateContent?alt=sse", { body: contents() });
    t.ok(rs.ms >= 30 * (WORDS.length - 1), `took ${rs.ms} ms`);
  });

  t.test("cutAfterChunks: that many events, then the stream is reset", async (t) => {
    s.setFaults([{ cutAfterChunks: 3 }]);
    const r = await ask(true);
    t.equal(r.status, 200);
    t.equal(sse(r.body).length, 3);
    t.notOk(r.ended, "no clean end");
    t.equal(r.rstCode, http2.constants.NGHTTP2_INTERNAL_ERROR);
    a.setFaults([{ cutAfterChunks: 0 }]);
    const r0 = await call(a.url, "/v1/messages", { headers: AV, body: messages({ stream: true }) });
    t.equal(r0.status, 200, "the head went out");
    t.equal(r0.body, "");
    t.notOk(r0.ended);
    s.setFaults([{ cutAfterChunks: 0 }]);
    const plain = await ask();
    t.notOk(at(plain, "ended"), "a plain answer is cut too");
    t.equal((await ask(true)).ended, true, "the next is whole");
  });

  t.test("hang: never answers; the client gives up, others are served meanwhile", async (t) => {
    s.setFaults([{ hang: true }]);
    const session = connect(s.url);
    const req = session.request({ ":method": "POST", ":path": "/v1/chat/completions" });
    let answered = false;
    req.on("response", () => (answered = true));
    req.on("error", () => {});
    req.end(JSON.stringify(chat()));
    const other = await call(s.url, "/v1/chat/completions", { body: chat() }, session);
    t.equal(other.status, 200, "the next request on the same session");
    await new Promise((r) => setTimeout(r, 300));
    t.notOk(answered, "no answer");
    req.close(http2.constants.NGHTTP2_CANCEL);
    // a server closed with a request hanging still closes, and the client sees the connection go
    const h = await echo("openai");
    h.setFaults([{ hang: true }]);
    const pending = call(h.url, "/v1/chat/completions", { body: chat() }, connect(h.url));
    await new Promise((r) => setTimeout(r, 100));
    await h.close();
    t.equal((await pending).status, 0, "no answer ever came");
  });

  t.test("faults are for model calls: listings and admin requests leave them", async (t) => {
    a.setFaults([{ status: 500 }]);
    t.equal((await call(a.url, "/v1/models", { headers: AV })).status, 200);
    t.equal((await call(a.url, "/_echo/stats")).status, 200);
    t.equal((await call(a.url, "/v1/messages", { headers: AV, body: messages() })).status, 500);
  });

  t.test("bad faults are refused", async (t) => {
    t.throws(() => s.setFaults([{ status: 99 }]));
    t.throws(() => s.setFaults([{ retryAfter: "1\r\nx: y" }]));
    t.throws(() => s.setFaults([{ cutAfterChunks: -1 }]));
    t.throws(() => s.setFaults([{ typo: 1 } as Fault]));
  });
});

t.test("admin API: POST /_echo/faults, GET /_echo/stats", async (t) => {
  const s = await echo("google");
  const set = await call(s.url, "/_echo/faults", { body: [{ status: 503 }, { status: 429, retryAfter: "2" }] });
  t.equal(set.status, 200);
  t.same(parse(set.body), { faults: 2 });
  t.equal((await call(s.url, "/v1beta/models/m:generateContent", { body: contents() })).status, 503);
  const r = await call(s.url, "/v1beta/models/m:generateContent", { body: contents() });
  t.equal(r.status, 429);
  t.equal(r.headers["retry-after"], "2");
  t.equal((await call(s.url, "/v1beta/models/m:generateContent", { body: contents() })).status, 200);
  // replaced, not appended
  await call(s.url, "/_echo/faults", { body: [{ status: 500 }, { status: 500 }] });
  await call(s.url, "/_echo/faults", { body: [] });
  t.equal((await call(s.url, "/v1beta/models/m:generateContent", { body: contents() })).status, 200);

  for (const bad of ["{}", "[1]", '[{"status":"500"}]', '[{"hang":1}]', "nope"]) {
    const b = await call(s.url, "/_echo/faults", { body: bad });
    t.equal(b.status, 400, bad);
    t.match(parse(b.body), { error: String });
  }
  t.equal((await call(s.url, "/_echo/nothing")).status, 404);
  t.same(parse((await call(s.url, "/_echo/stats")).body), s.stats());
});

t.test("stats: TLS connections, requests, the most streams in flight on one", async (t) => {
  const s = await echo("openai", 20);
  const session = connect(s.url);
  for (let i = 0; i < 4; i++) t.equal((await call(s.url, "/v1/chat/completions", { body: chat() }, session)).status, 200);
  t.same(s.stats(), { sessions: 1, requests: 4, maxConcurrentStreams: 1, aborted: 0 }, "several requests over one session: one session");
  const together = await Promise.all([1, 2, 3].map(() => call(s.url, "/v1/chat/completions", { body: chat({ stream: true }) }, session)));
  t.ok(together.every((g) => g.status === 200 && g.ended));
  t.same(s.stats(), { sessions: 1, requests: 7, maxConcurrentStreams: 3, aborted: 0 });
  await call(s.url, "/v1/models", {}, connect(s.url));
  t.same(s.stats(), { sessions: 2, requests: 8, maxConcurrentStreams: 3, aborted: 0 });
  const stats = parse((await call(s.url, "/_echo/stats", {}, session)).body);
  t.same(stats, { sessions: 2, requests: 8, maxConcurrentStreams: 3, aborted: 0 }, "the admin API does not count itself");
});

t.test("TLS: ALPN h2, HTTP/1.1 accepted", async (t) => {
  const session = connect(openai.url);
  await call(openai.url, "/v1/models", {}, session);
  t.equal(session.alpnProtocol, "h2");

  // offered by ALPN, as a client that does not speak HTTP/2 would
  const h1Agent = new https.Agent({ ca: cert.cert, ALPNProtocols: ["http/1.1"] });
  t.teardown(() => h1Agent.destroy());
  const h1 = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: string; complete: boolean; protocol: string }>((resolve) => {
      const u = new URL(path, anthropic.url);
      const req = https.request(u, { method: body === undefined ? "GET" : "POST", agent: h1Agent, headers: { ...AV, ...headers } }, (res) => {
        const protocol = (res.socket as { alpnProtocol?: string | false }).alpnProtocol || "";
        let data = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (data += d));
        res.on("error", () => {});
        res.on("close", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: data,
            complete: res.complete,
            protocol,
          }),
        );
      });
      req.on("error", () => {});
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  const plain = await h1("/v1/messages", messages());
  t.equal(plain.status, 200);
  t.equal(plain.protocol, "http/1.1");
  t.equal(at(parse(plain.body), "content.0.text"), TEXT);
  const streamed = await h1("/v1/messages", messages({ stream: true }));
  t.same(
    sse(streamed.body)
      .filter((e) => e.event === "content_block_delta")
      .map((e) => at(parse(e.data), "delta.text")),
    WORDS,
  );
  anthropic.setFaults([{ cutAfterChunks: 4 }]);
  const cut = await h1("/v1/messages", messages({ stream: true }));
  t.equal(sse(cut.body).length, 4);
  t.notOk(cut.complete, "the connection dropped mid-body");
});

// ---- the official SDKs, pointed at the echo servers ----

/** fetch that trusts the echo certificate (NODE_EXTRA_CA_CERTS is read once, at start-up) */
const caFetch = ((input: string | URL | Request, init?: RequestInit) =>
  undiciFetch(input as Parameters<typeof undiciFetch>[0], { ...(init as Parameters<typeof undiciFetch>[1]), dispatcher: agent })) as unknown as typeof fetch;

t.test("the openai SDK", async (t) => {
  const client = new OpenAI({ apiKey: "none", baseURL: `${openai.url}/v1`, fetch: caFetch, maxRetries: 0 });
  const done = await client.chat.completions.create({ model: "echo-openai", messages: [{ role: "user", content: TEXT }] });
  t.equal(done.choices[0]?.message.content, TEXT);

  const stream = await client.chat.completions.create({
    model: "echo-openai",
    messages: [{ role: "user", content: TEXT }],
    stream: true,
    stream_options: { include_usage: true },
  });
  const words: string[] = [];
  let usage: OpenAI.CompletionUsage | null | undefined;
  for await (const c of stream) {
    if (c.choices[0]?.delta.content) words.push(c.choices[0].delta.content);
    if (c.usage) usage = c.usage;
  }
  t.same(words, WORDS);
  t.equal(usage?.completion_tokens, WORDS.length);

  const helper = client.chat.completions.stream({
    model: "echo-openai",
    messages: [{ role: "user", content: CALL_TEXT }],
    tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }],
  });
  const final = await helper.finalChatCompletion();
  const tc = final.choices[0]?.message.tool_calls?.[0];
  t.equal(final.choices[0]?.finish_reason, "tool_calls");
  t.same(tc?.type === "function" ? JSON.parse(tc.function.arguments) : undefined, WEATHER_ARGS);

  const resp = await client.responses.create({ model: "echo-openai", input: TEXT });
  t.equal(resp.output_text, TEXT);
  const rs = client.responses.stream({ model: "echo-openai", input: TEXT });
  const deltas: string[] = [];
  rs.on("response.output_text.delta", (e) => deltas.push(e.delta));
  const finalResp = await rs.finalResponse();
  t.same(deltas, WORDS);
  t.equal(finalResp.output_text, TEXT);

  const models = await client.models.list();
  t.same(
    models.data.map((m) => m.id),
    ["echo-openai"],
  );

  openai.setFaults([{ status: 429 }]);
  const err = await client.chat.completions.create({ model: "echo-openai", messages: [{ role: "user", content: "x" }] }).catch((e: unknown) => e);
  t.ok(err instanceof OpenAI.APIError);
  t.equal((err as InstanceType<typeof OpenAI.APIError>).status, 429);
  t.equal((err as InstanceType<typeof OpenAI.APIError>).code, "rate_limit_exceeded");
});

t.test("the @anthropic-ai/sdk SDK", async (t) => {
  const client = new Anthropic({ apiKey: "none", baseURL: anthropic.url, fetch: caFetch, maxRetries: 0 });
  const msg = await client.messages.create({ model: "echo-anthropic", max_tokens: 100, messages: [{ role: "user", content: TEXT }] });
  t.same(msg.content[0]?.type === "text" ? msg.content[0].text : undefined, TEXT);

  const stream = client.messages.stream({ model: "echo-anthropic", max_tokens: 100, messages: [{ role: "user", content: TEXT }] });
  const words: string[] = [];
  stream.on("text", (d) => words.push(d));
  const final = await stream.finalMessage();
  t.same(words, WORDS);
  t.equal(final.stop_reason, "end_turn");
  t.equal(final.usage.output_tokens, WORDS.length);

  const toolStream = client.messages.stream({
    model: "echo-anthropic",
    max_tokens: 100,
    messages: [{ role: "user", content: CALL_TEXT }],
    tools: [{ name: "get_weather", input_schema: { type: "object" } }],
  });
  const toolMsg = await toolStream.finalMessage();
  t.equal(toolMsg.stop_reason, "tool_use");
  const block = toolMsg.content[0];
  t.same(block?.type === "tool_use" ? block.input : undefined, WEATHER_ARGS);

  const models = await client.models.list();
  t.same(
    models.data.map((m) => m.id),
    ["echo-anthropic"],
  );

  anthropic.setFaults([{ status: 529 }]);
  const err = await client.messages.create({ model: "echo-anthropic", max_tokens: 5, messages: [{ role: "user", content: "x" }] }).catch((e: unknown) => e);
  t.ok(err instanceof Anthropic.APIError);
  t.equal((err as InstanceType<typeof Anthropic.APIError>).status, 529);
  t.match((err as InstanceType<typeof Anthropic.APIError>).error, { type: "error", error: { type: "overloaded_error" } });
  t.ok((err as InstanceType<typeof Anthropic.APIError>).requestID, "request-id read from the header");
});

t.test("the @google/genai SDK", async (t) => {
  for (const apiVersion of ["v1beta", "v1"]) {
    const ai = new GoogleGenAI({ apiKey: "none", httpOptions: { baseUrl: google.url, apiVersion, fetch: caFetch } });
    const r = await ai.models.generateContent({ model: "echo-google", contents: TEXT, config: { systemInstruction: "Be brief." } });
    t.equal(r.text, TEXT, apiVersion);
    t.equal(r.usageMetadata?.candidatesTokenCount, WORDS.length);

    const words: string[] = [];
    for await (const c of await ai.models.generateContentStream({ model: "echo-google", contents: TEXT })) words.push(c.text ?? "");
    t.same(words, WORDS);

    const call = await ai.models.generateContent({
      model: "echo-google",
      contents: CALL_TEXT,
      config: { tools: [{ functionDeclarations: [{ name: "get_weather" }] }] },
    });
    t.same(call.functionCalls, [{ name: "get_weather", args: WEATHER_ARGS }]);

    const names: string[] = [];
    for await (const m of await ai.models.list()) names.push(m.name ?? "");
    t.same(names, ["models/echo-google"]);
  }

  const ai = new GoogleGenAI({ apiKey: "none", httpOptions: { baseUrl: google.url, fetch: caFetch } });
  google.setFaults([{ status: 429 }]);
  const err = await ai.models.generateContent({ model: "echo-google", contents: "x" }).catch((e: unknown) => e);
  t.match(err, { name: "ApiError", status: 429 });
});

t.test("main.ts: all three, one JSON line, stops on SIGTERM", async (t) => {
  const certDir = join(dir, "main");
  const tsx = fileURLToPath(new URL("../../../node_modules/.bin/tsx", import.meta.url));
  const child = spawn(tsx, [fileURLToPath(new URL("./main.ts", import.meta.url))], {
    env: { ...process.env, ECHO_CERT_DIR: certDir, ECHO_OPENAI_PORT: "0", ECHO_CHUNK_DELAY_MS: "1" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`main.ts exited with ${code}`)));
  });
  const out = JSON.parse(line) as { echo: Record<EchoFormatName, string>; certFile: string };
  t.equal(out.certFile, join(certDir, "echo-tls", "cert.pem"));
  t.equal(selfSignedCert(certDir).certFile, out.certFile, "the certificate is kept and reused");
  for (const f of ["openai", "anthropic", "google"] as const) t.match(out.echo[f], /^https:\/\/127\.0\.0\.1:\d+$/);
  const s = http2.connect(out.echo.openai, { ca: selfSignedCert(certDir).cert });
  s.on("error", () => {});
  sessions.push(s);
  t.equal((await call(out.echo.openai, "/v1/models", {}, s)).status, 200);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  child.kill("SIGTERM");
  t.equal(await exited, 0);
});

t.test("the certificate: made once, reused, valid for 127.0.0.1 and localhost", async (t) => {
  const d = join(dir, "cert-reuse");
  const first = selfSignedCert(d);
  const again = selfSignedCert(d);
  t.equal(again.cert, first.cert);
  t.equal(again.key, first.key);
  const { X509Certificate } = await import("node:crypto");
  const x = new X509Certificate(first.cert);
  t.match(x.subjectAltName, /IP Address:127\.0\.0\.1/);
  t.match(x.subjectAltName, /DNS:localhost/);
});
