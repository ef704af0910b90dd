// OpenAI's Responses API (POST /v1/responses) as a client of non-OpenAI models:
// a Responses request into the neutral form, the neutral answer out as a
// `response` object or its stream of named events.
import {
  bad,
  errorBody,
  foreignStatus,
  optBool,
  optCount,
  optNumber,
  optSchema,
  optString,
  parseDataUrl,
  reqArray,
  reqObj,
  reqString,
  unsupported,
} from "./errors.js";
import type {
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
  TranslateContext,
} from "./types.js";

// ---- the request ---------------------------------------------------------------

const given = (v: unknown): boolean => v !== undefined && v !== null;

/** Text of content that may only be text (system and developer messages). */
function textOnly(v: unknown, field: string, allowed: readonly string[]): string {
  if (typeof v === "string") return v;
  return reqArray(v, field)
    .map((p, i) => {
      const f = `${field}[${i}]`;
      const o = reqObj(p, f);
      if (typeof o.type !== "string" || !allowed.includes(o.type)) {
        throw bad(`${f}.type`, `only ${allowed.map((a) => `"${a}"`).join(" or ")} parts are allowed here, not ${JSON.stringify(o.type)}`);
      }
      return reqString(o.text, `${f}.text`);
    })
    .join("");
}

function imagePart(o: Record<string, unknown>, f: string): IrPart {
  if (given(o.file_id))
    throw unsupported(`${f}.file_id`, "files uploaded to OpenAI cannot be read by this model: send the image as image_url (https: or data: URL)");
  const url = reqString(o.image_url, `${f}.image_url`);
  const d = parseDataUrl(url);
  if (d) return { type: "image", mediaType: d.mediaType, data: d.data };
  if (/^https?:\/\//i.test(url)) return { type: "image", url };
  throw bad(`${f}.image_url`, "must be an https: URL or a data: URL with base64 data");
}

function userParts(v: unknown, field: string): IrPart[] {
  if (typeof v === "string") return [{ type: "text", text: v }];
  return reqArray(v, field).map((p, i): IrPart => {
    const f = `${field}[${i}]`;
    const o = reqObj(p, f);
    switch (o.type) {
      case "input_text":
        return { type: "text", text: reqString(o.text, `${f}.text`) };
      case "input_image":
        return imagePart(o, f);
      case "input_file":
      case "input_audio":
        throw unsupported(`${f}.type`, `"${o.type}" parts cannot be sent to this model`);
      default:
        throw bad(`${f}.type`, `unknown content part type ${JSON.stringify(o.type)} (input_text or input_image)`);
    }
  });
}

/** An earlier answer's text, as the client sends it back (its own output items, or a plain string). */
function assistantParts(v: unknown, field: string): IrPart[] {
  if (typeof v === "string") return v ? [{ type: "text", text: v }] : [];
  const parts: IrPart[] = [];
  reqArray(v, field).forEach((p, i) => {
    const f = `${field}[${i}]`;
    const o = reqObj(p, f);
    let text: string;
    if (o.type === "output_text" || o.type === "input_text") text = reqString(o.text, `${f}.text`);
    else if (o.type === "refusal") text = reqString(o.refusal, `${f}.refusal`);
    else throw bad(`${f}.type`, `an assistant message holds "output_text" or "refusal" parts, not ${JSON.stringify(o.type)}`);
    // Anthropic refuses empty text blocks; an empty one says nothing anyway
    if (text) parts.push({ type: "text", text });
  });
  return parts;
}

/** A function call's output: a string, or a list of parts of which only text can be carried. */
function toolOutput(v: unknown, field: string): string {
  if (typeof v === "string") return v;
  return reqArray(v, field)
    .map((p, i) => {
      const f = `${field}[${i}]`;
      const o = reqObj(p, f);
      if (o.type === "input_text") return reqString(o.text, `${f}.text`);
      if (o.type === "input_image" || o.type === "input_file")
        throw unsupported(`${f}.type`, `a function call output can only hold text for this model, not "${o.type}"`);
      throw bad(`${f}.type`, `unknown output part type ${JSON.stringify(o.type)} (input_text)`);
    })
    .join("");
}

/** Item types that only OpenAI can make sense of: built-in tools' calls, stored items, reasoning. */
function foreignItem(type: string, f: string): never {
  if (type === "item_reference")
    throw unsupported(`${f}.type`, "item references need stored responses, which RADIANT keeps only for OpenAI models: send the items themselves");
  if (type === "reasoning") throw unsupported(`${f}.type`, "reasoning items come from OpenAI models and cannot be sent to this model: leave them out");
  throw bad(`${f}.type`, `${JSON.stringify(type)} items cannot be sent to this model (message, function_call or function_call_output)`);
}

interface Conversation {
  system: string[];
  messages: IrMessage[];
}

function readInput(v: unknown): Conversation {
  const conv: Conversation = { system: [], messages: [] };
  // Responses lists a turn's output as separate items (a message, then each
  // function call); the neutral form wants one message per turn, so items of
  // one role in a row are joined.
  const add = (role: IrMessage["role"], parts: IrPart[]) => {
    if (parts.length === 0) return;
    const last = conv.messages.at(-1);
    if (last && last.role === role) last.parts.push(...parts);
    else conv.messages.push({ role, parts });
  };
  if (typeof v === "string") {
    add("user", [{ type: "text", text: v }]);
    return conv;
  }
  if (v === undefined) throw bad("input", "is required (a string or a list of items)");
  const names = new Map<string, string>(); // call_id → function name (Google needs it on the result)
  reqArray(v, "input").forEach((raw, i) => {
    const f = `input[${i}]`;
    const o = reqObj(raw, f);
    const type = o.type ?? "message";
    if (typeof type !== "string") throw bad(`${f}.type`, `must be a string, not ${JSON.stringify(type)}`);
    switch (type) {
      case "message": {
        const role = reqString(o.role, `${f}.role`);
        if (role === "system" || role === "developer") conv.system.push(textOnly(o.content, `${f}.content`, ["input_text"]));
        else if (role === "user") add("user", userParts(o.content, `${f}.content`));
        else if (role === "assistant") add("assistant", assistantParts(o.content, `${f}.content`));
        else throw bad(`${f}.role`, `unknown role ${JSON.stringify(role)} (user, assistant, system or developer)`);
        return;
      }
      case "function_call": {
        const id = reqString(o.call_id, `${f}.call_id`);
        const name = reqString(o.name, `${f}.name`);
        names.set(id, name);
        add("assistant", [{ type: "tool_call", id, name, arguments: reqString(o.arguments, `${f}.arguments`) }]);
        return;
      }
      case "function_call_output": {
        const callId = reqString(o.call_id, `${f}.call_id`);
        const name = names.get(callId);
        add("user", [{ type: "tool_result", callId, ...(name !== undefined ? { name } : {}), content: toolOutput(o.output, `${f}.output`) }]);
        return;
      }
      default:
        foreignItem(type, f);
    }
  });
  return conv;
}

function readTools(v: unknown): IrTool[] | undefined {
  if (!given(v)) return undefined;
  const list = reqArray(v, "tools").map((t, i): IrTool => {
    const f = `tools[${i}]`;
    const o = reqObj(t, f);
    if (o.type !== "function") {
      // web_search, file_search, code_interpreter, mcp, …: OpenAI runs these itself
      throw unsupported(
        `${f}.type`,
        `the built-in tool ${JSON.stringify(o.type)} runs only on OpenAI's servers and is not available for this model: only "function" tools are`,
      );
    }
    const description = optString(o.description, `${f}.description`);
    optBool(o.strict, `${f}.strict`);
    // `strict` (exact schema adherence) has no equivalent elsewhere: dropped
    return {
      name: reqString(o.name, `${f}.name`),
      ...(description !== undefined ? { description } : {}),
      parameters: optSchema(o.parameters, `${f}.parameters`) ?? { type: "object", properties: {} },
    };
  });
  return list.length > 0 ? list : undefined;
}

function readToolChoice(v: unknown): IrToolChoice | undefined {
  if (!given(v)) return undefined;
  if (v === "auto" || v === "none" || v === "required") return v;
  if (typeof v === "string") throw bad("tool_choice", `must be "auto", "none", "required" or {"type":"function","name":…}, not ${JSON.stringify(v)}`);
  const o = reqObj(v, "tool_choice");
  if (o.type !== "function") throw unsupported("tool_choice.type", `only "function" can be sent to this model, not ${JSON.stringify(o.type)}`);
  return { name: reqString(o.name, "tool_choice.name") };
}

/**
 * What needs state or OpenAI's own servers is refused: RADIANT stores no
 * responses for models not served by OpenAI, so there is nothing to continue
 * from. Dropped without a word (no equivalent, the answer's shape is the
 * same): metadata, user, safety_identifier, prompt_cache_key, service_tier,
 * parallel_tool_calls, max_tool_calls, reasoning, truncation, include,
 * stream_options, store: false.
 */
function refuseUnsupported(body: Record<string, unknown>): void {
  const noState = "RADIANT keeps no response state for models not served by OpenAI: send the whole conversation in input";
  if (given(body.previous_response_id)) throw unsupported("previous_response_id", noState);
  if (given(body.conversation)) throw unsupported("conversation", noState);
  if (optBool(body.store, "store") === true) throw unsupported("store", `${noState}, with store false or left out`);
  if (optBool(body.background, "background") === true)
    throw unsupported("background", "background responses need stored responses, which RADIANT keeps only for OpenAI models");
  if (given(body.prompt)) throw unsupported("prompt", "prompt templates are stored at OpenAI and cannot be used with this model");
  // 0 is what OpenAI's own answers echo, so a client may send it back
  if ((optNumber(body.top_logprobs, "top_logprobs") ?? 0) > 0) throw unsupported("top_logprobs", "this model's provider does not return log probabilities");
  if (given(body.text)) {
    const text = reqObj(body.text, "text");
    if (given(text.format)) {
      const format = reqObj(text.format, "text.format");
      if (format.type !== "text") throw unsupported("text.format", `${JSON.stringify(format.type)} is not supported for this model`);
    }
  }
}

function fromClient(body: Record<string, unknown>): IrRequest {
  // first: a continuation (previous_response_id) fails here for want of state, whatever its input
  refuseUnsupported(body);
  const conv = readInput(body.input);
  const instructions = optString(body.instructions, "instructions");
  const system = [...(instructions ? [instructions] : []), ...conv.system.filter((s) => s !== "")];
  if (conv.messages.length === 0) throw bad("input", "must hold at least one user or assistant message or function call item");
  const tools = readTools(body.tools);
  const toolChoice = readToolChoice(body.tool_choice);
  const maxTokens = optCount(body.max_output_tokens, "max_output_tokens");
  const temperature = optNumber(body.temperature, "temperature");
  const topP = optNumber(body.top_p, "top_p");
  return {
    ...(system.length > 0 ? { system: system.join("\n\n") } : {}),
    messages: conv.messages,
    ...(tools ? { tools } : {}),
    ...(toolChoice !== undefined ? { toolChoice } : {}),
    ...(maxTokens !== undefined ? { maxTokens } : {}),
    ...(temperature !== undefined ? { temperature } : {}),
    ...(topP !== undefined ? { topP } : {}),
    stream: optBool(body.stream, "stream") ?? false,
  };
}

// ---- the answer ----------------------------------------------------------------

type Status = "completed" | "incomplete" | "failed" | "in_progress";

/** The response's status, and why it is incomplete (Responses knows two reasons). */
function outcome(f: IrFinish): { status: Status; reason?: "max_output_tokens" | "content_filter" } {
  switch (f) {
    case "stop":
    case "tool_calls":
      return { status: "completed" };
    case "length":
      return { status: "incomplete", reason: "max_output_tokens" };
    case "content_filter":
    case "refusal":
      return { status: "incomplete", reason: "content_filter" };
  }
}

const usageOf = (u: IrUsage) => ({
  input_tokens: u.input,
  input_tokens_details: { cached_tokens: 0 },
  output_tokens: u.output,
  output_tokens_details: { reasoning_tokens: 0 },
  total_tokens: u.input + u.output,
});

/**
 * The `response` object. The request's own settings (instructions, tools,
 * temperature, …) are not at hand here, so the fields that echo them say null
 * or their defaults; store is false: nothing is kept.
 */
function responseObject(
  c: TranslateContext,
  status: Status,
  output: unknown[],
  more: { reason?: string | undefined; usage?: IrUsage | undefined; error?: string | undefined },
): Record<string, unknown> {
  return {
    id: `resp_${c.id}`,
    object: "response",
    created_at: c.created,
    status,
    error: more.error !== undefined ? { code: "server_error", message: more.error } : null,
    incomplete_details: more.reason !== undefined ? { reason: more.reason } : null,
    instructions: null,
    max_output_tokens: null,
    model: c.model,
    output,
    parallel_tool_calls: true,
    previous_response_id: null,
    store: false,
    temperature: null,
    tool_choice: "auto",
    tools: [],
    top_p: null,
    usage: more.usage ? usageOf(more.usage) : null,
    metadata: null,
  };
}

type ItemStatus = "completed" | "incomplete" | "in_progress";

const textPart = (text: string) => ({ type: "output_text", text, annotations: [] });

const messageItem = (id: string, status: ItemStatus, text: string | undefined) => ({
  id,
  type: "message",
  status,
  role: "assistant",
  content: text === undefined ? [] : [textPart(text)],
});

const callItem = (id: string, status: ItemStatus, call: { id: string; name: string; arguments: string }) => ({
  id,
  type: "function_call",
  status,
  call_id: call.id,
  name: call.name,
  arguments: call.arguments,
});

/** Ids of output items: unique within the response, stable for a given context id. */
function itemIds(c: TranslateContext) {
  let messages = 0;
  let calls = 0;
  return {
    message: () => (messages++ === 0 ? `msg_${c.id}` : `msg_${c.id}_${messages - 1}`),
    call: () => `fc_${c.id}_${calls++}`,
  };
}

function toClient(r: IrResponse, c: TranslateContext): ClientEvent {
  const ids = itemIds(c);
  // a run of text parts is one message item; each tool call its own item, in order
  const items: ({ kind: "text"; text: string } | { kind: "call"; id: string; name: string; arguments: string })[] = [];
  for (const p of r.parts) {
    if (p.type === "text") {
      if (p.text === "") continue;
      const last = items.at(-1);
      if (last?.kind === "text") last.text += p.text;
      else items.push({ kind: "text", text: p.text });
    } else if (p.type === "tool_call") items.push({ kind: "call", id: p.id, name: p.name, arguments: p.arguments });
  }
  const { status, reason } = outcome(r.finish);
  const output = items.map((it, i) => {
    // what was cut short by the limit or a filter is the last item
    const st: ItemStatus = status === "incomplete" && i === items.length - 1 ? "incomplete" : "completed";
    return it.kind === "text" ? messageItem(ids.message(), st, it.text) : callItem(ids.call(), st, it);
  });
  return { data: responseObject(c, status, output, { reason, usage: r.usage }) };
}

// ---- the streamed answer -------------------------------------------------------

type Open =
  | { kind: "text"; index: number; id: string; text: string }
  | { kind: "call"; index: number; id: string; irIndex: number; callId: string; name: string; args: string };

function clientStream(c: TranslateContext) {
  const ids = itemIds(c);
  const output: unknown[] = [];
  let seq = 0;
  let started = false;
  let done = false;
  let open: Open | undefined;
  let finish: IrFinish | undefined;
  let usage: IrUsage | undefined;

  // every event is named by its type and numbered in order, from 0
  const ev = (type: string, fields: Record<string, unknown>): ClientEvent => ({ event: type, data: { type, ...fields, sequence_number: seq++ } });

  const start = (): ClientEvent[] => {
    if (started) return [];
    started = true;
    return [
      ev("response.created", { response: responseObject(c, "in_progress", [], {}) }),
      ev("response.in_progress", { response: responseObject(c, "in_progress", [], {}) }),
    ];
  };

  const close = (status: ItemStatus): ClientEvent[] => {
    const o = open;
    if (!o) return [];
    open = undefined;
    if (o.kind === "text") {
      const item = messageItem(o.id, status, o.text);
      output[o.index] = item;
      const at = { item_id: o.id, output_index: o.index, content_index: 0 };
      return [
        ev("response.output_text.done", { ...at, text: o.text, logprobs: [] }),
        ev("response.content_part.done", { ...at, part: textPart(o.text) }),
        ev("response.output_item.done", { output_index: o.index, item }),
      ];
    }
    const item = callItem(o.id, status, { id: o.callId, name: o.name, arguments: o.args });
    output[o.index] = item;
    return [
      ev("response.function_call_arguments.done", { item_id: o.id, output_index: o.index, name: o.name, arguments: o.args }),
      ev("response.output_item.done", { output_index: o.index, item }),
    ];
  };

  /** The upstream failed: what is open stays incomplete, and the response fails. */
  const fail = (message: string): ClientEvent[] => {
    done = true;
    const o = open;
    if (o)
      output[o.index] =
        o.kind === "text" ? messageItem(o.id, "incomplete", o.text) : callItem(o.id, "incomplete", { id: o.callId, name: o.name, arguments: o.args });
    open = undefined;
    return [
      ev("error", { code: "server_error", message, param: null }),
      ev("response.failed", { response: responseObject(c, "failed", output, { usage, error: message }) }),
    ];
  };

  return {
    push(e: IrStreamEvent): ClientEvent[] {
      if (done) return [];
      const out = start();
      switch (e.type) {
        case "text": {
          if (e.text === "") return out;
          if (open?.kind !== "text") {
            out.push(...close("completed"));
            const o: Open = { kind: "text", index: output.length, id: ids.message(), text: "" };
            output.push(messageItem(o.id, "in_progress", undefined));
            open = o;
            out.push(
              ev("response.output_item.added", { output_index: o.index, item: messageItem(o.id, "in_progress", undefined) }),
              ev("response.content_part.added", { item_id: o.id, output_index: o.index, content_index: 0, part: textPart("") }),
            );
          }
          open.text += e.text;
          out.push(ev("response.output_text.delta", { item_id: open.id, output_index: open.index, content_index: 0, delta: e.text, logprobs: [] }));
          return out;
        }
        case "tool_start": {
          out.push(...close("completed"));
          const o: Open = { kind: "call", index: output.length, id: ids.call(), irIndex: e.index, callId: e.id, name: e.name, args: "" };
          const item = callItem(o.id, "in_progress", { id: e.id, name: e.name, arguments: "" });
          output.push(item);
          open = o;
          out.push(ev("response.output_item.added", { output_index: o.index, item }));
          return out;
        }
        case "tool_args": {
          // Anthropic and Google send one call's arguments before the next call
          // starts; arguments for a call already closed cannot be added to it
          if (open?.kind !== "call" || open.irIndex !== e.index || e.json === "") return out;
          open.args += e.json;
          out.push(ev("response.function_call_arguments.delta", { item_id: open.id, output_index: open.index, delta: e.json }));
          return out;
        }
        case "finish":
          finish = e.reason;
          return out;
        case "usage":
          usage = e.usage;
          return out;
        case "error":
          out.push(...fail(e.message));
          return out;
      }
    },
    end(): ClientEvent[] {
      if (done) return [];
      done = true;
      const out = start();
      // Anthropic and Google always say why they stopped: a stream without it was cut short
      if (finish === undefined) return [...out, ...fail("The model's provider ended the stream before the answer was complete")];
      const { status, reason } = outcome(finish);
      out.push(...close(status === "incomplete" ? "incomplete" : "completed"));
      out.push(ev(status === "completed" ? "response.completed" : "response.incomplete", { response: responseObject(c, status, output, { reason, usage }) }));
      return out;
    },
  };
}

export const responsesClient: ClientCodec = {
  api: "responses",
  fromClient,
  toClient,
  clientStream,
  clientError(status, message, retryAfter) {
    const s = foreignStatus(status);
    return { status: s, body: errorBody("responses", s, message), ...(retryAfter !== undefined ? { retryAfter } : {}) };
  },
};
