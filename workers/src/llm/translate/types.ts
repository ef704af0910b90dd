// The translator contract: a request in a client's API to a model whose
// upstream speaks another format, and everything back. Pure functions, no I/O:
// the LLM handler (../handler_llm.ts) does the calling. Each client × backend
// pair is a file `<client>_<backend>.ts` exporting a `Translator`; pairs of
// different formats go through the neutral form below (ir), pairs of one
// format pass bodies through with only the model name changed.
import type { ModelFormat } from "@radiant/infra/models";

/** The APIs clients call. `openai` is Chat Completions; `responses` is OpenAI's Responses API. */
export const CLIENT_APIS = ["openai", "responses", "anthropic", "google"] as const;
export type ClientApi = (typeof CLIENT_APIS)[number];
export type Backend = ModelFormat;
export type PairName = `${ClientApi}_${Backend}`;

// ---- the neutral form --------------------------------------------------------

export type IrPart =
  | { type: "text"; text: string }
  /** base64 data or a URL (https: or data:) */
  | { type: "image"; mediaType?: string; data?: string; url?: string }
  /** `arguments`: JSON text, as the model produced it */
  | { type: "tool_call"; id: string; name: string; arguments: string }
  | { type: "tool_result"; callId: string; name?: string; content: string; isError?: boolean };

export interface IrMessage {
  role: "user" | "assistant";
  parts: IrPart[];
}

export interface IrTool {
  name: string;
  description?: string;
  /** JSON Schema of the arguments */
  parameters: Record<string, unknown>;
}

export type IrToolChoice = "auto" | "none" | "required" | { name: string };

export interface IrRequest {
  /** system (and OpenAI developer) instructions, in order */
  system?: string;
  messages: IrMessage[];
  tools?: IrTool[];
  toolChoice?: IrToolChoice;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  stop?: string[];
  stream: boolean;
}

export type IrFinish = "stop" | "length" | "tool_calls" | "content_filter" | "refusal";

export interface IrUsage {
  input: number;
  output: number;
}

export interface IrResponse {
  /** text and tool_call parts, in order */
  parts: IrPart[];
  finish: IrFinish;
  usage?: IrUsage;
}

/** A streamed answer, as neutral events. Tool calls are numbered in order of appearance. */
export type IrStreamEvent =
  | { type: "text"; text: string }
  | { type: "tool_start"; index: number; id: string; name: string }
  | { type: "tool_args"; index: number; json: string }
  | { type: "finish"; reason: IrFinish }
  | { type: "usage"; usage: IrUsage }
  /** the upstream failed mid-stream */
  | { type: "error"; message: string };

// ---- what the handler uses ---------------------------------------------------

/** Facts the translation needs that are not in the body. Fixed in golden tests, so outputs are stable. */
export interface TranslateContext {
  /** the model name the client asked for (answers name it, not the upstream's) */
  model: string;
  /** the upstream's name for it (requests carry it) */
  upstreamModel: string;
  /** an id for the answer (`chatcmpl-…`, `msg_…`, `resp_…` are made from it) */
  id: string;
  /** seconds since the epoch, for `created` fields */
  created: number;
  /** the client asked for a stream (Google: the path decides) */
  stream: boolean;
  /** OpenAI `stream_options.include_usage` */
  includeUsage: boolean;
}

export interface UpstreamRequest {
  /** appended to the model's base URL: `/v1/chat/completions`, `/v1/messages`, `/v1beta/models/m:streamGenerateContent?alt=sse` */
  path: string;
  body: unknown;
  /** headers the upstream's format needs besides the key (anthropic-version) */
  headers?: Record<string, string>;
}

/** One event (streamed) or the body (plain) of the client's answer. */
export interface ClientEvent {
  data: unknown;
  /** the SSE event name the client's API needs (Anthropic, Responses) */
  event?: string;
}

/** One SSE event of the upstream's stream. */
export interface UpstreamEvent {
  event?: string;
  data: string;
}

export interface StreamTranslator {
  /** one upstream event → the client's events for it (often none, sometimes several) */
  push(ev: UpstreamEvent): ClientEvent[];
  /** the upstream stream ended → the client's closing events */
  end(): ClientEvent[];
}

/** An error in the client's own shape. */
export interface ClientError {
  status: number;
  body: unknown;
  /** seconds, as the upstream's Retry-After said */
  retryAfter?: string;
}

/** The client's request cannot be translated (malformed, or a parameter the backend cannot honour): HTTP 400. */
export class TranslateError extends Error {
  constructor(
    message: string,
    /** the parameter at fault, when there is one (OpenAI's `param`) */
    readonly param?: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export interface Translator {
  client: ClientApi;
  backend: Backend;
  /** the client's body (parsed JSON object) → the upstream request; throws TranslateError */
  request(body: Record<string, unknown>, c: TranslateContext): UpstreamRequest;
  /** the upstream's plain answer → the client's */
  response(upstream: unknown, c: TranslateContext): ClientEvent;
  /** a translator for one streamed answer */
  stream(c: TranslateContext): StreamTranslator;
  /** the upstream's error (status, raw body) → the client's */
  error(status: number, body: string, retryAfter: string | undefined): ClientError;
}

// ---- the two halves a cross-format pair is made of (via_ir.ts) --------------

/** A client API's side: its requests in, its answers and errors out. */
export interface ClientCodec {
  api: ClientApi;
  /** throws TranslateError */
  fromClient(body: Record<string, unknown>, c: TranslateContext): IrRequest;
  toClient(r: IrResponse, c: TranslateContext): ClientEvent;
  /** the client's events for a streamed answer; `end` closes it (OpenAI's usage chunk, Anthropic's message_stop, …) */
  clientStream(c: TranslateContext): { push(e: IrStreamEvent): ClientEvent[]; end(): ClientEvent[] };
  /** an error in the client's shape; `type` is a hint (OpenAI `type`, Anthropic `error.type`, Google `status`) the codec may map */
  clientError(status: number, message: string, retryAfter?: string): ClientError;
}

/** A backend format's side: requests out, answers and errors in. */
export interface BackendCodec {
  format: Backend;
  toUpstream(r: IrRequest, c: TranslateContext): UpstreamRequest;
  fromUpstream(json: unknown): IrResponse;
  /** a decoder for one upstream stream (stateful: it numbers tool calls, remembers ids) */
  upstreamStream(): (ev: UpstreamEvent) => IrStreamEvent[];
  /** the message (and HTTP status to show the client) of an upstream error body */
  upstreamError(status: number, body: string): { status: number; message: string };
}
