// Google Gemini (POST /v1beta/models/{model}:generateContent, and
// :streamGenerateContent?alt=sse), both halves: the backend (requests to a
// Gemini upstream, its answers back into the neutral form) and the client (a
// generateContent request into the neutral form, the neutral answer out as
// Gemini's). Gemini's function calls carry no ids: the backend names them
// `call_<n>` in order of appearance, and a client's functionResponse is paired
// with its call by name (or id, when the client gave one).
import {
  argsObject,
  bad,
  errorBody,
  foreignStatus,
  isObj,
  optCount,
  optNumber,
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

/** The path of a model's generateContent (plain) or streamGenerateContent (SSE). */
export const googlePath = (model: string, stream: boolean): string =>
  `/v1beta/models/${encodeURIComponent(model)}:${stream ? "streamGenerateContent?alt=sse" : "generateContent"}`;

// ---- backend: the neutral form → a Gemini upstream, and back -------------------

const imageTypes: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  heic: "image/heic",
};

function imagePart(p: Extract<IrPart, { type: "image" }>): unknown {
  const d = p.url !== undefined ? parseDataUrl(p.url) : undefined;
  if (p.url !== undefined && !d) {
    const ext = /\.([a-z0-9]+)(?:[?#].*)?$/i.exec(p.url)?.[1]?.toLowerCase();
    const mimeType = p.mediaType ?? (ext ? imageTypes[ext] : undefined);
    return { fileData: { ...(mimeType ? { mimeType } : {}), fileUri: p.url } };
  }
  const data = d?.data ?? p.data ?? "";
  return { inlineData: { mimeType: d?.mediaType ?? p.mediaType ?? sniffImageType(data) ?? "image/png", data } };
}

/**
 * A tool result as Gemini's functionResponse.response, which must be an object:
 * a result that is a JSON object goes as is; anything else under "output" (or
 * "error" for a failed call), the keys Gemini's documentation names.
 */
function responseObject(content: string, isError: boolean | undefined): Record<string, unknown> {
  const v = parseJson(content);
  if (!isError && isObj(v)) return v;
  const value = v === undefined || v === null ? content : v;
  return isError ? { error: value } : { output: value };
}

/** What Google's documentation says to send as the thought signature of a function call it did not make. */
export const SKIP_SIGNATURE = "skip_thought_signature_validator";

/** The function name of the tool call `callId` answers: the latest call with that id before message `before`. */
function callName(messages: IrMessage[], before: number, callId: string): string {
  for (let i = before; i >= 0; i--) {
    const parts = messages[i]!.parts;
    for (let j = parts.length - 1; j >= 0; j--) {
      const p = parts[j]!;
      if (p.type === "tool_call" && p.id === callId) return p.name;
    }
  }
  throw new TranslateError(`a tool result answers the call "${callId}", but no earlier tool call has that id (Google needs the function's name)`, "messages");
}

function googleContents(messages: IrMessage[]): unknown[] {
  const out: { role: string; parts: unknown[] }[] = [];
  messages.forEach((m, mi) => {
    let signed = false;
    const parts = m.parts.flatMap((p): unknown[] => {
      switch (p.type) {
        case "text":
          return p.text === "" ? [] : [{ text: p.text }]; // Gemini refuses empty text parts
        case "image":
          return [imagePart(p)];
        case "tool_call": {
          // args is an object: arguments that are not a JSON object (the model's own malformed output) go up as {}.
          // Gemini 3 refuses a history whose function calls lack the thought signature it gave them; calls made
          // by another model have none, and Google's documented stand-in for that case goes on the first of a turn.
          const call = { functionCall: { name: p.name, args: argsObject(p.arguments) } };
          if (signed) return [call];
          signed = true;
          return [{ ...call, thoughtSignature: SKIP_SIGNATURE }];
        }
        case "tool_result":
          return [{ functionResponse: { name: p.name ?? callName(messages, mi, p.callId), response: responseObject(p.content, p.isError) } }];
        default:
          return [];
      }
    });
    if (parts.length === 0) return;
    const role = m.role === "assistant" ? "model" : "user";
    const last = out.at(-1);
    // one turn per role: Gemini wants all the answers to a turn's function calls in the next turn
    if (last && last.role === role) last.parts.push(...parts);
    else out.push({ role, parts });
  });
  return out;
}

/** No parameters → no schema: Gemini refuses an object schema with no properties. */
function hasParameters(schema: Record<string, unknown>): boolean {
  const props = schema.properties;
  return !(
    schema.type === "object" &&
    (props === undefined || (isObj(props) && Object.keys(props).length === 0)) &&
    Object.keys(schema).every((k) => k === "type" || k === "properties" || k === "required" || k === "additionalProperties" || k === "$schema")
  );
}

function toolConfig(t: IrToolChoice): unknown {
  if (t === "auto") return { functionCallingConfig: { mode: "AUTO" } };
  if (t === "none") return { functionCallingConfig: { mode: "NONE" } };
  if (t === "required") return { functionCallingConfig: { mode: "ANY" } };
  return { functionCallingConfig: { mode: "ANY", allowedFunctionNames: [t.name] } };
}

function toUpstream(r: IrRequest, c: { upstreamModel: string }) {
  const body: Record<string, unknown> = {};
  if (r.system) body.systemInstruction = { parts: [{ text: r.system }] };
  body.contents = googleContents(r.messages);
  if (r.tools && r.tools.length > 0) {
    body.tools = [
      {
        functionDeclarations: r.tools.map((t) => ({
          name: t.name,
          ...(t.description !== undefined ? { description: t.description } : {}),
          // parametersJsonSchema takes JSON Schema as it is (`parameters` is an OpenAPI subset that refuses
          // additionalProperties, $ref, type lists, …)
          ...(hasParameters(t.parameters) ? { parametersJsonSchema: t.parameters } : {}),
        })),
      },
    ];
    if (r.toolChoice !== undefined) body.toolConfig = toolConfig(r.toolChoice);
  }
  const g: Record<string, unknown> = {};
  if (r.maxTokens !== undefined) g.maxOutputTokens = r.maxTokens;
  if (r.temperature !== undefined) g.temperature = r.temperature;
  if (r.topP !== undefined) g.topP = r.topP;
  if (r.topK !== undefined) g.topK = r.topK;
  if (r.stop && r.stop.length > 0) g.stopSequences = r.stop;
  if (Object.keys(g).length > 0) body.generationConfig = g;
  return { path: googlePath(c.upstreamModel, r.stream), body };
}

const filtered = new Set(["SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "LANGUAGE"]);

function irFinish(reason: unknown, sawTool: boolean): IrFinish {
  if (reason === "MAX_TOKENS") return "length";
  if (typeof reason === "string" && filtered.has(reason)) return "content_filter";
  // STOP, OTHER, MALFORMED_FUNCTION_CALL, …: a function call in the answer makes it a tool call
  return sawTool ? "tool_calls" : "stop";
}

function irUsage(u: unknown): IrUsage | undefined {
  if (!isObj(u)) return undefined;
  const n = (k: string) => (typeof u[k] === "number" ? (u[k] as number) : 0);
  // thinking tokens are output the others count in their completion tokens
  return { input: n("promptTokenCount"), output: n("candidatesTokenCount") + n("thoughtsTokenCount") };
}

/** Text and function calls of a candidate's parts; thought summaries left out. */
function candidateParts(c: Record<string, unknown>, nextCall: () => number): IrPart[] {
  const content = isObj(c.content) ? c.content : {};
  const parts: IrPart[] = [];
  for (const p of Array.isArray(content.parts) ? content.parts : []) {
    if (!isObj(p) || p.thought === true) continue;
    if (typeof p.text === "string" && p.text) parts.push({ type: "text", text: p.text });
    else if (isObj(p.functionCall)) {
      const fc = p.functionCall;
      const n = nextCall();
      parts.push({
        type: "tool_call",
        id: typeof fc.id === "string" && fc.id ? fc.id : `call_${n}`,
        name: typeof fc.name === "string" ? fc.name : "",
        arguments: JSON.stringify(fc.args ?? {}),
      });
    }
  }
  return parts;
}

function fromUpstream(json: unknown): IrResponse {
  const o = isObj(json) ? json : {};
  const cand = Array.isArray(o.candidates) && isObj(o.candidates[0]) ? o.candidates[0] : undefined;
  let n = 0;
  const parts = cand ? candidateParts(cand, () => n++) : [];
  const usage = irUsage(o.usageMetadata);
  // no candidate at all: the prompt itself was blocked (promptFeedback.blockReason)
  const finish = cand ? irFinish(cand.finishReason, n > 0) : isObj(o.promptFeedback) && o.promptFeedback.blockReason ? "content_filter" : "stop";
  return { parts, finish, ...(usage ? { usage } : {}) };
}

function upstreamStream(): (ev: { data: string }) => IrStreamEvent[] {
  let calls = 0;
  let finished = false;
  return (ev) => {
    const data = ev.data.trim();
    if (data === "") return [];
    const v = parseJson(data);
    if (!isObj(v)) return [{ type: "error", message: "The model's provider sent a stream event that is not a JSON object" }];
    if (v.error !== undefined) return [{ type: "error", message: upstreamErrorMessage(500, data) }];
    const out: IrStreamEvent[] = [];
    const cand = Array.isArray(v.candidates) && isObj(v.candidates[0]) ? v.candidates[0] : undefined;
    if (cand) {
      let index = calls;
      for (const p of candidateParts(cand, () => calls++)) {
        if (p.type === "text") out.push({ type: "text", text: p.text });
        else if (p.type === "tool_call") {
          // Gemini sends a call whole, in one chunk: its start and all its arguments at once
          index++;
          out.push({ type: "tool_start", index: index - 1, id: p.id, name: p.name }, { type: "tool_args", index: index - 1, json: p.arguments });
        }
      }
      if (typeof cand.finishReason === "string" && cand.finishReason !== "FINISH_REASON_UNSPECIFIED" && !finished) {
        finished = true;
        out.push({ type: "finish", reason: irFinish(cand.finishReason, calls > 0) });
      }
    } else if (isObj(v.promptFeedback) && v.promptFeedback.blockReason && !finished) {
      finished = true;
      out.push({ type: "finish", reason: "content_filter" });
    }
    const usage = irUsage(v.usageMetadata);
    if (usage) out.push({ type: "usage", usage });
    return out;
  };
}

export const googleBackend: BackendCodec = {
  format: "google",
  toUpstream,
  fromUpstream,
  upstreamStream,
  upstreamError: (status, body) => ({ status, message: upstreamErrorMessage(status, body) }),
};

// ---- client: a generateContent request → the neutral form, and back -------------

/** A field in Gemini's JSON, which takes lowerCamelCase or snake_case names alike. */
function get(o: Record<string, unknown>, camel: string): unknown {
  if (o[camel] !== undefined) return o[camel];
  return o[camel.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`)];
}

/** Gemini's OpenAPI-style schema (types in capitals: "OBJECT", "STRING") as JSON Schema (lowercase). */
function jsonSchema(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(jsonSchema);
  if (!isObj(v)) return v;
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => {
      if (k === "type" && typeof x === "string") return [k, x.toLowerCase()];
      if (k === "properties" && isObj(x)) return [k, Object.fromEntries(Object.entries(x).map(([p, s]) => [p, jsonSchema(s)]))];
      if (k === "items" || k === "anyOf") return [k, jsonSchema(x)];
      return [k, x];
    }),
  );
}

/** The text of a Content (systemInstruction), or of a bare string. */
function contentText(v: unknown, field: string): string {
  if (typeof v === "string") return v;
  const o = reqObj(v, field);
  return reqArray(o.parts, `${field}.parts`)
    .map((p, i) => {
      const part = reqObj(p, `${field}.parts[${i}]`);
      return reqString(part.text, `${field}.parts[${i}].text`);
    })
    .join("\n");
}

const unsupportedParts = ["executableCode", "codeExecutionResult", "videoMetadata", "toolCall", "toolResponse"];

interface Call {
  id: string;
  name: string;
  answered: boolean;
}

function clientParts(content: Record<string, unknown>, role: "user" | "assistant", field: string, calls: Call[]): IrPart[] {
  const parts: IrPart[] = [];
  reqArray(content.parts, `${field}.parts`).forEach((raw, j) => {
    const f = `${field}.parts[${j}]`;
    const p = reqObj(raw, f);
    const inline = get(p, "inlineData");
    const file = get(p, "fileData");
    const fc = get(p, "functionCall");
    const fr = get(p, "functionResponse");
    if (p.text !== undefined) {
      const text = reqString(p.text, `${f}.text`);
      // a thought summary the model wrote earlier: no other provider can take it back; dropped
      if (p.thought !== true) parts.push({ type: "text", text });
    } else if (inline !== undefined) {
      const d = reqObj(inline, `${f}.inlineData`);
      const mimeType = reqString(get(d, "mimeType"), `${f}.inlineData.mimeType`);
      if (!mimeType.startsWith("image/")) throw unsupported(`${f}.inlineData.mimeType`, `only images can be sent to this model, not ${mimeType}`);
      parts.push({ type: "image", mediaType: mimeType, data: reqString(d.data, `${f}.inlineData.data`) });
    } else if (file !== undefined) {
      const d = reqObj(file, `${f}.fileData`);
      const uri = reqString(get(d, "fileUri"), `${f}.fileData.fileUri`);
      const mimeType = optString(get(d, "mimeType"), `${f}.fileData.mimeType`);
      if (mimeType !== undefined && !mimeType.startsWith("image/"))
        throw unsupported(`${f}.fileData.mimeType`, `only images can be sent to this model, not ${mimeType}`);
      // Gemini's own uploaded files (the Files API, gs://) are readable by Gemini only
      if (!/^https?:\/\//i.test(uri) || /^https:\/\/generativelanguage\.googleapis\.com\//i.test(uri))
        throw unsupported(`${f}.fileData.fileUri`, "only public http(s) URLs can be sent to this model: files uploaded to Gemini cannot");
      parts.push({ type: "image", url: uri, ...(mimeType ? { mediaType: mimeType } : {}) });
    } else if (fc !== undefined) {
      if (role !== "assistant") throw bad(`${f}.functionCall`, "function calls belong in the model's turns");
      const o = reqObj(fc, `${f}.functionCall`);
      const name = reqString(o.name, `${f}.functionCall.name`);
      const given = optString(o.id, `${f}.functionCall.id`);
      const id = given || `call_${calls.length}`;
      calls.push({ id, name, answered: false });
      parts.push({
        type: "tool_call",
        id,
        name,
        arguments: JSON.stringify(o.args === undefined || o.args === null ? {} : reqObj(o.args, `${f}.functionCall.args`)),
      });
    } else if (fr !== undefined) {
      if (role !== "user") throw bad(`${f}.functionResponse`, "function responses belong in the user's turns");
      const o = reqObj(fr, `${f}.functionResponse`);
      const name = reqString(o.name, `${f}.functionResponse.name`);
      const id = optString(o.id, `${f}.functionResponse.id`);
      // its call: the one with its id, else the oldest unanswered call of that name
      const call = (id && calls.find((c) => c.id === id && !c.answered)) || calls.find((c) => c.name === name && !c.answered);
      if (!call) throw bad(`${f}.functionResponse.name`, `no earlier functionCall named ${JSON.stringify(name)} is waiting for a response`);
      call.answered = true;
      const response = o.response === undefined || o.response === null ? {} : reqObj(o.response, `${f}.functionResponse.response`);
      const keys = Object.keys(response);
      // the keys the backend side writes (see responseObject): unwrapped; any other object goes as JSON
      let content: string;
      let isError = false;
      if (keys.length === 1 && keys[0] === "output") content = typeof response.output === "string" ? response.output : JSON.stringify(response.output);
      else if (keys.length === 1 && keys[0] === "error") {
        isError = true;
        content = typeof response.error === "string" ? response.error : JSON.stringify(response.error);
      } else content = JSON.stringify(response);
      parts.push({ type: "tool_result", callId: call.id, name, content, ...(isError ? { isError } : {}) });
    } else {
      const key = unsupportedParts.find((k) => get(p, k) !== undefined);
      if (key) throw unsupported(`${f}.${key}`, `${key} parts cannot be sent to this model`);
      // a part with nothing but a thoughtSignature (or nothing at all) carries no content
      if (get(p, "thoughtSignature") === undefined) throw bad(f, "a part needs text, inlineData, fileData, functionCall or functionResponse");
    }
  });
  return parts;
}

function tools(v: unknown, field: string): IrTool[] | undefined {
  if (v === undefined || v === null) return undefined;
  const out: IrTool[] = [];
  reqArray(v, field).forEach((t, i) => {
    const o = reqObj(t, `${field}[${i}]`);
    for (const k of Object.keys(o)) {
      if (k !== "functionDeclarations" && k !== "function_declarations")
        throw unsupported(`${field}[${i}].${k}`, `Gemini's ${k} tool is not available for this model`);
    }
    const decls = get(o, "functionDeclarations");
    if (decls === undefined) return;
    reqArray(decls, `${field}[${i}].functionDeclarations`).forEach((d, j) => {
      const f = `${field}[${i}].functionDeclarations[${j}]`;
      const fd = reqObj(d, f);
      const description = optString(fd.description, `${f}.description`);
      const js = get(fd, "parametersJsonSchema");
      const params =
        js !== undefined && js !== null
          ? reqObj(js, `${f}.parametersJsonSchema`)
          : fd.parameters !== undefined && fd.parameters !== null
            ? (jsonSchema(reqObj(fd.parameters, `${f}.parameters`)) as Record<string, unknown>)
            : { type: "object", properties: {} };
      out.push({ name: reqString(fd.name, `${f}.name`), ...(description !== undefined ? { description } : {}), parameters: params });
    });
  });
  return out;
}

/** toolConfig.functionCallingConfig → a tool choice; `ANY` limited to some functions also limits the tools sent. */
function toolChoice(v: unknown, irTools: IrTool[] | undefined): { choice?: IrToolChoice; tools?: IrTool[] } {
  if (v === undefined || v === null) return { ...(irTools ? { tools: irTools } : {}) };
  const cfg = get(reqObj(v, "toolConfig"), "functionCallingConfig");
  if (cfg === undefined || cfg === null) return { ...(irTools ? { tools: irTools } : {}) };
  const o = reqObj(cfg, "toolConfig.functionCallingConfig");
  const mode = o.mode ?? "AUTO";
  const allowed = get(o, "allowedFunctionNames");
  const names =
    allowed === undefined || allowed === null
      ? []
      : reqArray(allowed, "toolConfig.functionCallingConfig.allowedFunctionNames").map((n, i) =>
          reqString(n, `toolConfig.functionCallingConfig.allowedFunctionNames[${i}]`),
        );
  switch (mode) {
    case "AUTO":
    case "VALIDATED": // calls checked against their schema: the others do not say, AUTO is closest
    case "MODE_UNSPECIFIED":
      return { choice: "auto", ...(irTools ? { tools: irTools } : {}) };
    case "NONE":
      return { choice: "none", ...(irTools ? { tools: irTools } : {}) };
    case "ANY": {
      if (names.length === 1) return { choice: { name: names[0]! }, ...(irTools ? { tools: irTools } : {}) };
      const kept = names.length > 0 && irTools ? irTools.filter((t) => names.includes(t.name)) : irTools;
      return { choice: "required", ...(kept ? { tools: kept } : {}) };
    }
    default:
      throw bad("toolConfig.functionCallingConfig.mode", `must be AUTO, ANY, NONE or VALIDATED, not ${JSON.stringify(mode)}`);
  }
}

/**
 * generationConfig. Refused: what would change the answer's shape (several
 * candidates, JSON or audio answers, log probabilities). Dropped (no
 * equivalent, same shape): presencePenalty, frequencyPenalty, seed,
 * thinkingConfig, mediaResolution, and the request's safetySettings and labels.
 */
function generation(v: unknown): Partial<IrRequest> {
  if (v === undefined || v === null) return {};
  const g = reqObj(v, "generationConfig");
  const f = (k: string) => `generationConfig.${k}`;
  const count = optCount(get(g, "candidateCount"), f("candidateCount"));
  if (count !== undefined && count !== 1)
    throw unsupported(f("candidateCount"), "this model's provider gives one candidate per request: candidateCount must be 1");
  const mime = optString(get(g, "responseMimeType"), f("responseMimeType"));
  if (mime !== undefined && mime !== "text/plain") throw unsupported(f("responseMimeType"), `${JSON.stringify(mime)} answers are not supported for this model`);
  for (const k of ["responseSchema", "responseJsonSchema"])
    if (get(g, k) !== undefined && get(g, k) !== null) throw unsupported(f(k), "structured answers are not supported for this model");
  if (get(g, "responseLogprobs") === true || get(g, "logprobs") !== undefined)
    throw unsupported(f("responseLogprobs"), "this model's provider does not return log probabilities");
  const modalities = get(g, "responseModalities");
  if (Array.isArray(modalities) && modalities.some((m) => m !== "TEXT")) throw unsupported(f("responseModalities"), "this model answers in text only");
  const maxTokens = optCount(get(g, "maxOutputTokens"), f("maxOutputTokens"));
  const temperature = optNumber(g.temperature, f("temperature"));
  const topP = optNumber(get(g, "topP"), f("topP"));
  const topK = optCount(get(g, "topK"), f("topK"));
  const stop = optStops(get(g, "stopSequences"), f("stopSequences"));
  return {
    ...(maxTokens !== undefined ? { maxTokens } : {}),
    ...(temperature !== undefined ? { temperature } : {}),
    ...(topP !== undefined ? { topP } : {}),
    ...(topK !== undefined ? { topK } : {}),
    ...(stop ? { stop } : {}),
  };
}

function fromClient(body: Record<string, unknown>, c: { stream: boolean }): IrRequest {
  const list = reqArray(body.contents, "contents", true);
  const calls: Call[] = [];
  const messages: IrMessage[] = list.map((raw, i) => {
    const f = `contents[${i}]`;
    const m = reqObj(raw, f);
    const r = m.role ?? "user";
    // "function" is the role older clients give function responses
    if (r !== "user" && r !== "model" && r !== "function") throw bad(`${f}.role`, `must be "user" or "model", not ${JSON.stringify(r)}`);
    const role = r === "model" ? "assistant" : "user";
    return { role, parts: clientParts(m, role, f, calls) };
  });
  if (get(body, "cachedContent") !== undefined) throw unsupported("cachedContent", "Gemini's cached contents are not available for this model");
  const sys = get(body, "systemInstruction");
  const system = sys === undefined || sys === null ? undefined : contentText(sys, "systemInstruction");
  const { choice, tools: irTools } = toolChoice(get(body, "toolConfig"), tools(body.tools, "tools"));
  return {
    ...(system ? { system } : {}),
    messages,
    ...(irTools ? { tools: irTools } : {}),
    ...(choice !== undefined ? { toolChoice: choice } : {}),
    ...generation(get(body, "generationConfig")),
    stream: c.stream,
  };
}

export function googleFinish(f: IrFinish): string {
  switch (f) {
    case "stop":
    case "tool_calls": // Gemini says STOP; the functionCall part says the rest
      return "STOP";
    case "length":
      return "MAX_TOKENS";
    case "content_filter":
    case "refusal":
      return "SAFETY";
  }
}

const usageMetadata = (u: IrUsage | undefined) => ({
  promptTokenCount: u?.input ?? 0,
  candidatesTokenCount: u?.output ?? 0,
  totalTokenCount: (u?.input ?? 0) + (u?.output ?? 0),
});

const functionCall = (name: string, args: string) => ({ functionCall: { name, args: argsObject(args) } });

function toClient(r: IrResponse, c: { id: string; model: string }): ClientEvent {
  const parts = r.parts.flatMap((p): unknown[] => {
    if (p.type === "text") return p.text === "" ? [] : [{ text: p.text }];
    // args is an object: arguments that are not a JSON object (malformed model output) become {}
    if (p.type === "tool_call") return [functionCall(p.name, p.arguments)];
    return [];
  });
  return {
    data: {
      candidates: [{ content: { role: "model", parts }, finishReason: googleFinish(r.finish), index: 0 }],
      usageMetadata: usageMetadata(r.usage),
      modelVersion: c.model,
      responseId: c.id,
    },
  };
}

export const googleClient: ClientCodec = {
  api: "google",
  fromClient,
  toClient,
  clientStream(c) {
    let done = false;
    let sawTool = false;
    let finish: IrFinish | undefined;
    let usage: IrUsage | undefined;
    // Gemini sends function calls whole: their pieces are gathered here, and go out together
    // (in one chunk, as Gemini sends parallel calls) before the next text or at the end
    const pending: { index: number; name: string; args: string }[] = [];
    const chunk = (parts: unknown[], last = false): ClientEvent => ({
      data: {
        candidates: [
          { content: { role: "model", parts }, ...(last ? { finishReason: googleFinish(finish ?? (sawTool ? "tool_calls" : "stop")) } : {}), index: 0 },
        ],
        ...(last ? { usageMetadata: usageMetadata(usage) } : {}),
        modelVersion: c.model,
        responseId: c.id,
      },
    });
    const flush = (): unknown[] => pending.splice(0).map((t) => functionCall(t.name, t.args));
    return {
      push(e: IrStreamEvent) {
        if (done) return [];
        switch (e.type) {
          case "text": {
            if (!e.text) return [];
            const calls = flush();
            return [...(calls.length > 0 ? [chunk(calls)] : []), chunk([{ text: e.text }])];
          }
          case "tool_start":
            sawTool = true;
            pending.push({ index: e.index, name: e.name, args: "" });
            return [];
          case "tool_args": {
            const t = pending.find((p) => p.index === e.index);
            if (t) t.args += e.json;
            return [];
          }
          case "finish":
            finish = e.reason;
            return [];
          case "usage":
            usage = e.usage;
            return [];
          case "error":
            done = true;
            return [{ data: errorBody("google", 500, e.message) }];
        }
      },
      end() {
        if (done) return [];
        done = true;
        if (finish === undefined) return [{ data: errorBody("google", 502, STREAM_CUT) }];
        const calls = flush();
        // the last chunk carries the finish reason and the counts (with the calls, if any are left)
        return [chunk(calls.length > 0 ? calls : [{ text: "" }], true)];
      },
    };
  },
  clientError(status, message, retryAfter) {
    const s = foreignStatus(status);
    return { status: s, body: errorBody("google", s, message), ...(retryAfter !== undefined ? { retryAfter } : {}) };
  },
};
