// What the echo upstreams answer, free of I/O: each format's request reduced to
// a neutral EchoInput, and the answer to it (the last user text, word by word,
// or a tool call when that text asks for one).

/** A model call reduced to what the echo needs. */
export interface EchoInput {
  /** every text of the conversation, the system prompt included: the input count */
  texts: string[];
  /** the text of the last user message that has any */
  userText: string | undefined;
  /** that message is the conversation's last one (no tool result answered a call since) */
  userTextLast: boolean;
  /** the names of the tools the request defines */
  tools: ReadonlySet<string>;
  /** the format's output limit, when the request sets one */
  maxTokens: number | undefined;
}

/** A request the format's API would refuse with 400. */
export interface BadRequest {
  error: string;
  /** the offending field (OpenAI's `param`) */
  param?: string;
}

export interface TextAnswer {
  kind: "text";
  /** the answer, cut after `maxTokens` words when truncated */
  text: string;
  truncated: boolean;
  inputTokens: number;
  outputTokens: number;
}

export interface ToolAnswer {
  kind: "tool";
  name: string;
  args: Record<string, unknown>;
  /** `args` as compact JSON, what OpenAI's `arguments` carries */
  argsJson: string;
  truncated: false;
  inputTokens: number;
  outputTokens: 1;
}

export type Answer = TextAnswer | ToolAnswer;

/** the size of the pieces a streamed tool call's arguments come in */
export const ARG_PIECE_CHARS = 8;

export const isBadRequest = (v: EchoInput | BadRequest | Answer): v is BadRequest => "error" in v;

/** How many words: runs of non-whitespace. */
export function countWords(s: string): number {
  let n = 0;
  const re = /\S+/g;
  while (re.exec(s)) n++;
  return n;
}

/**
 * The streamed pieces of a text: one word each, with the whitespace before it
 * (and the text's trailing whitespace on the last), so they join to the text.
 */
export function* wordPieces(text: string): Generator<string> {
  const re = /\s*\S+/g;
  let prev: string | undefined;
  let end = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (prev !== undefined) yield prev;
    prev = m[0];
    end = re.lastIndex;
  }
  if (prev !== undefined) yield prev + text.slice(end);
}

/** The text up to the end of its `n`th word (whole when shorter). */
function firstWords(text: string, n: number): string {
  const re = /\s*\S+/g;
  for (let i = 0; i < n; i++) if (!re.exec(text)) return text;
  return text.slice(0, re.lastIndex);
}

/** Pieces of about `size` characters, never splitting a surrogate pair. */
export function* pieces(s: string, size = ARG_PIECE_CHARS): Generator<string> {
  let cur = "";
  let n = 0;
  for (const ch of s) {
    cur += ch;
    if (++n === size) {
      yield cur;
      cur = "";
      n = 0;
    }
  }
  if (cur) yield cur;
}

/** `call <tool> <JSON object>` naming a defined tool: its name and arguments. */
function toolCall(text: string, tools: ReadonlySet<string>): { name: string; args: Record<string, unknown>; argsJson: string } | undefined {
  if (tools.size === 0) return undefined;
  const m = /^call\s+(\S+)\s+(\{[\s\S]*\})$/.exec(text.trim());
  if (!m || !tools.has(m[1]!)) return undefined;
  try {
    const args: unknown = JSON.parse(m[2]!);
    if (!isObject(args)) return undefined;
    return { name: m[1]!, args, argsJson: JSON.stringify(args) };
  } catch {
    return undefined; // not JSON (or too deep to print again): the text is echoed
  }
}

/** What the echo answers to a request. */
export function answer(input: EchoInput): Answer | BadRequest {
  const text = input.userText;
  const words = text === undefined ? 0 : countWords(text);
  if (text === undefined || words === 0) return { error: "the echo has no user text to answer: the conversation holds no user message with text" };
  let inputTokens = 0;
  for (const t of input.texts) inputTokens += countWords(t);
  // after a tool result the call was answered: echoing the request again would loop
  const call = input.userTextLast ? toolCall(text, input.tools) : undefined;
  if (call) return { kind: "tool", ...call, truncated: false, inputTokens, outputTokens: 1 };
  const max = input.maxTokens;
  if (max !== undefined && max < words) return { kind: "text", text: firstWords(text, max), truncated: true, inputTokens, outputTokens: max };
  return { kind: "text", text, truncated: false, inputTokens, outputTokens: words };
}

// ---- reading hostile JSON ----

export type Obj = Record<string, unknown>;

export const isObject = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** A token limit: absent, or a whole number ≥ 1. */
function limit(v: unknown, name: string): number | undefined | BadRequest {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) return { error: `${name}: must be an integer of at least 1`, param: name };
  return v;
}

/** The texts of a content value: a string, or parts whose `textType` parts carry `text`. */
function partTexts(content: unknown, textTypes: readonly string[]): string[] {
  if (typeof content === "string") return [content];
  const out: string[] = [];
  for (const p of arr(content)) {
    if (isObject(p) && typeof p.type === "string" && textTypes.includes(p.type) && typeof p.text === "string") out.push(p.text);
  }
  return out;
}

/** Builds an EchoInput from messages seen in order. */
class Conversation {
  readonly texts: string[] = [];
  userText: string | undefined;
  private userAt = -1;
  private count = 0;
  /** one message: `user` its user text (undefined when none), `other` the texts that only count */
  add(user: string[] | undefined, other: string[] = []): void {
    this.count++;
    const joined = user?.join("") ?? "";
    // a message of empty or blank parts says nothing: an earlier one is the last user text
    if (user && /\S/.test(joined)) {
      this.userText = joined;
      this.userAt = this.count;
    }
    // loops, not push(...): a hostile request may hold more parts than a call takes arguments
    for (const t of user ?? []) this.texts.push(t);
    for (const t of other) this.texts.push(t);
  }
  done(tools: Set<string>, maxTokens: number | undefined): EchoInput {
    return { texts: this.texts, userText: this.userText, userTextLast: this.userAt === this.count, tools, maxTokens };
  }
}

/** OpenAI `POST /v1/chat/completions`. */
export function readOpenAIChat(body: Obj): EchoInput | BadRequest {
  if (typeof body.model !== "string") return { error: "you must provide a model parameter", param: "model" };
  if (!Array.isArray(body.messages)) return { error: "Missing required parameter: 'messages'.", param: "messages" };
  if (body.messages.length === 0) return { error: "Invalid 'messages': empty array. Expected an array with minimum length 1.", param: "messages" };
  const max = limit(body.max_completion_tokens ?? body.max_tokens, body.max_completion_tokens != null ? "max_completion_tokens" : "max_tokens");
  if (typeof max === "object") return max;
  const c = new Conversation();
  for (const m of body.messages) {
    if (!isObject(m)) return { error: "Invalid type for 'messages[]': expected an object.", param: "messages" };
    const texts = partTexts(m.content, ["text"]);
    if (m.role === "user") c.add(texts);
    else c.add(undefined, texts);
  }
  const tools = new Set<string>();
  for (const t of arr(body.tools)) {
    const name = isObject(t) && t.type === "function" && isObject(t.function) ? str(t.function.name) : undefined;
    if (name) tools.add(name);
  }
  return c.done(tools, max);
}

/** OpenAI `POST /v1/responses`. */
export function readOpenAIResponses(body: Obj): EchoInput | BadRequest {
  if (typeof body.model !== "string") return { error: "Missing required parameter: 'model'.", param: "model" };
  const max = limit(body.max_output_tokens, "max_output_tokens");
  if (typeof max === "object") return max;
  const c = new Conversation();
  if (typeof body.instructions === "string") c.add(undefined, [body.instructions]);
  if (typeof body.input === "string") c.add([body.input]);
  else if (Array.isArray(body.input)) {
    for (const item of body.input) {
      if (!isObject(item)) return { error: "Invalid type for 'input[]': expected an object.", param: "input" };
      if (item.type !== undefined && item.type !== "message") {
        // function_call_output and the like: tool results, not user text
        c.add(undefined, typeof item.output === "string" ? [item.output] : partTexts(item.output, ["input_text", "output_text"]));
        continue;
      }
      const texts = partTexts(item.content, ["input_text", "output_text", "text"]);
      if (item.role === "user") c.add(texts);
      else c.add(undefined, texts);
    }
  } else return { error: "Missing required parameter: 'input'.", param: "input" };
  const tools = new Set<string>();
  for (const t of arr(body.tools)) {
    const name = isObject(t) && t.type === "function" ? str(t.name) : undefined;
    if (name) tools.add(name);
  }
  return c.done(tools, max);
}

/** Anthropic `POST /v1/messages`. */
export function readAnthropic(body: Obj): EchoInput | BadRequest {
  if (typeof body.model !== "string") return { error: "model: Field required" };
  if (!Array.isArray(body.messages)) return { error: "messages: Field required" };
  if (body.max_tokens === undefined) return { error: "max_tokens: Field required" };
  const max = limit(body.max_tokens, "max_tokens");
  if (typeof max === "object") return max;
  const c = new Conversation();
  const system = partTexts(body.system, ["text"]);
  if (system.length) c.add(undefined, system);
  for (const [i, m] of body.messages.entries()) {
    if (!isObject(m) || (m.role !== "user" && m.role !== "assistant")) return { error: `messages.${i}.role: Input should be 'user' or 'assistant'` };
    const texts = partTexts(m.content, ["text"]);
    const results: string[] = [];
    for (const b of arr(m.content)) {
      if (isObject(b) && b.type === "tool_result") for (const t of partTexts(b.content, ["text"])) results.push(t);
    }
    if (m.role === "user") c.add(texts, results);
    else c.add(undefined, [...texts, ...results]);
  }
  const tools = new Set<string>();
  for (const t of arr(body.tools)) {
    // client tools: no type, or "custom"; server tools (web_search_…) are the API's own
    const name = isObject(t) && (t.type === undefined || t.type === "custom") ? str(t.name) : undefined;
    if (name) tools.add(name);
  }
  return c.done(tools, max);
}

/** Google `…:generateContent` / `…:streamGenerateContent` (the REST API takes camelCase and snake_case). */
export function readGoogle(body: Obj): EchoInput | BadRequest {
  const contents = body.contents;
  if (!Array.isArray(contents) || contents.length === 0) return { error: "* GenerateContentRequest.contents: contents is not specified" };
  const gen = body.generationConfig ?? body.generation_config;
  const maxRaw = isObject(gen) ? (gen.maxOutputTokens ?? gen.max_output_tokens) : undefined;
  const max = limit(maxRaw, "generationConfig.maxOutputTokens");
  if (typeof max === "object") return { error: `* GenerateContentRequest.generation_config.max_output_tokens: must be at least 1` };
  const c = new Conversation();
  const system = body.systemInstruction ?? body.system_instruction;
  if (isObject(system)) c.add(undefined, googleTexts(system.parts));
  for (const [i, m] of contents.entries()) {
    if (!isObject(m)) return { error: `* GenerateContentRequest.contents[${i}]: must be an object` };
    const texts = googleTexts(m.parts);
    // a lone turn may leave out its role: the API takes it as the user's
    if (m.role === "user" || m.role === undefined) c.add(texts);
    else c.add(undefined, texts);
  }
  const tools = new Set<string>();
  for (const t of arr(body.tools)) {
    if (!isObject(t)) continue;
    for (const d of arr(t.functionDeclarations ?? t.function_declarations)) {
      const name = isObject(d) ? str(d.name) : undefined;
      if (name) tools.add(name);
    }
  }
  return c.done(tools, max);
}

function googleTexts(parts: unknown): string[] {
  const out: string[] = [];
  for (const p of arr(parts)) {
    // thought parts are the model's reasoning, not something said
    if (isObject(p) && typeof p.text === "string" && p.thought !== true) out.push(p.text);
  }
  return out;
}
