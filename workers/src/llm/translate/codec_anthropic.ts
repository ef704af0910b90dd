// Anthropic Messages (POST /v1/messages), both halves: the backend (requests to
// an Anthropic upstream, its answers back into the neutral form) and the client
// (a Messages request into the neutral form, the neutral answer out as Messages).
import {
  argsObject,
  bad,
  errorBody,
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
  sniffImageType,
  unsupported,
  STREAM_CUT,
  upstreamErrorMessage,
} from "./errors.js";
import type {
  BackendCodec,
  ClientCodec,
  ClientEvent,
  IrFinish,
  IrMessage,
  IrPart,
  IrRequest,
  IrResponse,
  IrStreamEvent,
  IrTool,
  IrToolChoice,
  IrUsage,
} from "./types.js";

export const ANTHROPIC_PATH = "/v1/messages";
export const ANTHROPIC_VERSION = "2023-06-01";
/** Anthropic requires max_tokens; this when the client gave none. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 4096;

// ---- backend: the neutral form → an Anthropic upstream, and back --------------

/** Anthropic's tool_use ids must match ^[a-zA-Z0-9_-]+$: other characters become "_" (the same in calls and results, so they still pair). */
const toolId = (id: string): string => id.replace(/[^a-zA-Z0-9_-]/g, "_") || "call";

function imageBlock(p: Extract<IrPart, { type: "image" }>): unknown {
  const d = p.url !== undefined ? parseDataUrl(p.url) : undefined;
  if (p.url !== undefined && !d) return { type: "image", source: { type: "url", url: p.url } };
  const data = d?.data ?? p.data ?? "";
  const mediaType = d?.mediaType ?? p.mediaType ?? sniffImageType(data) ?? "image/png";
  return { type: "image", source: { type: "base64", media_type: mediaType, data } };
}

function block(p: IrPart): unknown[] {
  switch (p.type) {
    case "text":
      // Anthropic refuses empty text blocks
      return p.text === "" ? [] : [{ type: "text", text: p.text }];
    case "image":
      return [imageBlock(p)];
    case "tool_call":
      // input is an object: arguments that are not a JSON object (the model's own malformed output) go up as {}
      return [{ type: "tool_use", id: toolId(p.id), name: p.name, input: argsObject(p.arguments) }];
    case "tool_result":
      return [
        {
          type: "tool_result",
          tool_use_id: toolId(p.callId),
          ...(p.content !== "" ? { content: p.content } : {}),
          ...(p.isError ? { is_error: true } : {}),
        },
      ];
  }
}

/** Turns must alternate: consecutive messages of one role become one turn; in a user turn the tool results go first, as Anthropic requires. */
function anthropicMessages(messages: IrMessage[]): unknown[] {
  const out: { role: string; content: unknown[] }[] = [];
  for (const m of messages) {
    const blocks = m.parts.flatMap(block);
    if (blocks.length === 0) continue; // Anthropic refuses empty turns
    const last = out.at(-1);
    if (last && last.role === m.role) last.content.push(...blocks);
    else out.push({ role: m.role, content: blocks });
  }
  for (const t of out) {
    if (t.role !== "user") continue;
    const isResult = (b: unknown) => isObj(b) && b.type === "tool_result";
    t.content = [...t.content.filter(isResult), ...t.content.filter((b) => !isResult(b))];
  }
  return out;
}

function anthropicToolChoice(t: IrToolChoice): unknown {
  if (t === "auto" || t === "none") return { type: t };
  if (t === "required") return { type: "any" };
  return { type: "tool", name: t.name };
}

function toUpstream(r: IrRequest, c: { upstreamModel: string }) {
  const body: Record<string, unknown> = { model: c.upstreamModel, max_tokens: r.maxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS };
  if (r.system) body.system = r.system;
  body.messages = anthropicMessages(r.messages);
  if (r.tools && r.tools.length > 0) {
    body.tools = r.tools.map((t) => ({ name: t.name, ...(t.description !== undefined ? { description: t.description } : {}), input_schema: t.parameters }));
    if (r.toolChoice !== undefined) body.tool_choice = anthropicToolChoice(r.toolChoice);
  }
  // Anthropic's temperature goes from 0 to 1 (OpenAI's and Google's to 2): higher values are taken as 1
  if (r.temperature !== undefined) body.temperature = Math.min(1, Math.max(0, r.temperature));
  if (r.topP !== undefined) body.top_p = r.topP;
  if (r.topK !== undefined) body.top_k = r.topK;
  if (r.stop && r.stop.length > 0) body.stop_sequences = r.stop;
  if (r.stream) body.stream = true;
  return { path: ANTHROPIC_PATH, body, headers: { "anthropic-version": ANTHROPIC_VERSION } };
}

function irFinish(reason: unknown, sawTool: boolean): IrFinish {
  switch (reason) {
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length";
    case "tool_use":
      return "tool_calls";
    case "refusal":
      return "refusal";
    default:
      // end_turn, stop_sequence, pause_turn
      return sawTool ? "tool_calls" : "stop";
  }
}

/** Input tokens: Anthropic counts cached ones apart; the others count them in. */
function inputTokens(u: Record<string, unknown>): number | undefined {
  const n = (k: string) => (typeof u[k] === "number" ? (u[k] as number) : 0);
  if (typeof u.input_tokens !== "number") return undefined;
  return n("input_tokens") + n("cache_creation_input_tokens") + n("cache_read_input_tokens");
}

function fromUpstream(json: unknown): IrResponse {
  const o = isObj(json) ? json : {};
  const parts: IrPart[] = [];
  for (const b of Array.isArray(o.content) ? o.content : []) {
    if (!isObj(b)) continue;
    if (b.type === "text" && typeof b.text === "string") parts.push({ type: "text", text: b.text });
    else if (b.type === "tool_use")
      parts.push({ type: "tool_call", id: String(b.id ?? `call_${parts.length}`), name: String(b.name ?? ""), arguments: JSON.stringify(b.input ?? {}) });
    // thinking and redacted_thinking blocks: the other APIs have no place for them
  }
  const u = isObj(o.usage) ? o.usage : undefined;
  const usage = u ? { input: inputTokens(u) ?? 0, output: typeof u.output_tokens === "number" ? u.output_tokens : 0 } : undefined;
  return {
    parts,
    finish: irFinish(
      o.stop_reason,
      parts.some((p) => p.type === "tool_call"),
    ),
    ...(usage ? { usage } : {}),
  };
}

function upstreamStream(): (ev: { event?: string; data: string }) => IrStreamEvent[] {
  const tools = new Map<number, number>(); // content block index → our tool index
  let sawTool = false;
  let input = 0;
  let output = 0;
  return (ev) => {
    const v = parseJson(ev.data);
    if (!isObj(v)) return ev.data.trim() === "" ? [] : [{ type: "error", message: "The model's provider sent a stream event that is not a JSON object" }];
    switch (v.type ?? ev.event) {
      case "message_start": {
        const u = isObj(v.message) && isObj(v.message.usage) ? v.message.usage : {};
        input = inputTokens(u) ?? 0;
        output = typeof u.output_tokens === "number" ? u.output_tokens : 0;
        return [];
      }
      case "content_block_start": {
        const b = isObj(v.content_block) ? v.content_block : {};
        if (b.type === "text" && typeof b.text === "string" && b.text) return [{ type: "text", text: b.text }];
        if (b.type === "tool_use" && typeof v.index === "number") {
          const index = tools.size;
          tools.set(v.index, index);
          sawTool = true;
          return [{ type: "tool_start", index, id: String(b.id ?? `call_${index}`), name: String(b.name ?? "") }];
        }
        return [];
      }
      case "content_block_delta": {
        const d = isObj(v.delta) ? v.delta : {};
        if (d.type === "text_delta" && typeof d.text === "string" && d.text) return [{ type: "text", text: d.text }];
        if (d.type === "input_json_delta" && typeof d.partial_json === "string" && d.partial_json) {
          const index = typeof v.index === "number" ? tools.get(v.index) : undefined;
          return index === undefined ? [] : [{ type: "tool_args", index, json: d.partial_json }];
        }
        return []; // thinking_delta, signature_delta, citations_delta
      }
      case "message_delta": {
        const out: IrStreamEvent[] = [];
        const d = isObj(v.delta) ? v.delta : {};
        if (d.stop_reason !== undefined && d.stop_reason !== null) out.push({ type: "finish", reason: irFinish(d.stop_reason, sawTool) });
        if (isObj(v.usage)) {
          // cumulative counts; input_tokens only in newer versions of the API
          input = inputTokens(v.usage) ?? input;
          if (typeof v.usage.output_tokens === "number") output = v.usage.output_tokens;
        }
        out.push({ type: "usage", usage: { input, output } });
        return out;
      }
      case "error":
        return [{ type: "error", message: upstreamErrorMessage(500, ev.data) }];
      default:
        return []; // content_block_stop, message_stop, ping
    }
  };
}

export const anthropicBackend: BackendCodec = {
  format: "anthropic",
  toUpstream,
  fromUpstream,
  upstreamStream,
  upstreamError: (status, body) => ({ status, message: upstreamErrorMessage(status, body) }),
};

// ---- client: a Messages request → the neutral form, and back ------------------

function textBlocks(v: unknown, field: string): string {
  if (typeof v === "string") return v;
  return reqArray(v, field)
    .map((b, i) => {
      const o = reqObj(b, `${field}[${i}]`);
      if (o.type !== "text") throw bad(`${field}[${i}].type`, `only "text" blocks are allowed here, not ${JSON.stringify(o.type)}`);
      return reqString(o.text, `${field}[${i}].text`);
    })
    .join("\n\n");
}

function imageFrom(o: Record<string, unknown>, field: string): IrPart {
  const src = reqObj(o.source, `${field}.source`);
  if (src.type === "base64")
    return { type: "image", mediaType: reqString(src.media_type, `${field}.source.media_type`), data: reqString(src.data, `${field}.source.data`) };
  if (src.type === "url") {
    const url = reqString(src.url, `${field}.source.url`);
    const d = parseDataUrl(url);
    return d ? { type: "image", mediaType: d.mediaType, data: d.data } : { type: "image", url };
  }
  throw unsupported(`${field}.source.type`, `${JSON.stringify(src.type)} image sources cannot be sent to this model (base64 or url)`);
}

function toolResultText(v: unknown, field: string): string {
  if (v === undefined || v === null) return "";
  if (typeof v === "string") return v;
  return reqArray(v, field)
    .map((b, i) => {
      const o = reqObj(b, `${field}[${i}]`);
      if (o.type === "text") return reqString(o.text, `${field}[${i}].text`);
      throw unsupported(`${field}[${i}].type`, `a tool result sent to this model can hold text only, not ${JSON.stringify(o.type)}`);
    })
    .join("\n");
}

function contentParts(v: unknown, role: "user" | "assistant", field: string, names: Map<string, string>): IrPart[] {
  if (typeof v === "string") return [{ type: "text", text: v }];
  const parts: IrPart[] = [];
  reqArray(v, field).forEach((b, i) => {
    const f = `${field}[${i}]`;
    const o = reqObj(b, f);
    const type = reqString(o.type, `${f}.type`);
    switch (type) {
      case "text":
        parts.push({ type: "text", text: reqString(o.text, `${f}.text`) });
        return;
      case "image":
        parts.push(imageFrom(o, f));
        return;
      case "tool_use": {
        if (role !== "assistant") throw bad(f, "tool_use blocks belong in assistant messages");
        const id = reqString(o.id, `${f}.id`);
        const name = reqString(o.name, `${f}.name`);
        names.set(id, name);
        parts.push({ type: "tool_call", id, name, arguments: JSON.stringify(o.input === undefined ? {} : reqObj(o.input, `${f}.input`)) });
        return;
      }
      case "tool_result": {
        if (role !== "user") throw bad(f, "tool_result blocks belong in user messages");
        const callId = reqString(o.tool_use_id, `${f}.tool_use_id`);
        const name = names.get(callId);
        const isError = optBool(o.is_error, `${f}.is_error`);
        parts.push({
          type: "tool_result",
          callId,
          ...(name !== undefined ? { name } : {}),
          content: toolResultText(o.content, `${f}.content`),
          ...(isError ? { isError } : {}),
        });
        return;
      }
      case "thinking":
      case "redacted_thinking":
        // the model's earlier reasoning: no other provider can take it back; dropped
        return;
      default:
        throw unsupported(`${f}.type`, `${JSON.stringify(type)} blocks cannot be sent to this model`);
    }
  });
  return parts;
}

function tools(v: unknown): IrTool[] | undefined {
  if (v === undefined || v === null) return undefined;
  return reqArray(v, "tools").map((t, i) => {
    const o = reqObj(t, `tools[${i}]`);
    if (o.type !== undefined && o.type !== null && o.type !== "custom")
      throw unsupported(`tools[${i}].type`, `Anthropic's server tool ${JSON.stringify(o.type)} is not available for this model`);
    const description = optString(o.description, `tools[${i}].description`);
    return {
      name: reqString(o.name, `tools[${i}].name`),
      ...(description !== undefined ? { description } : {}),
      parameters: optSchema(o.input_schema, `tools[${i}].input_schema`) ?? { type: "object", properties: {} },
    };
  });
}

function toolChoice(v: unknown): IrToolChoice | undefined {
  if (v === undefined || v === null) return undefined;
  const o = reqObj(v, "tool_choice");
  // disable_parallel_tool_use has no equivalent: dropped
  switch (o.type) {
    case "auto":
    case "none":
      return o.type;
    case "any":
      return "required";
    case "tool":
      return { name: reqString(o.name, "tool_choice.name") };
    default:
      throw bad("tool_choice.type", `must be "auto", "any", "tool" or "none", not ${JSON.stringify(o.type)}`);
  }
}

/**
 * Refused: what no other provider can do for the client. Dropped (no
 * equivalent, the answer's shape is the same): metadata, service_tier,
 * thinking (the answer simply has no thinking blocks), cache_control on blocks.
 */
function refuseUnsupported(body: Record<string, unknown>): void {
  for (const k of ["mcp_servers", "container", "context_management"]) {
    if (body[k] !== undefined && body[k] !== null) throw unsupported(k, "is not available for this model");
  }
}

function fromClient(body: Record<string, unknown>): IrRequest {
  const list = reqArray(body.messages, "messages", true);
  const names = new Map<string, string>();
  const messages: IrMessage[] = list.map((raw, i) => {
    const f = `messages[${i}]`;
    const m = reqObj(raw, f);
    const role = reqString(m.role, `${f}.role`);
    if (role !== "user" && role !== "assistant") throw bad(`${f}.role`, `must be "user" or "assistant", not ${JSON.stringify(role)}`);
    return { role, parts: contentParts(m.content, role, `${f}.content`, names) };
  });
  refuseUnsupported(body);
  const system = body.system === undefined || body.system === null ? undefined : textBlocks(body.system, "system");
  const irTools = tools(body.tools);
  const choice = toolChoice(body.tool_choice);
  const maxTokens = optCount(body.max_tokens, "max_tokens");
  const temperature = optNumber(body.temperature, "temperature");
  const topP = optNumber(body.top_p, "top_p");
  const topK = optCount(body.top_k, "top_k");
  const stop = optStops(body.stop_sequences, "stop_sequences");
  return {
    ...(system ? { system } : {}),
    messages,
    ...(irTools ? { tools: irTools } : {}),
    ...(choice !== undefined ? { toolChoice: choice } : {}),
    ...(maxTokens !== undefined ? { maxTokens } : {}),
    ...(temperature !== undefined ? { temperature } : {}),
    ...(topP !== undefined ? { topP } : {}),
    ...(topK !== undefined ? { topK } : {}),
    ...(stop ? { stop } : {}),
    stream: optBool(body.stream, "stream") ?? false,
  };
}

export function anthropicStopReason(f: IrFinish): string {
  switch (f) {
    case "stop":
      return "end_turn";
    case "length":
      return "max_tokens";
    case "tool_calls":
      return "tool_use";
    case "content_filter":
    case "refusal":
      return "refusal";
  }
}

function contentBlocks(parts: IrPart[]): unknown[] {
  return parts.flatMap((p): unknown[] => {
    if (p.type === "text") return p.text === "" ? [] : [{ type: "text", text: p.text }];
    // Anthropic's input is an object: arguments that are not a JSON object (malformed model output) become {}
    if (p.type === "tool_call") return [{ type: "tool_use", id: p.id, name: p.name, input: argsObject(p.arguments) }];
    return [];
  });
}

function toClient(r: IrResponse, c: { id: string; model: string }): ClientEvent {
  return {
    data: {
      id: `msg_${c.id}`,
      type: "message",
      role: "assistant",
      model: c.model,
      content: contentBlocks(r.parts),
      stop_reason: anthropicStopReason(r.finish),
      stop_sequence: null,
      usage: { input_tokens: r.usage?.input ?? 0, output_tokens: r.usage?.output ?? 0 },
    },
  };
}

const ev = (type: string, data: Record<string, unknown>): ClientEvent => ({ event: type, data: { type, ...data } });

export const anthropicClient: ClientCodec = {
  api: "anthropic",
  fromClient,
  toClient,
  clientStream(c) {
    let started = false;
    let done = false;
    let open: { index: number; kind: "text" | "tool" } | undefined;
    let next = 0; // the next content block's index
    const toolBlocks = new Map<number, number>(); // our tool index → its block's index
    let finish: IrFinish | undefined;
    let usage: IrUsage | undefined;
    const start = (): ClientEvent[] => {
      if (started) return [];
      started = true;
      return [
        ev("message_start", {
          message: {
            id: `msg_${c.id}`,
            type: "message",
            role: "assistant",
            model: c.model,
            content: [],
            stop_reason: null,
            stop_sequence: null,
            // counts come at the end (message_delta): other providers give them last
            usage: { input_tokens: 0, output_tokens: 0 },
          },
        }),
      ];
    };
    const close = (): ClientEvent[] => {
      if (!open) return [];
      const e = ev("content_block_stop", { index: open.index });
      open = undefined;
      return [e];
    };
    const openBlock = (kind: "text" | "tool", contentBlock: Record<string, unknown>): ClientEvent[] => {
      const out = [...start(), ...close()];
      open = { index: next++, kind };
      out.push(ev("content_block_start", { index: open.index, content_block: contentBlock }));
      return out;
    };
    return {
      push(e: IrStreamEvent) {
        if (done) return [];
        switch (e.type) {
          case "text": {
            if (!e.text) return [];
            const out = open?.kind === "text" ? [] : openBlock("text", { type: "text", text: "" });
            out.push(ev("content_block_delta", { index: open!.index, delta: { type: "text_delta", text: e.text } }));
            return out;
          }
          case "tool_start": {
            const out = openBlock("tool", { type: "tool_use", id: e.id, name: e.name, input: {} });
            toolBlocks.set(e.index, open!.index);
            return out;
          }
          case "tool_args": {
            const index = toolBlocks.get(e.index);
            if (index === undefined || !e.json) return [];
            return [ev("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: e.json } })];
          }
          case "finish":
            finish = e.reason;
            return [];
          case "usage":
            usage = e.usage;
            return [];
          case "error":
            done = true;
            return [ev("error", { error: { type: "api_error", message: e.message } })];
        }
      },
      end() {
        if (done) return [];
        done = true;
        if (finish === undefined) return [ev("error", { error: { type: "api_error", message: STREAM_CUT } })];
        return [
          ...start(),
          ...close(),
          ev("message_delta", {
            delta: { stop_reason: anthropicStopReason(finish), stop_sequence: null },
            usage: { input_tokens: usage?.input ?? 0, output_tokens: usage?.output ?? 0 },
          }),
          ev("message_stop", {}),
        ];
      },
    };
  },
  clientError(status, message, retryAfter) {
    return { status, body: errorBody("anthropic", status, message), ...(retryAfter !== undefined ? { retryAfter } : {}) };
  },
};
