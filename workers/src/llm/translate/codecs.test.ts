// Unit tests of the codecs: malformed client bodies, edge cases of each format,
// and a fuzz of everything that reads outside input (fast-check does not
// resolve from workers/, so the random JSON comes from a small seeded generator).
import t, { type Test } from "tap";
import { rng } from "../../../test/rng.js";
import { anthropicBackend, anthropicClient } from "./codec_anthropic.js";
import { googleBackend, googleClient } from "./codec_google.js";
import { openaiBackend, openaiClient } from "./codec_openai.js";
import { errorBody, upstreamErrorMessage } from "./errors.js";
import { passthrough } from "./passthrough.js";
import {
  type BackendCodec,
  type ClientCodec,
  type ClientEvent,
  type IrRequest,
  type IrStreamEvent,
  type TranslateContext,
  TranslateError,
  type UpstreamEvent,
} from "./types.js";
import { viaIr } from "./via_ir.js";

const ctx: TranslateContext = { model: "radiant-test", upstreamModel: "up-model", id: "abc123", created: 1700000000, stream: false, includeUsage: false };
const sctx: TranslateContext = { ...ctx, stream: true, includeUsage: true };
const clients: ClientCodec[] = [openaiClient, anthropicClient, googleClient];
const backends: BackendCodec[] = [openaiBackend, anthropicBackend, googleBackend];

/** The TranslateError `f` throws (the test fails if it throws something else, or nothing). */
function refusal(t: Test, f: () => unknown): TranslateError | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof TranslateError) {
      t.equal(e.status, 400);
      return e;
    }
    t.fail(`threw ${String(e)}`);
    return undefined;
  }
  t.fail("did not throw");
  return undefined;
}

// biome-ignore lint/suspicious/noExplicitAny: translated bodies are read freely here
type Json = any;

const ir = (over: Partial<IrRequest> = {}): IrRequest => ({ messages: [{ role: "user", parts: [{ type: "text", text: "hi" }] }], stream: false, ...over });
const body = (r: { body: unknown }) => r.body as Record<string, Json>;
const datas = (es: ClientEvent[]) => es.map((e) => e.data as Record<string, Json>);

// ---- malformed client bodies ---------------------------------------------------

t.test("malformed OpenAI bodies are refused with the field named", async (t) => {
  const cases: [unknown, string][] = [
    [{}, "messages"],
    [{ messages: "hi" }, "messages"],
    [{ messages: [] }, "messages"],
    [{ messages: [null] }, "messages[0]"],
    [{ messages: [{ content: "x" }] }, "messages[0].role"],
    [{ messages: [{ role: "wizard", content: "x" }] }, "messages[0].role"],
    [{ messages: [{ role: "user", content: 5 }] }, "messages[0].content"],
    [{ messages: [{ role: "user", content: [{ type: "video" }] }] }, "messages[0].content[0].type"],
    [{ messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "ftp://x" } }] }] }, "messages[0].content[0].image_url.url"],
    [{ messages: [{ role: "tool", content: "x" }] }, "messages[0].tool_call_id"],
    [{ messages: [{ role: "assistant", tool_calls: [{ id: "a", function: {} }] }] }, "messages[0].tool_calls[0].function.name"],
    [{ messages: [{ role: "system", content: "only a system prompt" }] }, "messages"],
    [{ messages: [{ role: "user", content: "x" }], tools: {} }, "tools"],
    [{ messages: [{ role: "user", content: "x" }], tools: [{ type: "function" }] }, "tools[0].function"],
    [{ messages: [{ role: "user", content: "x" }], tool_choice: "sometimes" }, "tool_choice"],
    [{ messages: [{ role: "user", content: "x" }], max_tokens: -1 }, "max_tokens"],
    [{ messages: [{ role: "user", content: "x" }], temperature: "hot" }, "temperature"],
    [{ messages: [{ role: "user", content: "x" }], stop: [1] }, "stop[0]"],
    [{ messages: [{ role: "user", content: "x" }], stream: "yes" }, "stream"],
  ];
  for (const [b, field] of cases) {
    const e = refusal(t, () => openaiClient.fromClient(b as Record<string, unknown>, ctx));
    t.equal(e?.param, field, JSON.stringify(b));
    t.match(e?.message, field);
  }
});

t.test("malformed Anthropic bodies are refused with the field named", async (t) => {
  const cases: [unknown, string][] = [
    [{}, "messages"],
    [{ messages: [] }, "messages"],
    [{ messages: [{ role: "system", content: "x" }] }, "messages[0].role"],
    [{ messages: [{ role: "user", content: [{ text: "no type" }] }] }, "messages[0].content[0].type"],
    [{ messages: [{ role: "user", content: [{ type: "tool_use", id: "a", name: "f", input: {} }] }] }, "messages[0].content[0]"],
    [{ messages: [{ role: "assistant", content: [{ type: "tool_result", tool_use_id: "a" }] }] }, "messages[0].content[0]"],
    [{ messages: [{ role: "user", content: [{ type: "image", source: { type: "file", file_id: "f" } }] }] }, "messages[0].content[0].source.type"],
    [{ messages: [{ role: "user", content: [{ type: "document", source: {} }] }] }, "messages[0].content[0].type"],
    [{ messages: [{ role: "user", content: "x" }], system: 3 }, "system"],
    [{ messages: [{ role: "user", content: "x" }], tool_choice: { type: "maybe" } }, "tool_choice.type"],
    [{ messages: [{ role: "user", content: "x" }], tools: [{ name: "f", input_schema: "x" }] }, "tools[0].input_schema"],
    [{ messages: [{ role: "user", content: "x" }], top_k: 1.5 }, "top_k"],
  ];
  for (const [b, field] of cases) {
    const e = refusal(t, () => anthropicClient.fromClient(b as Record<string, unknown>, ctx));
    t.equal(e?.param, field, JSON.stringify(b));
  }
});

t.test("malformed Google bodies are refused with the field named", async (t) => {
  const cases: [unknown, string][] = [
    [{}, "contents"],
    [{ contents: [] }, "contents"],
    [{ contents: [{ role: "assistant", parts: [{ text: "x" }] }] }, "contents[0].role"],
    [{ contents: [{ role: "user" }] }, "contents[0].parts"],
    [{ contents: [{ role: "user", parts: [{}] }] }, "contents[0].parts[0]"],
    [{ contents: [{ role: "user", parts: [{ text: 1 }] }] }, "contents[0].parts[0].text"],
    [{ contents: [{ role: "user", parts: [{ inlineData: { mimeType: "audio/wav", data: "AA" } }] }] }, "contents[0].parts[0].inlineData.mimeType"],
    [{ contents: [{ role: "user", parts: [{ functionCall: { name: "f" } }] }] }, "contents[0].parts[0].functionCall"],
    [{ contents: [{ role: "user", parts: [{ functionResponse: { name: "f", response: {} } }] }] }, "contents[0].parts[0].functionResponse.name"],
    [{ contents: [{ parts: [{ executableCode: { code: "1" } }] }] }, "contents[0].parts[0].executableCode"],
    [
      { contents: [{ parts: [{ fileData: { fileUri: "https://generativelanguage.googleapis.com/v1beta/files/abc" } }] }] },
      "contents[0].parts[0].fileData.fileUri",
    ],
    [{ contents: [{ parts: [{ fileData: { fileUri: "gs://bucket/a.png" } }] }] }, "contents[0].parts[0].fileData.fileUri"],
    [{ contents: [{ parts: [{ text: "x" }] }], tools: [{ googleSearch: {} }] }, "tools[0].googleSearch"],
    [{ contents: [{ parts: [{ text: "x" }] }], toolConfig: { functionCallingConfig: { mode: "SOMETIMES" } } }, "toolConfig.functionCallingConfig.mode"],
    [{ contents: [{ parts: [{ text: "x" }] }], generationConfig: { responseMimeType: "application/json" } }, "generationConfig.responseMimeType"],
    [{ contents: [{ parts: [{ text: "x" }] }], systemInstruction: { parts: "x" } }, "systemInstruction.parts"],
  ];
  for (const [b, field] of cases) {
    const e = refusal(t, () => googleClient.fromClient(b as Record<string, unknown>, ctx));
    t.equal(e?.param, field, JSON.stringify(b));
  }
});

t.test("parameters another provider cannot honour are refused, naming them; others are dropped", async (t) => {
  const m = [{ role: "user", content: "x" }];
  for (const [k, v] of [
    ["n", 3],
    ["logprobs", true],
    ["top_logprobs", 2],
    ["response_format", { type: "json_schema", json_schema: {} }],
    ["modalities", ["text", "audio"]],
    ["functions", []],
  ] as const) {
    t.equal(refusal(t, () => openaiClient.fromClient({ messages: m, [k]: v }, ctx))?.param, k);
  }
  // no equivalent, and the answer's shape is the same
  const r = openaiClient.fromClient({ messages: m, n: 1, logprobs: false, seed: 1, frequency_penalty: 1, user: "u", response_format: { type: "text" } }, ctx);
  t.same(r.messages, [{ role: "user", parts: [{ type: "text", text: "x" }] }]);
  t.equal(refusal(t, () => anthropicClient.fromClient({ messages: m, mcp_servers: [] }, ctx))?.param, "mcp_servers");
  t.ok(anthropicClient.fromClient({ messages: m, thinking: { type: "enabled", budget_tokens: 1024 }, metadata: { user_id: "u" } }, ctx));
  const g = { contents: [{ parts: [{ text: "x" }] }] };
  t.equal(
    refusal(t, () => googleClient.fromClient({ ...g, generationConfig: { responseSchema: { type: "OBJECT" } } }, ctx))?.param,
    "generationConfig.responseSchema",
  );
  t.equal(refusal(t, () => googleClient.fromClient({ ...g, generationConfig: { responseLogprobs: true } }, ctx))?.param, "generationConfig.responseLogprobs");
  t.ok(googleClient.fromClient({ ...g, generationConfig: { seed: 3, thinkingConfig: { thinkingBudget: 0 } }, safetySettings: [] }, ctx));
});

// ---- the client halves, in -----------------------------------------------------

t.test("OpenAI: system and developer messages, in order, become the system prompt; tool results are named from their call", async (t) => {
  const r = openaiClient.fromClient(
    {
      messages: [
        { role: "system", content: "A" },
        { role: "user", content: "q" },
        { role: "developer", content: [{ type: "text", text: "B" }] },
        { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{}" } }] },
        { role: "tool", tool_call_id: "c1", content: [{ type: "text", text: "ok" }] },
        { role: "tool", tool_call_id: "c9", content: "orphan" },
      ],
    },
    ctx,
  );
  t.equal(r.system, "A\n\nB");
  t.same(r.messages[2], { role: "user", parts: [{ type: "tool_result", callId: "c1", name: "f", content: "ok" }] });
  t.same(r.messages[3], { role: "user", parts: [{ type: "tool_result", callId: "c9", content: "orphan" }] });
});

t.test("Google: function calls get call_<n> ids, responses pair with them by name (or id), in order", async (t) => {
  const r = googleClient.fromClient(
    {
      contents: [
        { role: "user", parts: [{ text: "q" }] },
        {
          role: "model",
          parts: [{ functionCall: { name: "f", args: { a: 1 } } }, { functionCall: { name: "f", args: { a: 2 } } }, { functionCall: { name: "g", id: "gid" } }],
        },
        {
          role: "user",
          parts: [
            { functionResponse: { name: "g", id: "gid", response: { error: "boom" } } },
            { functionResponse: { name: "f", response: { output: "one" } } },
            { function_response: { name: "f", response: { x: [1] } } },
          ],
        },
      ],
    },
    ctx,
  );
  t.same(
    r.messages[1]!.parts.map((p) => (p.type === "tool_call" ? p.id : "")),
    ["call_0", "call_1", "gid"],
  );
  t.same(r.messages[2]!.parts, [
    { type: "tool_result", callId: "gid", name: "g", content: "boom", isError: true },
    { type: "tool_result", callId: "call_0", name: "f", content: "one" },
    { type: "tool_result", callId: "call_1", name: "f", content: '{"x":[1]}' },
  ]);
  // a third response of f has no call left to answer
  const e = refusal(t, () =>
    googleClient.fromClient(
      {
        contents: [
          { role: "model", parts: [{ functionCall: { name: "f" } }] },
          { role: "user", parts: [{ functionResponse: { name: "f", response: {} } }, { functionResponse: { name: "f", response: {} } }] },
        ],
      },
      ctx,
    ),
  );
  t.equal(e?.param, "contents[1].parts[1].functionResponse.name");
});

t.test("Google: OpenAPI schemas become JSON Schema; ANY limited to some functions narrows the tools", async (t) => {
  const decl = (name: string) => ({ name, parameters: { type: "OBJECT", properties: { a: { type: "ARRAY", items: { type: "STRING" } } } } });
  const r = googleClient.fromClient(
    {
      contents: [{ parts: [{ text: "x" }] }],
      tools: [{ functionDeclarations: [decl("f"), decl("g"), decl("h")] }],
      toolConfig: { functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["f", "g"] } },
    },
    ctx,
  );
  t.same(
    r.tools!.map((x) => x.name),
    ["f", "g"],
  );
  t.same(r.tools![0]!.parameters, { type: "object", properties: { a: { type: "array", items: { type: "string" } } } });
  t.equal(r.toolChoice, "required");
  t.equal(r.stream, false);
  t.equal(googleClient.fromClient({ contents: [{ parts: [{ text: "x" }] }] }, sctx).stream, true, "Google's stream is the context's (the path's)");
});

t.test("Anthropic: thinking blocks are dropped, tool_result text blocks joined, images kept", async (t) => {
  const r = anthropicClient.fromClient(
    {
      messages: [
        { role: "user", content: "q" },
        {
          role: "assistant",
          content: [
            { type: "thinking", thinking: "hmm", signature: "s" },
            { type: "tool_use", id: "t1", name: "f", input: { a: 1 } },
          ],
        },
        {
          role: "user",
          content: [
            {
              type: "tool_result",
              tool_use_id: "t1",
              content: [
                { type: "text", text: "a" },
                { type: "text", text: "b" },
              ],
              is_error: true,
            },
            { type: "image", source: { type: "url", url: "data:image/gif;base64,R0lGOD" } },
          ],
        },
      ],
    },
    ctx,
  );
  t.same(r.messages[1]!.parts, [{ type: "tool_call", id: "t1", name: "f", arguments: '{"a":1}' }]);
  t.same(r.messages[2]!.parts, [
    { type: "tool_result", callId: "t1", name: "f", content: "a\nb", isError: true },
    { type: "image", mediaType: "image/gif", data: "R0lGOD" },
  ]);
  t.equal(
    refusal(t, () =>
      anthropicClient.fromClient(
        { messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "x", content: [{ type: "image", source: {} }] }] }] },
        ctx,
      ),
    )?.param,
    "messages[0].content[0].content[0].type",
  );
});

// ---- the backend halves, out ----------------------------------------------------

t.test("Anthropic backend: turns merged, tool results first, empty text dropped, max_tokens default, temperature clamped, ids made valid", async (t) => {
  const up = anthropicBackend.toUpstream(
    ir({
      system: "S",
      temperature: 1.7,
      messages: [
        { role: "user", parts: [{ type: "text", text: "q" }] },
        {
          role: "assistant",
          parts: [
            { type: "text", text: "" },
            { type: "tool_call", id: "call:1", name: "f", arguments: "not json" },
          ],
        },
        { role: "user", parts: [{ type: "text", text: "also" }] },
        { role: "user", parts: [{ type: "tool_result", callId: "call:1", content: "", isError: true }] },
      ],
    }),
    ctx,
  );
  t.equal(up.path, "/v1/messages");
  t.same(up.headers, { "anthropic-version": "2023-06-01" });
  const b = body(up);
  t.equal(b.max_tokens, 4096);
  t.equal(b.temperature, 1);
  t.equal(b.system, "S");
  t.same(b.messages, [
    { role: "user", content: [{ type: "text", text: "q" }] },
    { role: "assistant", content: [{ type: "tool_use", id: "call_1", name: "f", input: {} }] },
    {
      role: "user",
      content: [
        { type: "tool_result", tool_use_id: "call_1", is_error: true },
        { type: "text", text: "also" },
      ],
    },
  ]);
  t.equal(body(anthropicBackend.toUpstream(ir({ maxTokens: 10 }), ctx)).max_tokens, 10);
});

t.test("OpenAI backend: tool results go first as tool messages; tool_choice only with tools; max_completion_tokens; stream asks for usage", async (t) => {
  const b = body(
    openaiBackend.toUpstream(
      ir({
        stream: true,
        maxTokens: 9,
        topK: 3,
        toolChoice: "none",
        messages: [
          { role: "assistant", parts: [{ type: "tool_call", id: "c1", name: "f", arguments: "{}" }] },
          {
            role: "user",
            parts: [
              { type: "text", text: "after" },
              { type: "tool_result", callId: "c1", content: "r" },
              { type: "image", data: "AA", mediaType: "image/png" },
            ],
          },
        ],
      }),
      ctx,
    ),
  );
  t.same(b.messages, [
    { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{}" } }] },
    { role: "tool", tool_call_id: "c1", content: "r" },
    {
      role: "user",
      content: [
        { type: "text", text: "after" },
        { type: "image_url", image_url: { url: "data:image/png;base64,AA" } },
      ],
    },
  ]);
  t.equal(b.tool_choice, undefined);
  t.equal(b.top_k, undefined);
  t.equal(b.max_completion_tokens, 9);
  t.same(b.stream_options, { include_usage: true });
});

t.test("Google backend: path encoded, roles user/model, function names found from the call, responses as objects", async (t) => {
  const up = googleBackend.toUpstream(
    ir({
      stream: true,
      tools: [
        { name: "noargs", parameters: { type: "object", properties: {} } },
        { name: "f", parameters: { type: "object", properties: { a: { type: ["string", "null"] } } } },
      ],
      toolChoice: { name: "f" },
      messages: [
        {
          role: "user",
          parts: [
            { type: "text", text: "q" },
            { type: "image", url: "https://x.test/a.PNG?s=1" },
          ],
        },
        {
          role: "assistant",
          parts: [
            { type: "tool_call", id: "c1", name: "f", arguments: '{"a":"1"}' },
            { type: "tool_call", id: "c2", name: "noargs", arguments: "" },
          ],
        },
        { role: "user", parts: [{ type: "tool_result", callId: "c1", content: "[1,2]" }] },
        { role: "user", parts: [{ type: "tool_result", callId: "c2", content: "oops", isError: true }] },
      ],
    }),
    { ...ctx, upstreamModel: "tuned/m:v1" },
  );
  t.equal(up.path, "/v1beta/models/tuned%2Fm%3Av1:streamGenerateContent?alt=sse");
  const b = body(up);
  t.same(b.contents, [
    { role: "user", parts: [{ text: "q" }, { fileData: { mimeType: "image/png", fileUri: "https://x.test/a.PNG?s=1" } }] },
    {
      role: "model",
      parts: [
        { functionCall: { name: "f", args: { a: "1" } }, thoughtSignature: "skip_thought_signature_validator" },
        { functionCall: { name: "noargs", args: {} } },
      ],
    },
    {
      role: "user",
      parts: [{ functionResponse: { name: "f", response: { output: [1, 2] } } }, { functionResponse: { name: "noargs", response: { error: "oops" } } }],
    },
  ]);
  t.same(b.tools[0].functionDeclarations, [
    { name: "noargs" },
    { name: "f", parametersJsonSchema: { type: "object", properties: { a: { type: ["string", "null"] } } } },
  ]);
  t.same(b.toolConfig, { functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["f"] } });
  const e = refusal(t, () =>
    googleBackend.toUpstream(ir({ messages: [{ role: "user", parts: [{ type: "tool_result", callId: "nope", content: "x" }] }] }), ctx),
  );
  t.match(e?.message, /nope/);
});

// ---- answers back ------------------------------------------------------------------

t.test("answers: finish reasons and usage, each way", async (t) => {
  const oa = (finish: string, message: object = { content: "x" }) =>
    openaiBackend.fromUpstream({ choices: [{ message, finish_reason: finish }], usage: { prompt_tokens: 3, completion_tokens: 4 } });
  t.equal(oa("stop").finish, "stop");
  t.equal(oa("length").finish, "length");
  t.equal(oa("content_filter").finish, "content_filter");
  t.equal(oa("stop", { content: null, refusal: "I can't" }).finish, "refusal");
  t.equal(oa("stop", { tool_calls: [{ id: "a", function: { name: "f", arguments: "{}" } }] }).finish, "tool_calls", "a server saying stop after tool calls");
  t.same(oa("stop").usage, { input: 3, output: 4 });
  const an = (stop: string) =>
    anthropicBackend.fromUpstream({
      content: [],
      stop_reason: stop,
      usage: { input_tokens: 1, cache_read_input_tokens: 10, cache_creation_input_tokens: 100, output_tokens: 2 },
    });
  t.same(
    ["end_turn", "stop_sequence", "max_tokens", "tool_use", "refusal", "pause_turn"].map((s) => an(s).finish),
    ["stop", "stop", "length", "tool_calls", "refusal", "stop"],
  );
  t.same(an("end_turn").usage, { input: 111, output: 2 }, "cached input counts as input");
  const go = (fr: string) =>
    googleBackend.fromUpstream({
      candidates: [{ content: { parts: [{ text: "x" }] }, finishReason: fr }],
      usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 6, thoughtsTokenCount: 7 },
    });
  t.same(
    ["STOP", "MAX_TOKENS", "SAFETY", "RECITATION", "OTHER"].map((s) => go(s).finish),
    ["stop", "length", "content_filter", "content_filter", "stop"],
  );
  t.same(go("STOP").usage, { input: 5, output: 13 }, "thinking tokens count as output");
  t.equal(googleBackend.fromUpstream({ promptFeedback: { blockReason: "SAFETY" } }).finish, "content_filter");
  // thought parts are not the answer
  t.same(googleBackend.fromUpstream({ candidates: [{ content: { parts: [{ text: "thinking", thought: true }, { text: "answer" }] } }] }).parts, [
    { type: "text", text: "answer" },
  ]);

  const r = { parts: [], finish: "content_filter" as const };
  t.equal((openaiClient.toClient(r, ctx).data as Json).choices[0].finish_reason, "content_filter");
  t.equal((anthropicClient.toClient(r, ctx).data as Json).stop_reason, "refusal");
  t.equal((googleClient.toClient(r, ctx).data as Json).candidates[0].finishReason, "SAFETY");
});

t.test("tool call arguments that are not a JSON object become {} where the API carries an object", async (t) => {
  const r = { parts: [{ type: "tool_call" as const, id: "c", name: "f", arguments: "{broken" }], finish: "tool_calls" as const };
  t.same((anthropicClient.toClient(r, ctx).data as Json).content, [{ type: "tool_use", id: "c", name: "f", input: {} }]);
  t.same((googleClient.toClient(r, ctx).data as Json).candidates[0].content.parts, [{ functionCall: { name: "f", args: {} } }]);
  t.equal((openaiClient.toClient(r, ctx).data as Json).choices[0].message.tool_calls[0].function.arguments, "{broken", "OpenAI keeps the text as it came");
});

// ---- streams ------------------------------------------------------------------------

const run = (c: ClientCodec, es: IrStreamEvent[], cx = sctx) => {
  const s = c.clientStream(cx);
  return [...es.flatMap((e) => s.push(e)), ...s.end()];
};

t.test(
  "client streams: well-ordered with a finish; without one (the upstream stopped early) an error, never a made-up end; nothing after an error",
  async (t) => {
    const text: IrStreamEvent[] = [
      { type: "text", text: "hi" },
      { type: "finish", reason: "stop" },
    ];
    const oa = datas(run(openaiClient, text));
    t.same(
      oa.map((d) => [d.choices.length ? d.choices[0].finish_reason : "usage", d.id, d.created]),
      [
        [null, "chatcmpl-abc123", 1700000000],
        [null, "chatcmpl-abc123", 1700000000],
        ["stop", "chatcmpl-abc123", 1700000000],
        ["usage", "chatcmpl-abc123", 1700000000],
      ],
    );
    t.same(oa[0]!.choices[0].delta, { role: "assistant", content: "" });
    t.ok(oa.slice(0, 3).every((d) => d.usage === null));
    t.ok(
      datas(run(openaiClient, text, ctx)).every((d) => !("usage" in d)),
      "no usage field unless asked for",
    );
    const an = run(anthropicClient, [{ type: "finish", reason: "stop" }]);
    t.same(
      an.map((e) => e.event),
      ["message_start", "message_delta", "message_stop"],
    );
    t.ok(an.every((e) => (e.data as Json).type === e.event));
    t.same(
      run(anthropicClient, [...text, { type: "error", message: "boom" }, { type: "text", text: "late" }]).map((e) => e.event),
      ["message_start", "content_block_start", "content_block_delta", "error"],
    );
    const cut: IrStreamEvent[] = [{ type: "text", text: "hi" }];
    t.match(datas(run(openaiClient, cut)).at(-1), { error: { message: /ended its stream before the answer's end/ } }, "OpenAI: cut, said so");
    t.same(
      run(anthropicClient, cut).map((e) => e.event),
      ["message_start", "content_block_start", "content_block_delta", "error"],
      "Anthropic: an error event, no message_stop",
    );
    t.match(datas(run(googleClient, cut)).at(-1), { error: { code: 502, status: "UNAVAILABLE" } }, "Google: an error chunk its SDK raises");
    const go = datas(
      run(googleClient, [
        { type: "tool_start", index: 0, id: "c", name: "f" },
        { type: "tool_args", index: 0, json: '{"a":' },
        { type: "tool_args", index: 0, json: "1}" },
        { type: "finish", reason: "tool_calls" },
      ]),
    );
    t.same(go, [
      {
        candidates: [{ content: { role: "model", parts: [{ functionCall: { name: "f", args: { a: 1 } } }] }, finishReason: "STOP", index: 0 }],
        usageMetadata: { promptTokenCount: 0, candidatesTokenCount: 0, totalTokenCount: 0 },
        modelVersion: "radiant-test",
        responseId: "abc123",
      },
    ]);
    t.same(datas(run(googleClient, [{ type: "error", message: "x" }])), [{ error: { code: 500, message: "x", status: "INTERNAL", details: [] } }]);
    t.same(datas(run(openaiClient, [{ type: "error", message: "x" }])), [{ error: { message: "x", type: "server_error", param: null, code: null } }]);
  },
);

t.test("Anthropic client stream: text and tool blocks numbered in order, each closed before the next opens", async (t) => {
  const es = run(anthropicClient, [
    { type: "text", text: "a" },
    { type: "tool_start", index: 0, id: "c0", name: "f" },
    { type: "tool_args", index: 0, json: "{}" },
    { type: "tool_start", index: 1, id: "c1", name: "g" },
    { type: "text", text: "b" },
    { type: "finish", reason: "tool_calls" },
    { type: "usage", usage: { input: 1, output: 2 } },
  ]);
  t.same(
    es.map((e) => {
      const d = e.data as Json;
      return `${e.event}${d.index !== undefined ? `:${d.index}` : ""}`;
    }),
    [
      "message_start",
      "content_block_start:0",
      "content_block_delta:0",
      "content_block_stop:0",
      "content_block_start:1",
      "content_block_delta:1",
      "content_block_stop:1",
      "content_block_start:2",
      "content_block_stop:2",
      "content_block_start:3",
      "content_block_delta:3",
      "content_block_stop:3",
      "message_delta",
      "message_stop",
    ],
  );
  t.same((es.at(-2)!.data as Json).delta.stop_reason, "tool_use");
  t.same((es.at(-2)!.data as Json).usage, { input_tokens: 1, output_tokens: 2 });
});

const decode = (b: BackendCodec, evs: UpstreamEvent[]) => {
  const d = b.upstreamStream();
  return evs.flatMap((e) => d(e));
};

t.test("upstream streams: OpenAI parallel tool calls by index, Google calls whole, Anthropic input_json_delta, errors mid-stream", async (t) => {
  const chunk = (delta: object, finish: string | null = null) => ({ data: JSON.stringify({ choices: [{ index: 0, delta, finish_reason: finish }] }) });
  t.same(
    decode(openaiBackend, [
      chunk({ role: "assistant", content: null }),
      chunk({ tool_calls: [{ index: 0, id: "a", function: { name: "f", arguments: "" } }] }),
      chunk({ tool_calls: [{ index: 1, id: "b", function: { name: "g", arguments: "{" } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: "{}" } }] }),
      chunk({ tool_calls: [{ index: 1, function: { arguments: "}" } }] }),
      chunk({}, "tool_calls"),
      { data: JSON.stringify({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 2 } }) },
      { data: "[DONE]" },
    ]),
    [
      { type: "tool_start", index: 0, id: "a", name: "f" },
      { type: "tool_start", index: 1, id: "b", name: "g" },
      { type: "tool_args", index: 1, json: "{" },
      { type: "tool_args", index: 0, json: "{}" },
      { type: "tool_args", index: 1, json: "}" },
      { type: "finish", reason: "tool_calls" },
      { type: "usage", usage: { input: 1, output: 2 } },
    ],
  );
  t.same(decode(openaiBackend, [{ data: '{"error":{"message":"bad"}}' }]), [{ type: "error", message: "bad" }]);
  t.same(
    decode(openaiBackend, [{ data: "garbage" }]).map((e) => e.type),
    ["error"],
  );
  t.same(
    decode(googleBackend, [
      { data: JSON.stringify({ candidates: [{ content: { parts: [{ text: "x" }, { functionCall: { name: "f", args: { a: 1 } } }] } }] }) },
      { data: JSON.stringify({ candidates: [{ content: { parts: [{ functionCall: { name: "g" } }] }, finishReason: "STOP" }] }) },
    ]),
    [
      { type: "text", text: "x" },
      { type: "tool_start", index: 0, id: "call_0", name: "f" },
      { type: "tool_args", index: 0, json: '{"a":1}' },
      { type: "tool_start", index: 1, id: "call_1", name: "g" },
      { type: "tool_args", index: 1, json: "{}" },
      { type: "finish", reason: "tool_calls" },
    ],
  );
  const ev = (type: string, data: object) => ({ event: type, data: JSON.stringify({ type, ...data }) });
  t.same(
    decode(anthropicBackend, [
      ev("message_start", { message: { usage: { input_tokens: 5, output_tokens: 1 } } }),
      ev("content_block_start", { index: 0, content_block: { type: "thinking", thinking: "" } }),
      ev("content_block_delta", { index: 0, delta: { type: "thinking_delta", thinking: "hmm" } }),
      ev("content_block_start", { index: 1, content_block: { type: "tool_use", id: "t", name: "f", input: {} } }),
      ev("content_block_delta", { index: 1, delta: { type: "input_json_delta", partial_json: '{"a"' } }),
      ev("content_block_delta", { index: 1, delta: { type: "input_json_delta", partial_json: ":1}" } }),
      ev("message_delta", { delta: { stop_reason: "tool_use" }, usage: { output_tokens: 9 } }),
      ev("error", { error: { type: "overloaded_error", message: "Overloaded" } }),
    ]),
    [
      { type: "tool_start", index: 0, id: "t", name: "f" },
      { type: "tool_args", index: 0, json: '{"a"' },
      { type: "tool_args", index: 0, json: ":1}" },
      { type: "finish", reason: "tool_calls" },
      { type: "usage", usage: { input: 5, output: 9 } },
      { type: "error", message: "Overloaded" },
    ],
  );
});

// ---- errors ---------------------------------------------------------------------------

t.test("errorBody: each API's shape and type by status", async (t) => {
  const oa = (s: number) => (errorBody("openai", s, "m") as Json).error.type;
  t.same([400, 401, 403, 404, 413, 429, 500, 502, 503, 504].map(oa), [
    "invalid_request_error",
    "authentication_error",
    "permission_error",
    "invalid_request_error",
    "invalid_request_error",
    "rate_limit_error",
    "server_error",
    "server_error",
    "server_error",
    "server_error",
  ]);
  t.same(errorBody("responses", 404, "The model `x` does not exist", "model_not_found"), {
    error: { message: "The model `x` does not exist", type: "invalid_request_error", param: null, code: "model_not_found" },
  });
  t.same(errorBody("openai", 400, "m", undefined, "messages"), { error: { message: "m", type: "invalid_request_error", param: "messages", code: null } });
  const an = (s: number) => (errorBody("anthropic", s, "m") as Json).error.type;
  t.same([400, 401, 403, 404, 413, 429, 500, 502, 503, 504, 529].map(an), [
    "invalid_request_error",
    "authentication_error",
    "permission_error",
    "not_found_error",
    "request_too_large",
    "rate_limit_error",
    "api_error",
    "api_error",
    "overloaded_error",
    "timeout_error",
    "overloaded_error",
  ]);
  t.same(errorBody("anthropic", 429, "m"), { type: "error", error: { type: "rate_limit_error", message: "m" } });
  const go = (s: number) => (errorBody("google", s, "m") as Json).error.status;
  t.same([400, 401, 403, 404, 413, 429, 500, 501, 502, 503, 504].map(go), [
    "INVALID_ARGUMENT",
    "UNAUTHENTICATED",
    "PERMISSION_DENIED",
    "NOT_FOUND",
    "INVALID_ARGUMENT",
    "RESOURCE_EXHAUSTED",
    "INTERNAL",
    "UNIMPLEMENTED",
    "UNAVAILABLE",
    "UNAVAILABLE",
    "DEADLINE_EXCEEDED",
  ]);
  t.same(errorBody("google", 404, "m"), { error: { code: 404, message: "m", status: "NOT_FOUND", details: [] } });
});

t.test("upstream errors: the message from any format's body, a clean one from a body that is not JSON; 529 is 503 outside Anthropic", async (t) => {
  t.equal(upstreamErrorMessage(400, '{"error":{"message":"m1"}}'), "m1");
  t.equal(upstreamErrorMessage(400, '{"type":"error","error":{"type":"x","message":"m2"}}'), "m2");
  t.equal(upstreamErrorMessage(400, '[{"error":{"code":400,"message":"m3","status":"INVALID_ARGUMENT"}}]'), "m3");
  t.equal(upstreamErrorMessage(503, "upstream connect error"), "The model's provider answered HTTP 503 Service Unavailable: upstream connect error");
  t.equal(upstreamErrorMessage(502, "<html>…</html>"), "The model's provider answered HTTP 502 Bad Gateway");
  t.equal(upstreamErrorMessage(500, ""), "The model's provider answered HTTP 500 Internal Server Error");
  const over = '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}';
  t.same(viaIr(openaiClient, anthropicBackend).error(529, over, "3"), {
    status: 503,
    body: { error: { message: "Overloaded", type: "server_error", param: null, code: null } },
    retryAfter: "3",
  });
  t.same(viaIr(googleClient, anthropicBackend).error(529, over, undefined).status, 503);
  t.same(passthrough("anthropic").error(529, over, undefined), { status: 529, body: JSON.parse(over) });
});

// ---- passthrough -------------------------------------------------------------------------

t.test("passthrough: unknown fields survive both ways, only the model name changes", async (t) => {
  const oa = passthrough("openai");
  const req = {
    model: "radiant-test",
    messages: [{ role: "user", content: "x", name: "bob" }],
    stream: true,
    stream_options: { include_usage: false },
    x_custom: { deep: [1] },
  };
  // but usage, always asked for on a stream (token limits count it; usage.test.ts: the client sees it only if it asked)
  t.same(oa.request(req, sctx), { path: "/v1/chat/completions", body: { ...req, model: "up-model", stream_options: { include_usage: true } } });
  t.equal(req.model, "radiant-test", "the client's body is not changed in place");
  const s = oa.stream(sctx);
  t.same(s.push({ data: '{"id":"u","model":"up","choices":[],"x":1}' }), [{ data: { id: "u", model: "radiant-test", choices: [], x: 1 } }]);
  t.same(s.push({ data: "[DONE]" }), [], "the handler writes its own [DONE]");
  t.same(oa.response({ model: "up", extra: true }, ctx), { data: { model: "radiant-test", extra: true } });
  const an = passthrough("anthropic");
  t.same(an.request({ model: "m", messages: [], max_tokens: 1, anthropic_custom: 1 }, ctx).headers, { "anthropic-version": "2023-06-01" });
  t.same(an.response({ type: "message", model: "up", x: 1 }, ctx), { data: { type: "message", model: "radiant-test", x: 1 } });
  const go = passthrough("google");
  const gb = { contents: [{ parts: [{ text: "x" }] }], cachedContent: "cachedContents/abc" };
  t.same(go.request(gb, { ...sctx, upstreamModel: "gemini-2.5-flash" }), { path: "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", body: gb });
  t.same(go.response({ candidates: [], modelVersion: "up" }, ctx), { data: { candidates: [], modelVersion: "radiant-test" } });
  t.same(go.response({ candidates: [] }, ctx), { data: { candidates: [] } }, "no modelVersion, none added");
});

t.test("passthrough: errors keep status and body; a body not in the format's shape is wrapped", async (t) => {
  const raw = '{"error":{"message":"m","type":"invalid_request_error","param":"x","code":"c","extra":1}}';
  t.same(passthrough("openai").error(400, raw, undefined), { status: 400, body: JSON.parse(raw) });
  t.same(passthrough("openai").error(502, "<html/>", "5"), {
    status: 502,
    body: { error: { message: "The model's provider answered HTTP 502 Bad Gateway", type: "server_error", param: null, code: null } },
    retryAfter: "5",
  });
  t.same(passthrough("google").error(400, '[{"error":{"code":400,"message":"m","status":"INVALID_ARGUMENT"}}]', undefined).status, 400);
  t.same(passthrough("anthropic").error(400, '{"error":{"message":"no type"}}', undefined).body, {
    type: "error",
    error: { type: "invalid_request_error", message: "no type" },
  });
});

t.test("passthrough: a stream cut short ends with the format's own error; one that ended is left alone", async (t) => {
  const ev = (type: string, data: object = {}) => ({ event: type, data: JSON.stringify({ type, ...data }) });
  const s = passthrough("anthropic").stream(sctx);
  s.push(ev("message_start", { message: { model: "up", usage: { input_tokens: 1, output_tokens: 4 } } }));
  s.push(ev("content_block_start", { index: 0, content_block: { type: "tool_use", id: "t", name: "f", input: {} } }));
  t.match(
    s.end().map((e) => [e.event, e.data]),
    [["error", { type: "error", error: { message: /before the answer's end/ } }]],
  );
  const done = passthrough("anthropic").stream(sctx);
  done.push(ev("message_start", { message: {} }));
  done.push(ev("message_stop"));
  t.same(done.end(), []);
  const bad = passthrough("anthropic").stream(sctx);
  t.same(
    bad.push({ data: "not json" }).map((e) => e.event),
    ["error"],
  );
  const oa = passthrough("openai").stream(sctx);
  oa.push({ data: JSON.stringify({ choices: [{ index: 0, delta: { content: "a" }, finish_reason: null }] }) });
  t.match(oa.end(), [{ data: { error: { message: /before the answer's end/ } } }], "OpenAI: no finish, no [DONE]");
  const oaDone = passthrough("openai").stream(sctx);
  oaDone.push({ data: JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] }) });
  oaDone.push({ data: "[DONE]" });
  t.same(oaDone.end(), []);
  const g = passthrough("google").stream(sctx);
  g.push({ data: JSON.stringify({ candidates: [{ content: { parts: [{ text: "a" }] } }] }) });
  t.match(g.end(), [{ data: { error: { code: 502 } } }], "Google: no finishReason");
  const gDone = passthrough("google").stream(sctx);
  gDone.push({ data: JSON.stringify({ candidates: [{ content: { parts: [{ text: "a" }] }, finishReason: "STOP" }] }) });
  t.same(gDone.end(), []);
});

// ---- fuzz ------------------------------------------------------------------------------------

const KEYS = [
  "messages",
  "contents",
  "role",
  "content",
  "parts",
  "text",
  "type",
  "image_url",
  "url",
  "source",
  "data",
  "media_type",
  "inlineData",
  "mimeType",
  "fileData",
  "fileUri",
  "tool_calls",
  "function",
  "name",
  "arguments",
  "id",
  "tool_call_id",
  "tool_use_id",
  "input",
  "functionCall",
  "functionResponse",
  "args",
  "response",
  "tools",
  "tool_choice",
  "toolConfig",
  "functionCallingConfig",
  "mode",
  "allowedFunctionNames",
  "functionDeclarations",
  "parameters",
  "input_schema",
  "system",
  "systemInstruction",
  "generationConfig",
  "max_tokens",
  "stream",
  "stop",
  "n",
  "is_error",
  "__proto__",
  "constructor",
];
const STRINGS = [
  "user",
  "assistant",
  "model",
  "system",
  "developer",
  "tool",
  "function",
  "text",
  "image",
  "image_url",
  "tool_use",
  "tool_result",
  "auto",
  "any",
  "none",
  "required",
  "ANY",
  "AUTO",
  "NONE",
  "data:image/png;base64,AA",
  "https://x.test/a.png",
  "{",
  "{}",
  "",
  "thinking",
  "url",
  "base64",
];

function randomJson(r: () => number, depth = 0): unknown {
  const k = r();
  if (depth > 5 || k < 0.3) {
    const p = r();
    if (p < 0.15) return null;
    if (p < 0.3) return r() < 0.5;
    if (p < 0.5) return [0, 1, -1, 2.5, 1e308, Number.MAX_SAFE_INTEGER][Math.floor(r() * 6)];
    return STRINGS[Math.floor(r() * STRINGS.length)];
  }
  if (k < 0.55) return Array.from({ length: Math.floor(r() * 4) }, () => randomJson(r, depth + 1));
  const o: Record<string, unknown> = {};
  // own properties, as JSON.parse makes them (an assignment to "__proto__" would set the prototype instead)
  for (let i = Math.floor(r() * 5); i > 0; i--)
    Object.defineProperty(o, KEYS[Math.floor(r() * KEYS.length)]!, { value: randomJson(r, depth + 1), enumerable: true, writable: true, configurable: true });
  return o;
}

/** A valid body with one subtree swapped for random JSON: malformed deep inside, not just at the top. */
function mutate(v: unknown, r: () => number): unknown {
  if (r() < 0.03) return randomJson(r, 3);
  if (Array.isArray(v)) return v.map((x) => mutate(x, r));
  if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mutate(x, r)]));
  return v;
}

const seeds: Record<string, Record<string, unknown>> = {
  openai: {
    messages: [
      { role: "system", content: "s" },
      {
        role: "user",
        content: [
          { type: "text", text: "q" },
          { type: "image_url", image_url: { url: "data:image/png;base64,AA" } },
        ],
      },
      { role: "assistant", content: null, tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }] },
      { role: "tool", tool_call_id: "c", content: "r" },
    ],
    tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }],
    tool_choice: "auto",
  },
  anthropic: {
    system: "s",
    messages: [
      {
        role: "user",
        content: [
          { type: "text", text: "q" },
          { type: "image", source: { type: "base64", media_type: "image/png", data: "AA" } },
        ],
      },
      { role: "assistant", content: [{ type: "tool_use", id: "c", name: "f", input: {} }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "c", content: "r" }] },
    ],
    tools: [{ name: "f", input_schema: { type: "object" } }],
    tool_choice: { type: "auto" },
  },
  google: {
    systemInstruction: { parts: [{ text: "s" }] },
    contents: [
      { role: "user", parts: [{ text: "q" }, { inlineData: { mimeType: "image/png", data: "AA" } }] },
      { role: "model", parts: [{ functionCall: { name: "f", args: {} } }] },
      { role: "user", parts: [{ functionResponse: { name: "f", response: {} } }] },
    ],
    tools: [{ functionDeclarations: [{ name: "f", parameters: { type: "OBJECT" } }] }],
    toolConfig: { functionCallingConfig: { mode: "AUTO" } },
  },
};

t.test("fuzz: fromClient (and the backends after it) throw nothing but TranslateError on any JSON", async (t) => {
  const r = rng(20240601);
  let refused = 0;
  let passed = 0;
  for (const c of clients) {
    for (let i = 0; i < 600; i++) {
      const v = i % 2 === 0 ? randomJson(r) : mutate(seeds[c.api], r);
      const b = (typeof v === "object" && v !== null && !Array.isArray(v) ? v : { messages: v, contents: v }) as Record<string, unknown>;
      try {
        const req = c.fromClient(b, ctx);
        for (const be of backends) {
          try {
            JSON.stringify(be.toUpstream(req, ctx));
          } catch (e) {
            if (!(e instanceof TranslateError)) throw e;
          }
        }
        passed++;
      } catch (e) {
        if (!(e instanceof TranslateError)) {
          t.fail(`${c.api} threw ${(e as Error)?.stack ?? String(e)} on ${JSON.stringify(b)}`);
          return;
        }
        t.ok(e.message.length > 0 && e.status === 400);
        refused++;
      }
    }
  }
  t.ok(refused > 100 && passed > 20, `refused ${refused}, passed ${passed}`);
});

t.test("fuzz: upstream answers, streams and errors never throw, and the client stream still closes", async (t) => {
  const r = rng(7);
  for (const be of backends) {
    for (let i = 0; i < 300; i++) {
      const v = randomJson(r);
      const resp = be.fromUpstream(v);
      t.ok(Array.isArray(resp.parts));
      for (const c of clients) JSON.stringify(c.toClient(resp, ctx));
      const d = be.upstreamStream();
      const s = clients[i % 3]!.clientStream(sctx);
      for (let j = 0; j < 4; j++) {
        const data = r() < 0.2 ? "not json" : JSON.stringify(randomJson(r));
        for (const e of d({ data })) s.push(e);
      }
      s.end();
      const msg = be.upstreamError(400, r() < 0.5 ? JSON.stringify(v) : JSON.stringify(v).slice(1)).message;
      t.equal(typeof msg, "string");
    }
  }
});
