// The echo upstream in OpenAI's wire format: Chat Completions and the Responses
// API, plain and streamed, the model list, and OpenAI's error bodies, shaped
// as the `openai` SDK (v6) types them.
import { randomBytes } from "node:crypto";
import { type Answer, answer, type BadRequest, isBadRequest, isObject, pieces, readOpenAIChat, readOpenAIResponses, wordPieces } from "./echo_answer.js";
import type { EchoFormat, Reply, RequestHead, Route } from "./echo_server.js";

const FINGERPRINT = "fp_echo";
const MODELS = ["echo-openai"];

const id = (prefix: string) => `${prefix}${randomBytes(12).toString("hex")}`;
const now = () => Math.floor(Date.now() / 1000);
const json = (status: number, body: unknown): Reply => ({
  status,
  headers: { "content-type": "application/json", "x-request-id": id("req_") },
  chunks: [JSON.stringify(body)],
  stream: false,
});
const sse = (chunks: Iterable<string>): Reply => ({
  status: 200,
  headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-request-id": id("req_") },
  chunks,
  stream: true,
});
const data = (v: unknown) => `data: ${JSON.stringify(v)}\n\n`;

/** OpenAI's error `type` (and `code`) for a status. */
function errorKind(status: number): { type: string; code: string | null } {
  if (status === 401) return { type: "invalid_request_error", code: "invalid_api_key" };
  if (status === 403) return { type: "invalid_request_error", code: "unsupported_country_region_territory" };
  if (status === 429) return { type: "requests", code: "rate_limit_exceeded" };
  if (status >= 500) return { type: "server_error", code: null };
  return { type: "invalid_request_error", code: null };
}

const DEFAULT_MESSAGES: Record<number, string> = {
  400: "Invalid request.",
  401: "Incorrect API key provided.",
  403: "Country, region, or territory not supported.",
  404: "Not found.",
  413: "Request too large.",
  429: "Rate limit reached for requests. Please try again in 1s.",
  500: "The server had an error while processing your request. Sorry about that!",
  503: "The engine is currently overloaded, please try again later.",
};

function error(status: number, message?: string, param: string | null = null): Reply {
  const { type, code } = errorKind(status);
  return json(status, { error: { message: message ?? DEFAULT_MESSAGES[status] ?? `Error ${status}.`, type, param, code } });
}

const refuse = (b: BadRequest) => error(400, b.error, b.param ?? null);

/** The request's `stream` flag; a non-boolean is refused as the API does. */
function streamFlag(body: Record<string, unknown>): boolean | BadRequest {
  if (body.stream === undefined || body.stream === null) return false;
  if (typeof body.stream !== "boolean") return { error: "Invalid type for 'stream': expected a boolean.", param: "stream" };
  return body.stream;
}

// ---- Chat Completions ----

function chatUsage(a: Answer) {
  return {
    prompt_tokens: a.inputTokens,
    completion_tokens: a.outputTokens,
    total_tokens: a.inputTokens + a.outputTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

const chatFinish = (a: Answer) => (a.kind === "tool" ? "tool_calls" : a.truncated ? "length" : "stop");

function chatCompletion(body: unknown): Reply {
  if (!isObject(body)) return error(400, "The request body must be a JSON object.");
  const input = readOpenAIChat(body);
  if (isBadRequest(input)) return refuse(input);
  const stream = streamFlag(body);
  if (typeof stream !== "boolean") return refuse(stream);
  const a = answer(input);
  if (isBadRequest(a)) return error(400, a.error, "messages");
  const model = body.model as string;
  if (stream) {
    const includeUsage = isObject(body.stream_options) && body.stream_options.include_usage === true;
    return sse(chatChunks(a, model, includeUsage));
  }
  const message =
    a.kind === "tool"
      ? {
          role: "assistant",
          content: null,
          tool_calls: [{ id: id("call_"), type: "function", function: { name: a.name, arguments: a.argsJson } }],
          refusal: null,
          annotations: [],
        }
      : { role: "assistant", content: a.text, refusal: null, annotations: [] };
  return json(200, {
    id: id("chatcmpl-"),
    object: "chat.completion",
    created: now(),
    model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: chatFinish(a) }],
    usage: chatUsage(a),
    service_tier: "default",
    system_fingerprint: FINGERPRINT,
  });
}

function* chatChunks(a: Answer, model: string, includeUsage: boolean): Generator<string> {
  const head = { id: id("chatcmpl-"), object: "chat.completion.chunk", created: now(), model, service_tier: "default", system_fingerprint: FINGERPRINT };
  // with include_usage every chunk says usage:null until the last one carries it
  const chunk = (delta: Record<string, unknown>, finish: string | null) =>
    data({ ...head, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...(includeUsage ? { usage: null } : {}) });
  if (a.kind === "tool") {
    const call = { index: 0, id: id("call_"), type: "function", function: { name: a.name, arguments: "" } };
    yield chunk({ role: "assistant", content: null, tool_calls: [call], refusal: null }, null);
    for (const p of pieces(a.argsJson)) yield chunk({ tool_calls: [{ index: 0, function: { arguments: p } }] }, null);
  } else {
    yield chunk({ role: "assistant", content: "", refusal: null }, null);
    for (const w of wordPieces(a.text)) yield chunk({ content: w }, null);
  }
  yield chunk({}, chatFinish(a));
  if (includeUsage) yield data({ ...head, choices: [], usage: chatUsage(a) });
  yield "data: [DONE]\n\n";
}

// ---- Responses ----

type Item = Record<string, unknown>;

function responsesCall(body: unknown): Reply {
  if (!isObject(body)) return error(400, "The request body must be a JSON object.");
  const input = readOpenAIResponses(body);
  if (isBadRequest(input)) return refuse(input);
  const stream = streamFlag(body);
  if (typeof stream !== "boolean") return refuse(stream);
  const a = answer(input);
  if (isBadRequest(a)) return error(400, a.error, "input");
  const r = new ResponseShape(body, a);
  if (stream) return sse(r.events());
  return json(200, r.response(r.finalStatus, [r.item(true)], true));
}

/** One Responses API answer: the response object at each stage, and its events. */
class ResponseShape {
  readonly id = id("resp_");
  readonly created = now();
  readonly itemId: string;
  readonly callId = id("call_");
  readonly finalStatus: "completed" | "incomplete";

  constructor(
    private readonly body: Record<string, unknown>,
    private readonly a: Answer,
  ) {
    this.itemId = a.kind === "tool" ? id("fc_") : id("msg_");
    this.finalStatus = a.truncated ? "incomplete" : "completed";
  }

  /** the output item, finished or just begun */
  item(done: boolean): Item {
    const a = this.a;
    const status = done ? this.finalStatus : "in_progress";
    if (a.kind === "tool") return { id: this.itemId, type: "function_call", status, arguments: done ? a.argsJson : "", call_id: this.callId, name: a.name };
    return { id: this.itemId, type: "message", status, content: done ? [this.part(a.text)] : [], role: "assistant" };
  }

  part(text: string): Item {
    return { type: "output_text", annotations: [], logprobs: [], text };
  }

  response(status: string, output: Item[], done: boolean): Item {
    const b = this.body;
    const a = this.a;
    const pick = <T>(v: unknown, ok: (v: unknown) => boolean, dflt: T) => (ok(v) ? v : dflt);
    const num = (v: unknown) => typeof v === "number";
    return {
      id: this.id,
      object: "response",
      created_at: this.created,
      status,
      background: false,
      completed_at: done && status === "completed" ? now() : null,
      error: null,
      incomplete_details: done && a.truncated ? { reason: "max_output_tokens" } : null,
      instructions: pick(b.instructions, (v) => typeof v === "string", null),
      max_output_tokens: pick(b.max_output_tokens, num, null),
      max_tool_calls: null,
      model: b.model,
      output,
      parallel_tool_calls: pick(b.parallel_tool_calls, (v) => typeof v === "boolean", true),
      previous_response_id: pick(b.previous_response_id, (v) => typeof v === "string", null),
      reasoning: { effort: null, summary: null },
      service_tier: "default",
      store: pick(b.store, (v) => typeof v === "boolean", true),
      temperature: pick(b.temperature, num, 1),
      text: { format: { type: "text" }, verbosity: "medium" },
      tool_choice: pick(b.tool_choice, (v) => typeof v === "string" || isObject(v), "auto"),
      tools: pick(b.tools, Array.isArray, []),
      top_logprobs: 0,
      top_p: pick(b.top_p, num, 1),
      truncation: "disabled",
      usage: done
        ? {
            input_tokens: a.inputTokens,
            input_tokens_details: { cached_tokens: 0 },
            output_tokens: a.outputTokens,
            output_tokens_details: { reasoning_tokens: 0 },
            total_tokens: a.inputTokens + a.outputTokens,
          }
        : null,
      user: null,
      metadata: pick(b.metadata, isObject, {}),
    };
  }

  *events(): Generator<string> {
    let seq = 0;
    const ev = (type: string, fields: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...fields })}\n\n`;
    const a = this.a;
    const at = { item_id: this.itemId, output_index: 0 };
    yield ev("response.created", { response: this.response("in_progress", [], false) });
    yield ev("response.in_progress", { response: this.response("in_progress", [], false) });
    yield ev("response.output_item.added", { output_index: 0, item: this.item(false) });
    if (a.kind === "tool") {
      for (const p of pieces(a.argsJson)) yield ev("response.function_call_arguments.delta", { ...at, delta: p });
      yield ev("response.function_call_arguments.done", { ...at, arguments: a.argsJson, name: a.name });
    } else {
      const part = { ...at, content_index: 0 };
      yield ev("response.content_part.added", { ...part, part: this.part("") });
      for (const w of wordPieces(a.text)) yield ev("response.output_text.delta", { ...part, delta: w, logprobs: [] });
      yield ev("response.output_text.done", { ...part, text: a.text, logprobs: [] });
      yield ev("response.content_part.done", { ...part, part: this.part(a.text) });
    }
    const item = this.item(true);
    yield ev("response.output_item.done", { output_index: 0, item });
    // a response cut by max_output_tokens ends "incomplete", not "completed"
    yield ev(`response.${this.finalStatus}`, { response: this.response(this.finalStatus, [item], true) });
  }
}

function modelList(): Reply {
  return json(200, { object: "list", data: MODELS.map((m) => ({ id: m, object: "model", created: 1_700_000_000, owned_by: "radiant" })) });
}

export const openaiFormat: EchoFormat = {
  route(head: RequestHead): Route {
    const { method, path } = head;
    if (method === "POST" && path === "/v1/chat/completions") return { kind: "generate", answer: chatCompletion };
    if (method === "POST" && path === "/v1/responses") return { kind: "generate", answer: responsesCall };
    if (method === "GET" && path === "/v1/models") return { kind: "reply", reply: modelList() };
    return { kind: "reply", reply: error(404, `Invalid URL (${method} ${path})`) };
  },
  error: (status, message) => error(status, message),
  badJson: () =>
    error(
      400,
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
    ),
};
