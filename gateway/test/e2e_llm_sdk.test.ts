// The provider endpoints driven by the official SDKs, unmodified but for their
// base URL: OpenAI (Chat Completions, Responses, models), Anthropic (Messages),
// Google (generateContent, streamGenerateContent), each to every backend format
// through the whole stack (gateway → INBOX → worker → egress proxy → a local
// echo upstream over HTTP/2 → HISTORY → gateway), plain and streamed, text and
// tool calls. Streams are counted: every word once, in order.
import Anthropic from "@anthropic-ai/sdk";
import { GoogleGenAI } from "@google/genai";
import OpenAI from "openai";
import t from "tap";
import { startStack } from "./harness.js";

const stack = await startStack(t);
const base = stack.wsUrl.replace(/^ws/, "http").replace(/\/ws$/, "");

const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: "not-needed", maxRetries: 0 });
const anthropic = new Anthropic({ baseURL: base, apiKey: "not-needed", maxRetries: 0 });
const google = new GoogleGenAI({ apiKey: "not-needed", httpOptions: { baseUrl: base } });

const BACKENDS = ["openai", "anthropic", "google"] as const;
const TEXT = "the quick brown fox jumps over the lazy dog";
const WORDS = TEXT.split(" ").length;
const weather = {
  name: "get_weather",
  description: "The weather in a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};
const CALL = 'call get_weather {"city": "Paris"}';

for (const backend of BACKENDS) {
  const model = `echo-${backend}`;

  t.test(`OpenAI SDK, chat → ${model}: plain, streamed with usage, and a tool call`, async (t) => {
    const plain = await openai.chat.completions.create({
      model,
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: TEXT },
      ],
    });
    t.equal(plain.choices[0]?.message.content, TEXT);
    t.equal(plain.choices[0]?.finish_reason, "stop");
    t.equal(plain.model, model, "the model the client asked for");
    t.ok((plain.usage?.completion_tokens ?? 0) > 0, "usage");

    const stream = await openai.chat.completions.create({
      model,
      messages: [{ role: "user", content: TEXT }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let pieces = 0;
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      const c = chunk.choices[0];
      if (c?.delta.content) {
        text += c.delta.content;
        pieces++;
      }
      if (c?.finish_reason) finish = c.finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    t.equal(text, TEXT, "every word once, in order");
    t.equal(pieces, WORDS, "one chunk per word");
    t.equal(finish, "stop");
    t.ok(usage && usage.completion_tokens > 0, "the usage chunk");

    const tools: OpenAI.ChatCompletionTool[] = [{ type: "function", function: weather }];
    const called = await openai.chat.completions.create({ model, messages: [{ role: "user", content: CALL }], tools });
    const call = called.choices[0]?.message.tool_calls?.[0];
    t.equal(called.choices[0]?.finish_reason, "tool_calls");
    t.equal(call?.type === "function" ? call.function.name : undefined, "get_weather");
    t.same(call?.type === "function" ? JSON.parse(call.function.arguments) : undefined, { city: "Paris" });

    const streamedCall = await openai.chat.completions.create({ model, messages: [{ role: "user", content: CALL }], tools, stream: true });
    let args = "";
    let name = "";
    for await (const chunk of streamedCall) {
      for (const tc of chunk.choices[0]?.delta.tool_calls ?? []) {
        name += tc.function?.name ?? "";
        args += tc.function?.arguments ?? "";
      }
    }
    t.equal(name, "get_weather");
    t.same(JSON.parse(args), { city: "Paris" }, "streamed arguments, whole");
  });

  t.test(`Anthropic SDK → ${model}: plain, streamed, and a tool call`, async (t) => {
    const plain = await anthropic.messages.create({ model, max_tokens: 100, system: "be brief", messages: [{ role: "user", content: TEXT }] });
    t.equal(plain.content[0]?.type === "text" ? plain.content[0].text : undefined, TEXT);
    t.equal(plain.stop_reason, "end_turn");
    t.equal(plain.model, model);

    const stream = anthropic.messages.stream({ model, max_tokens: 100, messages: [{ role: "user", content: TEXT }] });
    let text = "";
    let deltas = 0;
    stream.on("text", (d) => {
      text += d;
      deltas++;
    });
    const final = await stream.finalMessage();
    t.equal(text, TEXT, "every word once, in order");
    t.equal(deltas, WORDS, "one delta per word");
    t.equal(final.stop_reason, "end_turn");
    t.ok(final.usage.output_tokens > 0);

    const tools: Anthropic.Tool[] = [{ name: weather.name, description: weather.description, input_schema: weather.parameters as Anthropic.Tool.InputSchema }];
    const called = await anthropic.messages.create({ model, max_tokens: 100, tools, messages: [{ role: "user", content: CALL }] });
    const use = called.content.find((b) => b.type === "tool_use");
    t.equal(called.stop_reason, "tool_use");
    t.same(use?.type === "tool_use" ? [use.name, use.input] : undefined, ["get_weather", { city: "Paris" }]);

    const streamedCall = anthropic.messages.stream({ model, max_tokens: 100, tools, messages: [{ role: "user", content: CALL }] });
    const m = await streamedCall.finalMessage();
    const streamedUse = m.content.find((b) => b.type === "tool_use");
    t.same(streamedUse?.type === "tool_use" ? streamedUse.input : undefined, { city: "Paris" }, "streamed input_json_delta, whole");
  });

  t.test(`Google SDK → ${model}: generateContent, streamed, and a function call`, async (t) => {
    const plain = await google.models.generateContent({ model, contents: TEXT, config: { systemInstruction: "be brief" } });
    t.equal(plain.text, TEXT);
    t.equal(plain.candidates?.[0]?.finishReason, "STOP");

    const stream = await google.models.generateContentStream({ model, contents: TEXT });
    let text = "";
    let chunks = 0;
    for await (const chunk of stream) {
      if (chunk.text) {
        text += chunk.text;
        chunks++;
      }
    }
    t.equal(text, TEXT, "every word once, in order");
    t.equal(chunks, WORDS, "one chunk per word");

    const called = await google.models.generateContent({
      model,
      contents: CALL,
      config: { tools: [{ functionDeclarations: [{ name: weather.name, description: weather.description, parametersJsonSchema: weather.parameters }] }] },
    });
    t.same(
      called.functionCalls?.map((c) => [c.name, c.args]),
      [["get_weather", { city: "Paris" }]],
    );
    const streamedCall = await google.models.generateContentStream({
      model,
      contents: CALL,
      config: { tools: [{ functionDeclarations: [{ name: weather.name, description: weather.description, parametersJsonSchema: weather.parameters }] }] },
    });
    const calls: unknown[] = [];
    for await (const chunk of streamedCall) for (const c of chunk.functionCalls ?? []) calls.push([c.name, c.args]);
    t.same(calls, [["get_weather", { city: "Paris" }]], "streamed");
  });

  t.test(`OpenAI SDK, Responses API → ${model}: plain and streamed`, async (t) => {
    const plain = await openai.responses.create({ model, instructions: "be brief", input: TEXT });
    t.equal(plain.output_text, TEXT);
    const stream = await openai.responses.create({ model, input: TEXT, stream: true });
    let text = "";
    let deltas = 0;
    let completed = false;
    for await (const e of stream) {
      if (e.type === "response.output_text.delta") {
        text += e.delta;
        deltas++;
      }
      if (e.type === "response.completed") completed = true;
    }
    t.equal(text, TEXT, "every word once, in order");
    t.equal(deltas, WORDS);
    t.ok(completed, "response.completed");

    const tools: OpenAI.Responses.FunctionTool[] = [
      { type: "function", name: weather.name, description: weather.description, parameters: weather.parameters, strict: false },
    ];
    const called = await openai.responses.create({ model, input: CALL, tools });
    const call = called.output.find((o) => o.type === "function_call");
    t.same(call?.type === "function_call" ? [call.name, JSON.parse(call.arguments)] : undefined, ["get_weather", { city: "Paris" }]);
    const streamed = openai.responses.stream({ model, input: CALL, tools });
    const final = await streamed.finalResponse();
    const sc = final.output.find((o) => o.type === "function_call");
    t.same(sc?.type === "function_call" ? JSON.parse(sc.arguments) : undefined, { city: "Paris" }, "streamed arguments, whole");
  });
}

t.test("model lists: OpenAI's and Google's shapes name the echo models", async (t) => {
  const ids: string[] = [];
  for await (const m of openai.models.list()) ids.push(m.id);
  for (const x of ["echo-openai", "echo-anthropic", "echo-google"]) t.ok(ids.includes(x), x);
  const pager = await google.models.list();
  const names: string[] = [];
  for await (const m of pager) names.push(m.name ?? "");
  t.ok(names.includes("models/echo-google"), "Google's list");
});

t.test("bad input gets each provider's own error, as its SDK reads it", async (t) => {
  const e1 = await openai.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "x" }] }).catch((e: unknown) => e);
  t.ok(e1 instanceof OpenAI.NotFoundError, "OpenAI: 404");
  t.equal((e1 as InstanceType<typeof OpenAI.NotFoundError>).code, "model_not_found");
  const e2 = await anthropic.messages.create({ model: "no-such-model", max_tokens: 5, messages: [{ role: "user", content: "x" }] }).catch((e: unknown) => e);
  t.ok(e2 instanceof Anthropic.NotFoundError, "Anthropic: 404");
  const e3 = await google.models.generateContent({ model: "no-such-model", contents: "x" }).catch((e: unknown) => e);
  t.match(e3, { status: 404 }, "Google: 404");
  const e4 = await openai.chat.completions.create({ model: "echo-openai", messages: "nope" as never }).catch((e: unknown) => e);
  t.ok(e4 instanceof OpenAI.BadRequestError, "OpenAI: malformed messages → 400");
  const e5 = await openai.chat.completions.create({ model: "echo-anthropic", n: 2, messages: [{ role: "user", content: "x" }] }).catch((e: unknown) => e);
  t.ok(e5 instanceof OpenAI.BadRequestError, "a parameter the backend cannot honour → 400");
  t.match((e5 as Error).message, /\bn\b/);
});
