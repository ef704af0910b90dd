// OpenAI Chat Completions (POST /v1/chat/completions), both halves: the
// backend (requests to an OpenAI upstream, its answers back into the neutral
// form) and the client (a Chat Completions request into the neutral form, the
// neutral answer out as Chat Completions).
import {
  bad,
  errorBody,
  foreignStatus,
  isObj,
  optBool,
  optCount,
  optNumber,
  optSchema,
  optStops,
  optString,
  parseDataUrl,
  parseJson,
  reqArray,
  reqObj,
  reqString,
  unsupported,
  STREAM_CUT,
  upstreamErrorMessage,
} from "./errors.js";
import {
  type BackendCodec,
  type ClientCodec,
  type ClientEvent,
  type IrFinish,
  type IrMessage,
  type IrPart,
  type IrRequest,
  type IrResponse,
  type IrStreamEvent,
  type IrTool,
  type IrToolChoice,
  type IrUsage,
  TranslateError,
} from "./types.js";

export const OPENAI_PATH = "/v1/chat/completions";

// ---- backend: the neutral form → an OpenAI upstream, and back -----------------

function userContent(parts: IrPart[]): unknown {
  if (parts.length === 1 && parts[0]!.type === "text") return parts[0]!.text;
  return parts.map((p) => {
    if (p.type === "text") return { type: "text", text: p.text };
    if (p.type === "image") {
      const url = p.url ?? `data:${p.mediaType ?? "image/png"};base64,${p.data ?? ""}`;
      return { type: "image_url", image_url: { url } };
    }
    // tool calls never come from a user; tool results were taken out before
    throw new TranslateError(`a user message cannot hold a ${p.type}`, "messages");
  });
}

function openaiMessages(r: IrRequest): unknown[] {
  const out: unknown[] = [];
  if (r.system !== undefined && r.system !== "") out.push({ role: "system", content: r.system });
  for (const m of r.messages) {
    if (m.role === "user") {
      // OpenAI wants each tool result as its own `tool` message right after the
      // assistant's tool calls, so they go before the rest of the turn.
      // (`isError` has no place in OpenAI: the content says it.)
      for (const p of m.parts) if (p.type === "tool_result") out.push({ role: "tool", tool_call_id: p.callId, content: p.content });
      const rest = m.parts.filter((p) => p.type !== "tool_result");
      if (rest.length > 0) out.push({ role: "user", content: userContent(rest) });
      continue;
    }
    let text = "";
    const calls: unknown[] = [];
    for (const p of m.parts) {
      if (p.type === "text") text += p.text;
      else if (p.type === "tool_call") calls.push({ id: p.id, type: "function", function: { name: p.name, arguments: p.arguments || "{}" } });
      else throw new TranslateError(`an assistant message cannot hold ${p.type === "image" ? "an image" : "a tool result"} for this model`, "messages");
    }
    out.push({ role: "assistant", content: calls.length > 0 && text === "" ? null : text, ...(calls.length > 0 ? { tool_calls: calls } : {}) });
  }
  return out;
}

const openaiToolChoice = (t: IrToolChoice): unknown => (typeof t === "string" ? t : { type: "function", function: { name: t.name } });

function toUpstream(r: IrRequest, c: { upstreamModel: string }) {
  const body: Record<string, unknown> = { model: c.upstreamModel, messages: openaiMessages(r) };
  if (r.tools && r.tools.length > 0) {
    body.tools = r.tools.map((t) => ({
      type: "function",
      function: { name: t.name, ...(t.description !== undefined ? { description: t.description } : {}), parameters: t.parameters },
    }));
  }
  // without tools there is nothing to choose: OpenAI refuses a tool_choice alone
  if (r.toolChoice !== undefined && r.tools && r.tools.length > 0) body.tool_choice = openaiToolChoice(r.toolChoice);
  // max_tokens is deprecated and refused by reasoning models; max_completion_tokens works for all
  if (r.maxTokens !== undefined) body.max_completion_tokens = r.maxTokens;
  if (r.temperature !== undefined) body.temperature = r.temperature;
  if (r.topP !== undefined) body.top_p = r.topP;
  // topK: OpenAI has none; dropped (sampling only, the answer's shape is the same)
  if (r.stop && r.stop.length > 0) body.stop = r.stop;
  if (r.stream) {
    body.stream = true;
    // always asked for: the client's usage (Anthropic's message_delta, Google's usageMetadata) comes from it
    body.stream_options = { include_usage: true };
  }
  return { path: OPENAI_PATH, body };
}

export function irFinishFromOpenai(reason: unknown, sawTool: boolean): IrFinish {
  switch (reason) {
    case "length":
      return "length";
    case "tool_calls":
    case "function_call":
      return "tool_calls";
    case "content_filter":
      return "content_filter";
    default:
      // "stop", or an OpenAI-compatible server's own word; some say "stop" after tool calls
      return sawTool ? "tool_calls" : "stop";
  }
}

function irUsage(u: unknown): IrUsage | undefined {
  if (!isObj(u)) return undefined;
  const input = typeof u.prompt_tokens === "number" ? u.prompt_tokens : 0;
  const output = typeof u.completion_tokens === "number" ? u.completion_tokens : 0;
  return { input, output };
}

/** Message content: a string, or (some compatible servers) a list of text parts. */
function contentText(v: unknown): string {
  if (typeof v === "string") return v;
  if (Array.isArray(v)) return v.map((p) => (isObj(p) && typeof p.text === "string" ? p.text : "")).join("");
  return "";
}

function fromUpstream(json: unknown): IrResponse {
  const o = isObj(json) ? json : {};
  const choice = Array.isArray(o.choices) && isObj(o.choices[0]) ? o.choices[0] : {};
  const msg = isObj(choice.message) ? choice.message : {};
  const parts: IrPart[] = [];
  const text = contentText(msg.content);
  if (text) parts.push({ type: "text", text });
  const refusal = typeof msg.refusal === "string" && msg.refusal ? msg.refusal : undefined;
  if (refusal) parts.push({ type: "text", text: refusal });
  const calls = Array.isArray(msg.tool_calls) ? msg.tool_calls : [];
  calls.forEach((tc, i) => {
    if (!isObj(tc)) return;
    const fn = isObj(tc.function) ? tc.function : {};
    parts.push({
      type: "tool_call",
      id: typeof tc.id === "string" ? tc.id : `call_${i}`,
      name: typeof fn.name === "string" ? fn.name : "",
      arguments: typeof fn.arguments === "string" ? fn.arguments : JSON.stringify(fn.arguments ?? {}),
    });
  });
  const finish = refusal
    ? "refusal"
    : irFinishFromOpenai(
        choice.finish_reason,
        parts.some((p) => p.type === "tool_call"),
      );
  const usage = irUsage(o.usage);
  return { parts, finish, ...(usage ? { usage } : {}) };
}

function upstreamStream(): (ev: { data: string }) => IrStreamEvent[] {
  const tools = new Map<number, number>(); // upstream tool_calls[].index → ours
  let last = -1; // our index of the latest tool call (for servers that leave `index` out)
  let sawTool = false;
  let finished = false;
  return (ev) => {
    const data = ev.data.trim();
    if (data === "" || data === "[DONE]") return [];
    const v = parseJson(data);
    if (!isObj(v)) return [{ type: "error", message: "The model's provider sent a stream event that is not a JSON object" }];
    if (v.error !== undefined) return [{ type: "error", message: upstreamErrorMessage(500, data) }];
    const out: IrStreamEvent[] = [];
    const choice = Array.isArray(v.choices) && isObj(v.choices[0]) ? v.choices[0] : undefined;
    if (choice) {
      const delta = isObj(choice.delta) ? choice.delta : {};
      const text = contentText(delta.content);
      if (text) out.push({ type: "text", text });
      if (typeof delta.refusal === "string" && delta.refusal) out.push({ type: "text", text: delta.refusal });
      for (const tc of Array.isArray(delta.tool_calls) ? delta.tool_calls : []) {
        if (!isObj(tc)) continue;
        const fn = isObj(tc.function) ? tc.function : {};
        let index: number | undefined;
        if (typeof tc.index === "number") index = tools.get(tc.index);
        else if (typeof tc.id !== "string" && last >= 0) index = last;
        if (index === undefined) {
          index = tools.size;
          if (typeof tc.index === "number") tools.set(tc.index, index);
          else tools.set(-1 - index, index);
          last = index;
          sawTool = true;
          out.push({
            type: "tool_start",
            index,
            id: typeof tc.id === "string" ? tc.id : `call_${index}`,
            name: typeof fn.name === "string" ? fn.name : "",
          });
        }
        if (typeof fn.arguments === "string" && fn.arguments !== "") out.push({ type: "tool_args", index, json: fn.arguments });
      }
      if (typeof choice.finish_reason === "string" && !finished) {
        finished = true;
        out.push({ type: "finish", reason: irFinishFromOpenai(choice.finish_reason, sawTool) });
      }
    }
    const usage = irUsage(v.usage);
    if (usage) out.push({ type: "usage", usage });
    return out;
  };
}

export const openaiBackend: BackendCodec = {
  format: "openai",
  toUpstream,
  fromUpstream,
  upstreamStream,
  upstreamError: (status, body) => ({ status, message: upstreamErrorMessage(status, body) }),
};

// ---- client: a Chat Completions request → the neutral form, and back ----------

/** Text of a content that may only be text: a string or a list of text parts. */
function textContent(v: unknown, field: string, sep: string): string {
  if (typeof v === "string") return v;
  const list = reqArray(v, field);
  return list
    .map((p, i) => {
      const o = reqObj(p, `${field}[${i}]`);
      if (o.type !== "text") throw bad(`${field}[${i}].type`, `only "text" parts are allowed here, not ${JSON.stringify(o.type)}`);
      return reqString(o.text, `${field}[${i}].text`);
    })
    .join(sep);
}

function imagePart(url: string, field: string): IrPart {
  const d = parseDataUrl(url);
  if (d) return { type: "image", mediaType: d.mediaType, data: d.data };
  if (/^https?:\/\//i.test(url)) return { type: "image", url };
  throw bad(field, "must be an https: URL or a data: URL with base64 data");
}

function userParts(v: unknown, field: string): IrPart[] {
  if (typeof v === "string") return [{ type: "text", text: v }];
  const list = reqArray(v, field);
  return list.map((p, i): IrPart => {
    const f = `${field}[${i}]`;
    const o = reqObj(p, f);
    switch (o.type) {
      case "text":
        return { type: "text", text: reqString(o.text, `${f}.text`) };
      case "image_url": {
        // `image_url` is {url, detail}; some clients send the URL alone. `detail` has no equivalent: dropped.
        const url = typeof o.image_url === "string" ? o.image_url : reqString(reqObj(o.image_url, `${f}.image_url`).url, `${f}.image_url.url`);
        return imagePart(url, `${f}.image_url.url`);
      }
      case "input_audio":
      case "file":
        throw unsupported(`${f}.type`, `"${o.type}" parts cannot be sent to this model`);
      default:
        throw bad(`${f}.type`, `unknown content part type ${JSON.stringify(o.type)} (text or image_url)`);
    }
  });
}

function assistantParts(m: Record<string, unknown>, field: string): IrPart[] {
  const parts: IrPart[] = [];
  if (m.content !== undefined && m.content !== null) {
    if (typeof m.content === "string") {
      if (m.content) parts.push({ type: "text", text: m.content });
    } else {
      reqArray(m.content, `${field}.content`).forEach((p, i) => {
        const o = reqObj(p, `${field}.content[${i}]`);
        if (o.type === "text") parts.push({ type: "text", text: reqString(o.text, `${field}.content[${i}].text`) });
        else if (o.type === "refusal") parts.push({ type: "text", text: reqString(o.refusal, `${field}.content[${i}].refusal`) });
        else throw bad(`${field}.content[${i}].type`, `an assistant message holds "text" or "refusal" parts, not ${JSON.stringify(o.type)}`);
      });
    }
  }
  if (m.tool_calls !== undefined && m.tool_calls !== null) {
    reqArray(m.tool_calls, `${field}.tool_calls`).forEach((tc, i) => {
      const f = `${field}.tool_calls[${i}]`;
      const o = reqObj(tc, f);
      if (o.type !== undefined && o.type !== "function") throw unsupported(`${f}.type`, `only "function" tool calls can be sent to this model`);
      const fn = reqObj(o.function, `${f}.function`);
      const args = fn.arguments === undefined ? "{}" : reqString(fn.arguments, `${f}.function.arguments`);
      parts.push({ type: "tool_call", id: reqString(o.id, `${f}.id`), name: reqString(fn.name, `${f}.function.name`), arguments: args });
    });
  }
  if (m.function_call !== undefined && m.function_call !== null) throw unsupported(`${field}.function_call`, "is deprecated: use tool_calls");
  return parts;
}

function tools(v: unknown): IrTool[] | undefined {
  if (v === undefined || v === null) return undefined;
  return reqArray(v, "tools").map((t, i) => {
    const o = reqObj(t, `tools[${i}]`);
    if (o.type !== "function") throw unsupported(`tools[${i}].type`, `only "function" tools can be sent to this model, not ${JSON.stringify(o.type)}`);
    const fn = reqObj(o.function, `tools[${i}].function`);
    const description = optString(fn.description, `tools[${i}].function.description`);
    // `strict` (structured outputs) has no equivalent elsewhere: dropped
    return {
      name: reqString(fn.name, `tools[${i}].function.name`),
      ...(description !== undefined ? { description } : {}),
      parameters: optSchema(fn.parameters, `tools[${i}].function.parameters`) ?? { type: "object", properties: {} },
    };
  });
}

function toolChoice(v: unknown): IrToolChoice | undefined {
  if (v === undefined || v === null) return undefined;
  if (v === "auto" || v === "none" || v === "required") return v;
  if (typeof v === "string")
    throw bad("tool_choice", `must be "auto", "none", "required" or {"type":"function","function":{"name":…}}, not ${JSON.stringify(v)}`);
  const o = reqObj(v, "tool_choice");
  if (o.type !== "function") throw unsupported("tool_choice.type", `only "function" can be sent to this model, not ${JSON.stringify(o.type)}`);
  return { name: reqString(reqObj(o.function, "tool_choice.function").name, "tool_choice.function.name") };
}

/**
 * Parameters no other provider can honour: refused, since the answer would not
 * be what the client asked for. Dropped without a word (no equivalent, and the
 * answer's shape is the same): frequency_penalty, presence_penalty, logit_bias,
 * seed, user, metadata, store, service_tier, parallel_tool_calls,
 * reasoning_effort, verbosity, prediction, prompt_cache_key,
 * safety_identifier, stream_options (read into the context).
 */
function refuseUnsupported(body: Record<string, unknown>): void {
  if (body.n !== undefined && body.n !== null && body.n !== 1) throw unsupported("n", "this model's provider gives one choice per request: n must be 1");
  if (body.logprobs !== undefined && body.logprobs !== null && body.logprobs !== false)
    throw unsupported("logprobs", "this model's provider does not return log probabilities");
  if (body.top_logprobs !== undefined && body.top_logprobs !== null)
    throw unsupported("top_logprobs", "this model's provider does not return log probabilities");
  if (body.response_format !== undefined && body.response_format !== null) {
    const rf = reqObj(body.response_format, "response_format");
    if (rf.type !== "text") throw unsupported("response_format", `${JSON.stringify(rf.type)} is not supported for this model`);
  }
  if (Array.isArray(body.modalities) && body.modalities.some((m) => m !== "text")) throw unsupported("modalities", "this model answers in text only");
  if (body.audio !== undefined && body.audio !== null) throw unsupported("audio", "this model answers in text only");
  if (body.web_search_options !== undefined && body.web_search_options !== null)
    throw unsupported("web_search_options", "web search is not available for this model");
  if (body.functions !== undefined && body.functions !== null) throw unsupported("functions", "is deprecated: use tools");
  if (body.function_call !== undefined && body.function_call !== null) throw unsupported("function_call", "is deprecated: use tool_choice");
}

function fromClient(body: Record<string, unknown>): IrRequest {
  const list = reqArray(body.messages, "messages", true);
  const system: string[] = [];
  const messages: IrMessage[] = [];
  const names = new Map<string, string>(); // tool call id → function name
  list.forEach((raw, i) => {
    const f = `messages[${i}]`;
    const m = reqObj(raw, f);
    const role = reqString(m.role, `${f}.role`);
    switch (role) {
      case "system":
      case "developer":
        system.push(textContent(m.content, `${f}.content`, "\n"));
        return;
      case "user":
        messages.push({ role: "user", parts: userParts(m.content, `${f}.content`) });
        return;
      case "assistant": {
        const parts = assistantParts(m, f);
        for (const p of parts) if (p.type === "tool_call") names.set(p.id, p.name);
        messages.push({ role: "assistant", parts });
        return;
      }
      case "tool": {
        const callId = reqString(m.tool_call_id, `${f}.tool_call_id`);
        const name = names.get(callId);
        messages.push({
          role: "user",
          parts: [{ type: "tool_result", callId, ...(name !== undefined ? { name } : {}), content: textContent(m.content, `${f}.content`, "") }],
        });
        return;
      }
      default:
        throw bad(`${f}.role`, `unknown role ${JSON.stringify(role)} (system, developer, user, assistant or tool)`);
    }
  });
  if (messages.length === 0) throw bad("messages", "must hold at least one user or assistant message");
  refuseUnsupported(body);
  const irTools = tools(body.tools);
  const choice = toolChoice(body.tool_choice);
  const maxTokens = optCount(body.max_completion_tokens, "max_completion_tokens") ?? optCount(body.max_tokens, "max_tokens");
  const temperature = optNumber(body.temperature, "temperature");
  const topP = optNumber(body.top_p, "top_p");
  const stop = optStops(body.stop, "stop");
  return {
    ...(system.length > 0 ? { system: system.join("\n\n") } : {}),
    messages,
    ...(irTools ? { tools: irTools } : {}),
    ...(choice !== undefined ? { toolChoice: choice } : {}),
    ...(maxTokens !== undefined ? { maxTokens } : {}),
    ...(temperature !== undefined ? { temperature } : {}),
    ...(topP !== undefined ? { topP } : {}),
    ...(stop ? { stop } : {}),
    stream: optBool(body.stream, "stream") ?? false,
  };
}

export function openaiFinish(f: IrFinish): string {
  switch (f) {
    case "stop":
      return "stop";
    case "length":
      return "length";
    case "tool_calls":
      return "tool_calls";
    case "content_filter":
    case "refusal":
      return "content_filter";
  }
}

const openaiUsage = (u: IrUsage | undefined) => ({
  prompt_tokens: u?.input ?? 0,
  completion_tokens: u?.output ?? 0,
  total_tokens: (u?.input ?? 0) + (u?.output ?? 0),
});

function toClient(r: IrResponse, c: { id: string; created: number; model: string }): ClientEvent {
  const text = r.parts.flatMap((p) => (p.type === "text" ? [p.text] : [])).join("");
  const calls = r.parts.flatMap((p) => (p.type === "tool_call" ? [{ id: p.id, type: "function", function: { name: p.name, arguments: p.arguments } }] : []));
  return {
    data: {
      id: `chatcmpl-${c.id}`,
      object: "chat.completion",
      created: c.created,
      model: c.model,
      choices: [
        {
          index: 0,
          message: {
            role: "assistant",
            content: text === "" && calls.length > 0 ? null : text,
            refusal: null,
            ...(calls.length > 0 ? { tool_calls: calls } : {}),
          },
          logprobs: null,
          finish_reason: openaiFinish(r.finish),
        },
      ],
      usage: openaiUsage(r.usage),
    },
  };
}

export const openaiClient: ClientCodec = {
  api: "openai",
  fromClient,
  toClient,
  clientStream(c) {
    const id = `chatcmpl-${c.id}`;
    let started = false;
    let done = false;
    let finish: IrFinish | undefined;
    let usage: IrUsage | undefined;
    const chunk = (delta: Record<string, unknown>, finishReason: string | null = null): ClientEvent => ({
      data: {
        id,
        object: "chat.completion.chunk",
        created: c.created,
        model: c.model,
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
        ...(c.includeUsage ? { usage: null } : {}),
      },
    });
    const start = (): ClientEvent[] => {
      if (started) return [];
      started = true;
      return [chunk({ role: "assistant", content: "" })];
    };
    return {
      push(e) {
        if (done) return [];
        switch (e.type) {
          case "text":
            return e.text ? [...start(), chunk({ content: e.text })] : [];
          case "tool_start":
            return [...start(), chunk({ tool_calls: [{ index: e.index, id: e.id, type: "function", function: { name: e.name, arguments: "" } }] })];
          case "tool_args":
            return [...start(), chunk({ tool_calls: [{ index: e.index, function: { arguments: e.json } }] })];
          // the finish chunk is the last of the choice: written by end(), once nothing more can come
          case "finish":
            finish = e.reason;
            return [];
          case "usage":
            usage = e.usage;
            return [];
          case "error":
            done = true;
            return [{ data: errorBody("openai", 500, e.message) }];
        }
      },
      end() {
        if (done) return [];
        done = true;
        if (finish === undefined) return [{ data: errorBody("openai", 502, STREAM_CUT) }];
        const out = [...start(), chunk({}, openaiFinish(finish))];
        if (c.includeUsage)
          out.push({ data: { id, object: "chat.completion.chunk", created: c.created, model: c.model, choices: [], usage: openaiUsage(usage) } });
        return out;
      },
    };
  },
  clientError(status, message, retryAfter) {
    const s = foreignStatus(status);
    return { status: s, body: errorBody("openai", s, message), ...(retryAfter !== undefined ? { retryAfter } : {}) };
  },
};
