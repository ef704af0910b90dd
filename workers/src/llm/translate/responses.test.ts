// The Responses API as a client: the codec on its own (requests in, answers and
// streams out, every malformed body a TranslateError), and golden files of the
// three pairs against recorded upstream answers (UPDATE_GOLDEN=1 rewrites them).
import { readdirSync } from "node:fs";
import { join } from "node:path";
import t, { type Test } from "tap";
import { rng } from "../../../test/rng.js";
import { caseInputs, matchSnapshot, runCase, testdata } from "../../../test/golden.js";
import { responsesClient } from "./codec_responses.js";
import { translator as responses_anthropic } from "./responses_anthropic.js";
import { translator as responses_google } from "./responses_google.js";
import { translator as responses_openai } from "./responses_openai.js";
import { type ClientEvent, type IrStreamEvent, type TranslateContext, TranslateError } from "./types.js";

const ctx: TranslateContext = { model: "client-model", upstreamModel: "up-model", id: "test1", created: 1700000000, stream: false, includeUsage: false };

/** The TranslateError a body gives (fails the test on any other outcome). */
function refusal(t: Test, body: Record<string, unknown>): TranslateError | undefined {
  try {
    responsesClient.fromClient(body, ctx);
  } catch (e) {
    if (e instanceof TranslateError) return e;
    t.fail(`threw ${String(e)} instead of a TranslateError`);
    return undefined;
  }
  t.fail(`accepted ${JSON.stringify(body)}`);
  return undefined;
}

t.test("a string input is one user message; instructions are the system prompt", async (t) => {
  const ir = responsesClient.fromClient({ model: "m", input: "Hi", instructions: "Be brief", max_output_tokens: 50, temperature: 0.5, top_p: 0.9 }, ctx);
  t.same(ir, {
    system: "Be brief",
    messages: [{ role: "user", parts: [{ type: "text", text: "Hi" }] }],
    maxTokens: 50,
    temperature: 0.5,
    topP: 0.9,
    stream: false,
  });
  t.equal(responsesClient.fromClient({ input: "Hi", stream: true }, ctx).stream, true);
});

t.test("a list of items: messages, function calls and their outputs, one neutral message per turn", async (t) => {
  const ir = responsesClient.fromClient(
    {
      instructions: "first",
      input: [
        { role: "developer", content: "second" },
        {
          type: "message",
          role: "user",
          content: [
            { type: "input_text", text: "Look:" },
            { type: "input_image", image_url: "https://x.test/a.png", detail: "auto" },
          ],
        },
        { role: "user", content: [{ type: "input_image", image_url: "data:image/jpeg;base64,QUJD" }] },
        {
          type: "message",
          id: "msg_1",
          role: "assistant",
          status: "completed",
          content: [{ type: "output_text", text: "Checking.", annotations: [] }],
        },
        { type: "function_call", id: "fc_1", call_id: "call_a", name: "weather", arguments: '{"city":"Paris"}', status: "completed" },
        { type: "function_call", call_id: "call_b", name: "time", arguments: "{}" },
        { type: "function_call_output", call_id: "call_a", output: "sunny" },
        { type: "function_call_output", call_id: "call_b", output: [{ type: "input_text", text: "12:00" }] },
        { type: "function_call_output", call_id: "call_unknown", output: "?" },
        { role: "system", content: [{ type: "input_text", text: "third" }] },
        { role: "assistant", content: "" },
        { role: "user", content: "thanks" },
      ],
      tools: [
        {
          type: "function",
          name: "weather",
          description: "Weather now",
          parameters: { type: "object", properties: { city: { type: "string" } } },
          strict: true,
        },
        { type: "function", name: "time", parameters: null, strict: null },
      ],
      tool_choice: { type: "function", name: "weather" },
      store: false,
      metadata: { a: "b" },
      parallel_tool_calls: false,
    },
    ctx,
  );
  t.same(ir, {
    system: "first\n\nsecond\n\nthird",
    messages: [
      {
        role: "user",
        parts: [
          { type: "text", text: "Look:" },
          { type: "image", url: "https://x.test/a.png" },
          { type: "image", mediaType: "image/jpeg", data: "QUJD" },
        ],
      },
      {
        role: "assistant",
        parts: [
          { type: "text", text: "Checking." },
          { type: "tool_call", id: "call_a", name: "weather", arguments: '{"city":"Paris"}' },
          { type: "tool_call", id: "call_b", name: "time", arguments: "{}" },
        ],
      },
      {
        role: "user",
        parts: [
          { type: "tool_result", callId: "call_a", name: "weather", content: "sunny" },
          { type: "tool_result", callId: "call_b", name: "time", content: "12:00" },
          { type: "tool_result", callId: "call_unknown", content: "?" },
          { type: "text", text: "thanks" },
        ],
      },
    ],
    tools: [
      { name: "weather", description: "Weather now", parameters: { type: "object", properties: { city: { type: "string" } } } },
      { name: "time", parameters: { type: "object", properties: {} } },
    ],
    toolChoice: { name: "weather" },
    stream: false,
  });
  for (const choice of ["auto", "none", "required"]) t.equal(responsesClient.fromClient({ input: "x", tool_choice: choice }, ctx).toolChoice, choice);
});

t.test("what cannot be translated is refused, naming the field", async (t) => {
  const cases: [Record<string, unknown>, string, RegExp?][] = [
    [{}, "input", /required/],
    [{ input: 5 }, "input"],
    [{ input: [] }, "input", /at least one/],
    [{ input: [{ role: "system", content: "only a system prompt" }] }, "input"],
    [{ input: [7] }, "input[0]"],
    [{ input: [{ role: "tool", content: "x" }] }, "input[0].role"],
    [{ input: [{ content: "no role" }] }, "input[0].role"],
    [{ input: [{ role: "user", content: [{ type: "input_image", file_id: "file-1" }] }] }, "input[0].content[0].file_id", /image_url/],
    [{ input: [{ role: "user", content: [{ type: "input_image", image_url: "ftp://x/y.png" }] }] }, "input[0].content[0].image_url"],
    [{ input: [{ role: "user", content: [{ type: "input_file", file_id: "file-1" }] }] }, "input[0].content[0].type"],
    [{ input: [{ role: "user", content: [{ type: "output_text", text: "x" }] }] }, "input[0].content[0].type"],
    [{ input: [{ role: "user", content: [{ type: "input_text" }] }] }, "input[0].content[0].text"],
    [{ input: [{ role: "assistant", content: [{ type: "input_image", image_url: "https://x/y.png" }] }] }, "input[0].content[0].type"],
    [{ input: [{ role: "developer", content: [{ type: "input_image", image_url: "https://x/y.png" }] }] }, "input[0].content[0].type"],
    [{ input: [{ type: "function_call", name: "f", arguments: "{}" }] }, "input[0].call_id"],
    [{ input: [{ type: "function_call", call_id: "c", name: "f", arguments: {} }] }, "input[0].arguments"],
    [{ input: [{ type: "function_call_output", call_id: "c", output: 3 }] }, "input[0].output"],
    [{ input: [{ type: "function_call_output", call_id: "c", output: [{ type: "input_image", image_url: "https://x/y.png" }] }] }, "input[0].output[0].type"],
    [{ input: [{ type: "item_reference", id: "msg_1" }] }, "input[0].type", /stored/],
    [{ input: [{ type: "reasoning", id: "rs_1", summary: [] }] }, "input[0].type"],
    [{ input: [{ type: "web_search_call", id: "ws_1" }] }, "input[0].type"],
    [{ input: "x", instructions: 3 }, "instructions"],
    [{ input: "x", tools: {} }, "tools"],
    [{ input: "x", tools: [{ type: "web_search" }] }, "tools[0].type", /web_search/],
    [{ input: "x", tools: [{ type: "file_search", vector_store_ids: [] }] }, "tools[0].type", /file_search/],
    [{ input: "x", tools: [{ type: "function", parameters: {} }] }, "tools[0].name"],
    [{ input: "x", tools: [{ type: "function", name: "f", parameters: "{}" }] }, "tools[0].parameters"],
    [{ input: "x", tool_choice: "any" }, "tool_choice"],
    [{ input: "x", tool_choice: { type: "web_search_preview" } }, "tool_choice.type"],
    [{ input: "x", tool_choice: { type: "function" } }, "tool_choice.name"],
    [{ input: "x", previous_response_id: "resp_1" }, "previous_response_id", /no response state/],
    [{ input: [{ type: "item_reference", id: "fc_1" }], previous_response_id: "resp_1" }, "previous_response_id"],
    [{ input: "x", store: true }, "store", /no response state/],
    [{ input: "x", conversation: "conv_1" }, "conversation"],
    [{ input: "x", background: true }, "background"],
    [{ input: "x", prompt: { id: "pmpt_1" } }, "prompt"],
    [{ input: "x", top_logprobs: 2 }, "top_logprobs"],
    [{ input: "x", text: { format: { type: "json_schema", name: "n", schema: {} } } }, "text.format"],
    [{ input: "x", max_output_tokens: 0 }, "max_output_tokens"],
    [{ input: "x", max_output_tokens: 1.5 }, "max_output_tokens"],
    [{ input: "x", temperature: "hot" }, "temperature"],
    [{ input: "x", top_p: [] }, "top_p"],
    [{ input: "x", stream: "yes" }, "stream"],
  ];
  for (const [body, param, message] of cases) {
    const e = refusal(t, body);
    if (!e) continue;
    t.equal(e.param, param, JSON.stringify(body));
    t.equal(e.status, 400);
    t.ok(e.message.startsWith(`${param}: `), e.message);
    if (message) t.match(e.message, message);
  }
  // null is "not given", as the SDK sends for optional fields
  t.doesNotThrow(() =>
    responsesClient.fromClient(
      { input: "x", previous_response_id: null, store: null, text: { format: { type: "text" } }, tools: null, temperature: null },
      ctx,
    ),
  );
});

t.test("a plain answer: text, tool calls, usage, and why it stopped", async (t) => {
  const r = responsesClient.toClient(
    {
      parts: [
        { type: "text", text: "Let me " },
        { type: "text", text: "check." },
        { type: "tool_call", id: "toolu_1", name: "weather", arguments: '{"city":"Paris"}' },
        { type: "tool_call", id: "toolu_2", name: "time", arguments: "{}" },
      ],
      finish: "tool_calls",
      usage: { input: 10, output: 5 },
    },
    ctx,
  );
  t.equal(r.event, undefined);
  t.same(r.data, {
    id: "resp_test1",
    object: "response",
    created_at: 1700000000,
    status: "completed",
    error: null,
    incomplete_details: null,
    instructions: null,
    max_output_tokens: null,
    model: "client-model",
    output: [
      { id: "msg_test1", type: "message", status: "completed", role: "assistant", content: [{ type: "output_text", text: "Let me check.", annotations: [] }] },
      { id: "fc_test1_0", type: "function_call", status: "completed", call_id: "toolu_1", name: "weather", arguments: '{"city":"Paris"}' },
      { id: "fc_test1_1", type: "function_call", status: "completed", call_id: "toolu_2", name: "time", arguments: "{}" },
    ],
    parallel_tool_calls: true,
    previous_response_id: null,
    store: false,
    temperature: null,
    tool_choice: "auto",
    tools: [],
    top_p: null,
    usage: { input_tokens: 10, input_tokens_details: { cached_tokens: 0 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 15 },
    metadata: null,
  });

  const cut = responsesClient.toClient({ parts: [{ type: "text", text: "Once upon" }], finish: "length" }, ctx).data as Record<string, unknown>;
  t.equal(cut.status, "incomplete");
  t.same(cut.incomplete_details, { reason: "max_output_tokens" });
  t.match(cut.output, [{ type: "message", status: "incomplete" }]);
  t.equal(cut.usage, null);
  for (const finish of ["content_filter", "refusal"] as const) {
    const f = responsesClient.toClient({ parts: [], finish }, ctx).data as Record<string, unknown>;
    t.equal(f.status, "incomplete");
    t.same(f.incomplete_details, { reason: "content_filter" });
    t.same(f.output, []);
  }
  // text after a tool call is a second message, with an id of its own
  const two = responsesClient.toClient(
    {
      parts: [
        { type: "text", text: "a" },
        { type: "tool_call", id: "c", name: "f", arguments: "{}" },
        { type: "text", text: "" },
        { type: "text", text: "b" },
      ],
      finish: "stop",
    },
    ctx,
  ).data as { output: { id: string }[] };
  t.same(
    two.output.map((o) => o.id),
    ["msg_test1", "fc_test1_0", "msg_test1_1"],
  );
});

t.test("errors have OpenAI's shape; Anthropic's 529 becomes 503", async (t) => {
  t.same(responsesClient.clientError(429, "slow down", "7"), {
    status: 429,
    body: { error: { message: "slow down", type: "rate_limit_error", param: null, code: null } },
    retryAfter: "7",
  });
  const e = responsesClient.clientError(529, "Overloaded");
  t.equal(e.status, 503);
  t.equal(e.retryAfter, undefined);
  t.match(e.body, { error: { message: "Overloaded", type: "server_error" } });
});

// ---- streams -------------------------------------------------------------------

function run(events: IrStreamEvent[], c: TranslateContext = { ...ctx, stream: true }): ClientEvent[] {
  const s = responsesClient.clientStream(c);
  return [...events.flatMap((e) => s.push(e)), ...s.end(), ...s.end()];
}

type Data = Record<string, unknown> & { type: string; sequence_number: number };
const datas = (evs: ClientEvent[]) => evs.map((e) => e.data as Data);

/**
 * What a client builds from the events, checked as it goes the way the openai
 * SDK's accumulator does: items are added at the next output_index, deltas name
 * an existing item, the closing event's response has the same output.
 */
function replay(t: Test, evs: ClientEvent[]): Record<string, unknown> {
  const out: Record<string, unknown>[] = [];
  let final: Record<string, unknown> | undefined;
  evs.forEach((e, i) => {
    const d = e.data as Data;
    t.equal(e.event, d.type, "the event's name is its type");
    t.equal(d.sequence_number, i, "numbered from 0 in order");
    const item = typeof d.output_index === "number" ? out[d.output_index] : undefined;
    switch (d.type) {
      case "response.created":
      case "response.in_progress":
        t.match(d.response, { status: "in_progress", output: [] });
        break;
      case "response.output_item.added":
        t.equal(d.output_index, out.length);
        out.push(structuredClone(d.item as Record<string, unknown>));
        break;
      case "response.content_part.added":
        (item!.content as unknown[]).push(d.part);
        break;
      case "response.output_text.delta": {
        const part = (item!.content as { text: string }[])[d.content_index as number]!;
        part.text += d.delta as string;
        t.equal(d.item_id, item!.id);
        break;
      }
      case "response.output_text.done":
        t.equal((item!.content as { text: string }[])[d.content_index as number]!.text, d.text);
        break;
      case "response.function_call_arguments.delta":
        item!.arguments = (item!.arguments as string) + (d.delta as string);
        t.equal(d.item_id, item!.id);
        break;
      case "response.function_call_arguments.done":
        t.equal(item!.arguments, d.arguments);
        break;
      case "response.content_part.done":
      case "response.output_item.done":
        if (d.type === "response.output_item.done") out[d.output_index as number] = d.item as Record<string, unknown>;
        break;
      case "response.completed":
      case "response.incomplete":
      case "response.failed":
        t.equal(i, evs.length - 1, "the closing event is the last");
        final = d.response as Record<string, unknown>;
        // a failed response marks what was open as incomplete; the others hold exactly what was built
        if (d.type === "response.failed") t.equal((final.output as unknown[]).length, out.length, "the failed response holds the items");
        else t.same(final.output, out, "the closing response holds what the events built");
        break;
      case "error":
        break;
      default:
        t.fail(`unexpected event ${d.type}`);
    }
  });
  t.ok(final, "a closing event");
  return final ?? {};
}

t.test("a streamed text answer", async (t) => {
  const evs = run([
    { type: "text", text: "Hel" },
    { type: "text", text: "" },
    { type: "text", text: "lo" },
    { type: "usage", usage: { input: 3, output: 1 } },
    { type: "finish", reason: "stop" },
    { type: "usage", usage: { input: 3, output: 2 } },
  ]);
  t.same(
    datas(evs).map((d) => d.type),
    [
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ],
  );
  const d = datas(evs);
  t.same(d[2], {
    type: "response.output_item.added",
    output_index: 0,
    item: { id: "msg_test1", type: "message", status: "in_progress", role: "assistant", content: [] },
    sequence_number: 2,
  });
  t.same(d[4], { type: "response.output_text.delta", item_id: "msg_test1", output_index: 0, content_index: 0, delta: "Hel", logprobs: [], sequence_number: 4 });
  const final = replay(t, evs);
  t.match(final, { id: "resp_test1", status: "completed", model: "client-model", usage: { input_tokens: 3, output_tokens: 2, total_tokens: 5 } });
});

t.test("a streamed answer with text and two tool calls", async (t) => {
  const evs = run([
    { type: "text", text: "Checking." },
    { type: "tool_start", index: 0, id: "toolu_a", name: "weather" },
    { type: "tool_args", index: 0, json: '{"city":' },
    { type: "tool_args", index: 0, json: '"Paris"}' },
    { type: "tool_start", index: 1, id: "toolu_b", name: "time" },
    { type: "tool_args", index: 0, json: "late" },
    { type: "tool_args", index: 1, json: "{}" },
    { type: "finish", reason: "tool_calls" },
  ]);
  const final = replay(t, evs);
  t.match(final, {
    status: "completed",
    usage: null,
    output: [
      { type: "message", status: "completed", content: [{ text: "Checking." }] },
      { type: "function_call", id: "fc_test1_0", call_id: "toolu_a", name: "weather", arguments: '{"city":"Paris"}', status: "completed" },
      { type: "function_call", id: "fc_test1_1", call_id: "toolu_b", name: "time", arguments: "{}", status: "completed" },
    ],
  });
  const added = datas(evs).find((d) => d.type === "response.output_item.added" && d.output_index === 1);
  t.same(added?.item, { id: "fc_test1_0", type: "function_call", status: "in_progress", call_id: "toolu_a", name: "weather", arguments: "" });
  t.match(
    datas(evs).find((d) => d.type === "response.function_call_arguments.done" && d.output_index === 1),
    { item_id: "fc_test1_0", name: "weather", arguments: '{"city":"Paris"}' },
  );
});

t.test("a streamed answer cut by the token limit is incomplete", async (t) => {
  const final = replay(
    t,
    run([
      { type: "text", text: "Once" },
      { type: "finish", reason: "length" },
    ]),
  );
  t.match(final, { status: "incomplete", incomplete_details: { reason: "max_output_tokens" }, output: [{ status: "incomplete" }] });
});

t.test("an upstream error mid-stream: an error event, then response.failed", async (t) => {
  const evs = run([
    { type: "text", text: "Par" },
    { type: "error", message: "Overloaded" },
    { type: "text", text: "ignored" },
  ]);
  const d = datas(evs);
  t.same(d.at(-2), { type: "error", code: "server_error", message: "Overloaded", param: null, sequence_number: evs.length - 2 });
  const final = replay(t, evs);
  t.match(final, {
    status: "failed",
    error: { code: "server_error", message: "Overloaded" },
    output: [{ type: "message", status: "incomplete", content: [{ text: "Par" }] }],
  });
});

t.test("a stream that ends without a finish reason was cut short: it fails", async (t) => {
  const evs = run([
    { type: "tool_start", index: 0, id: "toolu_a", name: "weather" },
    { type: "tool_args", index: 0, json: '{"ci' },
  ]);
  t.match(replay(t, evs), {
    status: "failed",
    error: { code: "server_error", message: /ended the stream/ },
    output: [{ type: "function_call", status: "incomplete", arguments: '{"ci' }],
  });
  const empty = run([]);
  t.same(
    datas(empty).map((d) => d.type),
    ["response.created", "response.in_progress", "error", "response.failed"],
  );
});

t.test("an empty answer that finished still opens and closes the response", async (t) => {
  const evs = run([{ type: "finish", reason: "stop" }]);
  t.same(
    datas(evs).map((d) => d.type),
    ["response.created", "response.in_progress", "response.completed"],
  );
  t.match(replay(t, evs), { status: "completed", output: [] });
});

// ---- random bodies -------------------------------------------------------------

// the words of a Responses body, so random bodies get past the first checks often
const KEYS = [
  "input",
  "type",
  "role",
  "content",
  "text",
  "image_url",
  "file_id",
  "call_id",
  "name",
  "arguments",
  "output",
  "tools",
  "parameters",
  "tool_choice",
];
const WORDS = [
  "message",
  "user",
  "assistant",
  "system",
  "developer",
  "input_text",
  "input_image",
  "output_text",
  "refusal",
  "function_call",
  "function_call_output",
  "function",
  "web_search",
  "auto",
  "required",
  "data:image/png;base64,AA==",
  "https://x.test/i.png",
  "",
];

function randomJson(r: () => number, depth: number): unknown {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const k = r();
  if (depth <= 0 || k < 0.35) return pick<unknown>([null, true, false, 0, -1, 1.5, 1e300, 2 ** 53, "x", ...WORDS]);
  if (k < 0.6) return Array.from({ length: Math.floor(r() * 4) }, () => randomJson(r, depth - 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(r() * 5); i > 0; i--) o[r() < 0.85 ? pick(KEYS) : "__proto__"] = randomJson(r, depth - 1);
  return o;
}

/** A valid body of each kind, to mutate: most random changes then land deep inside. */
const TEMPLATES: Record<string, unknown>[] = [
  { model: "m", input: "Hi", instructions: "Be brief", max_output_tokens: 10, temperature: 1, top_p: 1, stream: true },
  {
    input: [
      { role: "developer", content: [{ type: "input_text", text: "sys" }] },
      {
        type: "message",
        role: "user",
        content: [
          { type: "input_text", text: "a" },
          { type: "input_image", image_url: "https://x.test/i.png" },
        ],
      },
      { type: "message", role: "assistant", content: [{ type: "output_text", text: "b", annotations: [] }] },
      { type: "function_call", call_id: "c1", name: "f", arguments: "{}" },
      { type: "function_call_output", call_id: "c1", output: [{ type: "input_text", text: "r" }] },
    ],
    tools: [{ type: "function", name: "f", description: "d", parameters: { type: "object", properties: {} }, strict: true }],
    tool_choice: { type: "function", name: "f" },
    text: { format: { type: "text" } },
    store: false,
  },
];

/** A copy of v with one node somewhere replaced by random JSON, or removed. */
function mutate(r: () => number, v: unknown): unknown {
  if (Array.isArray(v)) {
    if (v.length === 0 || r() < 0.2) return randomJson(r, 3);
    const i = Math.floor(r() * v.length);
    const copy = [...v];
    if (r() < 0.1) copy.splice(i, 1);
    else copy[i] = mutate(r, copy[i]);
    return copy;
  }
  if (typeof v === "object" && v !== null) {
    const keys = Object.keys(v);
    if (keys.length === 0 || r() < 0.2) return randomJson(r, 3);
    const k = keys[Math.floor(r() * keys.length)]!;
    const copy: Record<string, unknown> = { ...(v as Record<string, unknown>) };
    if (r() < 0.15) delete copy[k];
    else copy[k] = mutate(r, copy[k]);
    return copy;
  }
  return randomJson(r, 2);
}

t.test("random bodies: a neutral request or a TranslateError, never another throw", async (t) => {
  const r = rng(20261126);
  const fields = [
    "input",
    "instructions",
    "tools",
    "tool_choice",
    "max_output_tokens",
    "temperature",
    "top_p",
    "stream",
    "store",
    "previous_response_id",
    "text",
  ];
  let accepted = 0;
  let refused = 0;
  for (let i = 0; i < 600; i++) {
    let body: Record<string, unknown> = {};
    if (i % 2 === 0) {
      for (const f of fields) if (r() < (f === "input" ? 0.95 : 0.3)) body[f] = randomJson(r, f === "input" ? 5 : 3);
    } else {
      let m: unknown = TEMPLATES[Math.floor(r() * TEMPLATES.length)];
      for (let n = 1 + Math.floor(r() * 3); n > 0; n--) m = mutate(r, m);
      body = typeof m === "object" && m !== null && !Array.isArray(m) ? (m as Record<string, unknown>) : { input: m };
    }
    try {
      const ir = responsesClient.fromClient(body, ctx);
      if (ir.messages.length === 0) t.fail(`body ${i}: no messages`);
      accepted++;
    } catch (e) {
      if (!(e instanceof TranslateError)) {
        t.fail(`body ${i} threw ${String(e)}: ${JSON.stringify(body)}`);
        continue;
      }
      refused++;
      if (e.param === undefined || !e.message.startsWith(`${e.param}: `)) t.fail(`body ${i}: the message names no field: ${e.message}`);
    }
  }
  t.ok(accepted > 20, `some random bodies are valid (${accepted})`);
  t.ok(refused > 100, `many are refused (${refused})`);
});

// ---- golden files ----------------------------------------------------------------
// The layout of translate.test.ts: testdata/client/<case>.responses.json is the
// request, testdata/upstream/<case>.<backend>.json the upstream's answer (for
// the OpenAI pair <case>.openai_responses.json: OpenAI's own Responses API
// answers), testdata/responses/<case>.<backend>.snap what the client gets.

const goldenCases = readdirSync(join(testdata, "client"))
  .filter((f) => f.endsWith(".responses.json"))
  .map((f) => f.split(".")[0]!)
  .sort();

t.test("golden: every case through every backend", async (t) => {
  t.ok(goldenCases.length >= 13, "the shared cases");
  for (const tr of [responses_openai, responses_anthropic, responses_google]) {
    t.equal(tr.client, "responses");
    for (const k of goldenCases) {
      const { body, up } = caseInputs(k, "responses", tr.backend === "openai" ? "openai_responses" : tr.backend);
      const result = runCase(tr, body, up);
      matchSnapshot(t, tr, k, result);
      // what a client reads must hold together, whichever backend answered
      if (Array.isArray(result.stream)) {
        // ours are checked whole; OpenAI's own are passed on as they came, so only their order and names
        if (tr.backend !== "openai") replay(t, result.stream as ClientEvent[]);
        else
          (result.stream as ClientEvent[]).forEach((e, i) => {
            const d = e.data as Data;
            t.equal(e.event, d.type);
            t.equal(d.sequence_number, i);
          });
      }
    }
  }
});
