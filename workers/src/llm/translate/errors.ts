// Errors in each client API's own shape, and the small readers the codecs share
// to check a client's body (every fault is a TranslateError naming the field)
// and to read an upstream's error body.
import { STATUS_CODES } from "node:http";
import { type ClientApi, TranslateError } from "./types.js";

const openaiTypes: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  // OpenAI says an unknown model is an invalid request (code model_not_found), with 404
  404: "invalid_request_error",
  413: "invalid_request_error",
  429: "rate_limit_error",
};

const anthropicTypes: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  502: "api_error",
  503: "overloaded_error",
  504: "timeout_error",
  529: "overloaded_error",
};

const googleStatuses: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  409: "ABORTED",
  413: "INVALID_ARGUMENT",
  429: "RESOURCE_EXHAUSTED",
  499: "CANCELLED",
  500: "INTERNAL",
  501: "UNIMPLEMENTED",
  502: "UNAVAILABLE",
  503: "UNAVAILABLE",
  504: "DEADLINE_EXCEEDED",
  529: "UNAVAILABLE",
};

/**
 * The error body of a client API for an HTTP status. `code` is OpenAI's `code`
 * (`model_not_found` for a 404 about a model: the caller knows, this does not
 * guess); `param` OpenAI's `param` (the field at fault). Anthropic and Google
 * have no place for either.
 */
export function errorBody(api: ClientApi, status: number, message: string, code?: string, param?: string): unknown {
  switch (api) {
    case "openai":
    case "responses":
      return {
        error: {
          message,
          type: openaiTypes[status] ?? (status >= 500 ? "server_error" : "invalid_request_error"),
          param: param ?? null,
          code: code ?? null,
        },
      };
    case "anthropic":
      return { type: "error", error: { type: anthropicTypes[status] ?? (status >= 500 ? "api_error" : "invalid_request_error"), message } };
    case "google":
      return {
        error: { code: status, message, status: googleStatuses[status] ?? (status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT"), details: [] },
      };
  }
}

/** Anthropic's 529 (overloaded) is no status other clients know: they get 503, which they retry the same way. */
export const foreignStatus = (status: number): number => (status === 529 ? 503 : status);

// ---- reading an upstream's error --------------------------------------------

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The message of an upstream error body. OpenAI, Anthropic and Google all put it
 * at `error.message` (Google's streaming endpoints sometimes in a one-element
 * array); a body that is not JSON (a proxy's HTML page, plain text) gives a
 * message naming the status, with the text when it is short and not markup.
 */
export function upstreamErrorMessage(status: number, body: string): string {
  let v = parseJson(body);
  if (Array.isArray(v)) v = v[0];
  if (isObj(v)) {
    const e = v.error;
    if (isObj(e) && typeof e.message === "string" && e.message) return e.message;
    if (typeof e === "string" && e) return e;
    if (typeof v.message === "string" && v.message) return v.message;
  }
  const text = body.trim();
  const plain = text && text.length <= 300 && !text.startsWith("<") && !text.startsWith("{") && !text.startsWith("[");
  const said = `The model's provider answered HTTP ${status}${STATUS_CODES[status] ? ` ${STATUS_CODES[status]}` : ""}`;
  return plain ? `${said}: ${text}` : said;
}

// ---- reading a client's body -------------------------------------------------

export const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** A TranslateError about one field of the client's body. */
export const bad = (field: string, message: string): TranslateError => new TranslateError(`${field}: ${message}`, field);

const typeName = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "object" ? "an object" : `a ${typeof v}`);

export function reqObj(v: unknown, field: string): Record<string, unknown> {
  if (!isObj(v)) throw bad(field, `must be an object, not ${typeName(v)}`);
  return v;
}

export function reqArray(v: unknown, field: string, nonEmpty = false): unknown[] {
  if (!Array.isArray(v)) throw bad(field, v === undefined ? "is required (an array)" : `must be an array, not ${typeName(v)}`);
  if (nonEmpty && v.length === 0) throw bad(field, "must not be empty");
  return v;
}

export function reqString(v: unknown, field: string): string {
  if (typeof v !== "string") throw bad(field, v === undefined ? "is required (a string)" : `must be a string, not ${typeName(v)}`);
  return v;
}

export function optString(v: unknown, field: string): string | undefined {
  return v === undefined || v === null ? undefined : reqString(v, field);
}

export function optNumber(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) throw bad(field, `must be a number, not ${typeName(v)}`);
  return v;
}

/** A token limit: a whole number of at least 1. */
export function optCount(v: unknown, field: string): number | undefined {
  const n = optNumber(v, field);
  if (n !== undefined && (!Number.isInteger(n) || n < 1)) throw bad(field, "must be a whole number of at least 1");
  return n;
}

export function optBool(v: unknown, field: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw bad(field, `must be true or false, not ${typeName(v)}`);
  return v;
}

/** Stop sequences: one string or a list of them. */
export function optStops(v: unknown, field: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return [v];
  const list = reqArray(v, field);
  return list.map((s, i) => reqString(s, `${field}[${i}]`));
}

/** A JSON Schema object (tool parameters). */
export function optSchema(v: unknown, field: string): Record<string, unknown> | undefined {
  return v === undefined || v === null ? undefined : reqObj(v, field);
}

/** The parameter the backend cannot honour. */
export const unsupported = (field: string, why: string): TranslateError => new TranslateError(`${field}: ${why}`, field);

// ---- shared by the codecs ----------------------------------------------------

/** `data:<type>;base64,<data>` → its parts; anything else → undefined. */
export function parseDataUrl(url: string): { mediaType: string; data: string } | undefined {
  const m = /^data:([^;,]*)((?:;[^;,]*)*);base64,(.*)$/s.exec(url);
  if (!m) return undefined;
  return { mediaType: m[1] || "application/octet-stream", data: m[3]! };
}

/** Tool call arguments (JSON text) as an object, for APIs that carry them as one. Not an object (or not JSON) → `{}`. */
export function argsObject(json: string): Record<string, unknown> {
  const v = parseJson(json || "{}");
  return isObj(v) ? v : {};
}

/** The media type of base64 image data, from its first bytes; undefined when not a known image format. */
export function sniffImageType(base64: string): string | undefined {
  if (base64.startsWith("iVBORw0KGgo")) return "image/png";
  if (base64.startsWith("/9j/")) return "image/jpeg";
  if (base64.startsWith("R0lGOD")) return "image/gif";
  if (base64.startsWith("UklGR")) return "image/webp";
  return undefined;
}

/** An upstream stream that ended cleanly but before its answer's end (no finish): said as an error, never passed off as whole. */
export const STREAM_CUT = "The model's provider ended its stream before the answer's end; what arrived before this is incomplete";
