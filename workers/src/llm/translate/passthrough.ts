// A client and an upstream of one format: the body goes up as the client sent
// it, but for the model's name (the upstream's), and answers come back as the
// upstream sent them, but for the model's name (the client's). Nothing else is
// read or rebuilt, so fields this gateway does not know survive both ways.
//
// OpenAI's `data: [DONE]` is no JSON event: it is not passed on, since the
// handler ends every OpenAI stream with its own.
import { ANTHROPIC_PATH, ANTHROPIC_VERSION } from "./codec_anthropic.js";
import { googlePath } from "./codec_google.js";
import { OPENAI_PATH } from "./codec_openai.js";
import { errorBody, isObj, parseJson, STREAM_CUT, upstreamErrorMessage } from "./errors.js";
import type { Backend, ClientEvent, StreamTranslator, TranslateContext, Translator, UpstreamEvent, UpstreamRequest } from "./types.js";

function request(format: Backend, body: Record<string, unknown>, c: TranslateContext): UpstreamRequest {
  switch (format) {
    case "openai":
      // a stream always asks for usage (token limits count it); a client that did not ask never sees it (stream below)
      return {
        path: OPENAI_PATH,
        body: c.stream
          ? { ...body, model: c.upstreamModel, stream_options: { ...(isObj(body.stream_options) ? body.stream_options : {}), include_usage: true } }
          : { ...body, model: c.upstreamModel },
      };
    case "anthropic":
      return { path: ANTHROPIC_PATH, body: { ...body, model: c.upstreamModel }, headers: { "anthropic-version": ANTHROPIC_VERSION } };
    case "google":
      // the model is in the path, not the body
      return { path: googlePath(c.upstreamModel, c.stream), body };
  }
}

/** The answer (a plain body, or one streamed event) with the client's model name. */
function renamed(format: Backend, v: Record<string, unknown>, c: TranslateContext): Record<string, unknown> {
  switch (format) {
    case "openai":
      return "model" in v ? { ...v, model: c.model } : v;
    case "anthropic":
      if (v.type === "message_start" && isObj(v.message) && "model" in v.message) return { ...v, message: { ...v.message, model: c.model } };
      return v.type === "message" && "model" in v ? { ...v, model: c.model } : v;
    case "google":
      return "modelVersion" in v ? { ...v, modelVersion: c.model } : v;
  }
}

/** Is this an error body of the format's own shape (else it is wrapped in one)? */
function ownErrorShape(format: Backend, v: unknown): boolean {
  if (format === "google" && Array.isArray(v)) v = v[0];
  if (!isObj(v) || !isObj(v.error) || typeof v.error.message !== "string") return false;
  return format !== "anthropic" || v.type === "error";
}

/** An in-stream error in the format's own shape. */
function streamError(format: Backend, message: string): ClientEvent {
  const data = errorBody(format, 502, message);
  return format === "anthropic" ? { event: "error", data } : { data };
}

function stream(format: Backend, c: TranslateContext): StreamTranslator {
  // whether the upstream said its answer ended (OpenAI [DONE] or a finish_reason, Anthropic message_stop,
  // Google a finishReason): a stream that stops without it was cut, and the client is told so
  let complete = false;
  let stopped = false; // an error was passed on, or the end
  return {
    push(ev: UpstreamEvent): ClientEvent[] {
      if (stopped) return [];
      const text = ev.data.trim();
      if (text === "") return [];
      if (format === "openai" && text === "[DONE]") {
        complete = true;
        return [];
      }
      const v = parseJson(text);
      if (!isObj(v)) {
        stopped = true;
        return [streamError(format, "The model's provider sent a stream event that is not a JSON object")];
      }
      if (format === "openai") {
        if (Array.isArray(v.choices) && v.choices.some((ch) => isObj(ch) && typeof ch.finish_reason === "string")) complete = true;
        if (isObj(v.error)) stopped = true;
        if (!c.includeUsage && "usage" in v) {
          // asked for on the client's behalf: the usage chunk is ours, and so is `usage: null` on the others
          if (Array.isArray(v.choices) && v.choices.length === 0) return [];
          const { usage: _ours, ...rest } = v;
          const data = renamed(format, rest, c);
          return [ev.event !== undefined ? { event: ev.event, data } : { data }];
        }
        const data = renamed(format, v, c);
        return [ev.event !== undefined ? { event: ev.event, data } : { data }];
      }
      const data = renamed(format, v, c);
      if (format === "google") {
        if (Array.isArray(v.candidates) && v.candidates.some((ca) => isObj(ca) && typeof ca.finishReason === "string")) complete = true;
        if (isObj(v.error)) stopped = true;
        return [{ data }];
      }
      const type = typeof v.type === "string" ? v.type : ev.event;
      if (type === "message_stop") complete = true;
      if (type === "error") stopped = true;
      return [type !== undefined ? { event: type, data } : { data }];
    },
    end(): ClientEvent[] {
      if (stopped || complete) return [];
      stopped = true;
      return [streamError(format, STREAM_CUT)];
    },
  };
}

export function passthrough(format: Backend): Translator {
  return {
    client: format,
    backend: format,
    request: (body, c) => request(format, body, c),
    response: (upstream, c) => ({ data: isObj(upstream) ? renamed(format, upstream, c) : upstream }),
    stream: (c) => stream(format, c),
    error(status, body, retryAfter) {
      const v = parseJson(body);
      return {
        status,
        body: ownErrorShape(format, v) ? v : errorBody(format, status, upstreamErrorMessage(status, body)),
        ...(retryAfter !== undefined ? { retryAfter } : {}),
      };
    },
  };
}
