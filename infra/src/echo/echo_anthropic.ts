// The echo upstream in Anthropic's wire format: Messages, plain and streamed
// (every event named by its type), the model list, and Anthropic's error
// bodies with a request-id, shaped as @anthropic-ai/sdk types them.
import { randomBytes } from "node:crypto";
import { type Answer, answer, isBadRequest, isObject, pieces, readAnthropic, wordPieces } from "./echo_answer.js";
import type { EchoFormat, Reply, RequestHead, Route } from "./echo_server.js";

const MODELS = [{ id: "echo-anthropic", display_name: "Echo (Anthropic format)" }];

const id = (prefix: string) => `${prefix}${randomBytes(12).toString("hex")}`;

function json(status: number, body: unknown, requestId = id("req_")): Reply {
  return { status, headers: { "content-type": "application/json", "request-id": requestId }, chunks: [JSON.stringify(body)], stream: false };
}

const ERROR_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  402: "billing_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  504: "timeout_error",
  529: "overloaded_error",
};

const DEFAULT_MESSAGES: Record<string, string> = {
  invalid_request_error: "Invalid request.",
  authentication_error: "invalid x-api-key",
  billing_error: "Your credit balance is too low to access the Anthropic API.",
  permission_error: "Your API key does not have permission to use the specified resource.",
  not_found_error: "Not Found",
  request_too_large: "Request exceeds the maximum allowed number of bytes.",
  rate_limit_error: "Number of request tokens has exceeded your per-minute rate limit.",
  api_error: "Internal server error",
  timeout_error: "Request timed out.",
  overloaded_error: "Overloaded",
};

function error(status: number, message?: string): Reply {
  const type = ERROR_TYPES[status] ?? (status >= 500 ? "api_error" : "invalid_request_error");
  const requestId = id("req_");
  return json(status, { type: "error", error: { type, message: message ?? DEFAULT_MESSAGES[type] }, request_id: requestId }, requestId);
}

function usage(a: Answer, outputTokens: number) {
  return {
    input_tokens: a.inputTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
    output_tokens: outputTokens,
    output_tokens_details: null,
    server_tool_use: null,
    service_tier: "standard",
    inference_geo: null,
    speed: null,
  };
}

const stopReason = (a: Answer) => (a.kind === "tool" ? "tool_use" : a.truncated ? "max_tokens" : "end_turn");

function messages(body: unknown): Reply {
  if (!isObject(body)) return error(400, "The request body must be a JSON object.");
  const input = readAnthropic(body);
  if (isBadRequest(input)) return error(400, input.error);
  if (body.stream !== undefined && typeof body.stream !== "boolean") return error(400, "stream: Input should be a valid boolean");
  const a = answer(input);
  if (isBadRequest(a)) return error(400, `messages: ${a.error}`);
  const msg = {
    id: id("msg_"),
    type: "message",
    role: "assistant",
    model: body.model as string,
    stop_sequence: null,
    stop_details: null,
    container: null,
  };
  const toolId = id("toolu_");
  if (body.stream === true) {
    const requestId = id("req_");
    return {
      status: 200,
      headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "request-id": requestId },
      chunks: events(a, msg, toolId),
      stream: true,
    };
  }
  const content =
    a.kind === "tool"
      ? [{ type: "tool_use", id: toolId, name: a.name, input: a.args, caller: { type: "direct" } }]
      : [{ type: "text", text: a.text, citations: null }];
  return json(200, { ...msg, content, stop_reason: stopReason(a), usage: usage(a, a.outputTokens) });
}

function* events(a: Answer, msg: Record<string, unknown>, toolId: string): Generator<string> {
  // the SDK reads only events that carry an `event:` line, so each names its type
  const ev = (v: { type: string } & Record<string, unknown>) => `event: ${v.type}\ndata: ${JSON.stringify(v)}\n\n`;
  yield ev({ type: "message_start", message: { ...msg, content: [], stop_reason: null, usage: usage(a, 0) } });
  const block =
    a.kind === "tool" ? { type: "tool_use", id: toolId, name: a.name, input: {}, caller: { type: "direct" } } : { type: "text", text: "", citations: null };
  yield ev({ type: "content_block_start", index: 0, content_block: block });
  yield ev({ type: "ping" });
  if (a.kind === "tool") {
    for (const p of pieces(a.argsJson)) yield ev({ type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: p } });
  } else {
    for (const w of wordPieces(a.text)) yield ev({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: w } });
  }
  yield ev({ type: "content_block_stop", index: 0 });
  yield ev({
    type: "message_delta",
    delta: { stop_reason: stopReason(a), stop_sequence: null, stop_details: null, container: null },
    usage: {
      input_tokens: a.inputTokens,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      output_tokens: a.outputTokens,
      output_tokens_details: null,
      server_tool_use: null,
    },
  });
  yield ev({ type: "message_stop" });
}

function modelList(): Reply {
  const data = MODELS.map((m) => ({
    type: "model",
    id: m.id,
    display_name: m.display_name,
    created_at: "2025-01-01T00:00:00Z",
    capabilities: null,
    deprecated_at: null,
    lifecycle: "active",
    line: null,
    max_input_tokens: null,
    max_tokens: null,
    retires_at: null,
  }));
  return json(200, { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });
}

export const anthropicFormat: EchoFormat = {
  route(head: RequestHead): Route {
    const { method, path } = head;
    const known = (method === "POST" && path === "/v1/messages") || (method === "GET" && path === "/v1/models");
    if (!known) return { kind: "reply", reply: error(404) };
    // the real API refuses any call without it, before reading the body
    if (typeof head.headers["anthropic-version"] !== "string" || head.headers["anthropic-version"] === "") {
      return { kind: "reply", reply: error(400, "anthropic-version: header is required") };
    }
    if (method === "GET") return { kind: "reply", reply: modelList() };
    return { kind: "generate", answer: messages };
  },
  error: (status, message) => error(status, message),
  badJson: () => error(400, "There was an error parsing the body of your request: it is not valid JSON."),
};
