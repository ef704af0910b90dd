// Errors in each protocol's own wire format (docs/protocols.md), shared by the
// gateway (which knows a request id only as raw JSON text) and the workers.
import type { Protocol } from "./protocol.js";

export type ErrorKind =
  | "parse" // the frame is not JSON
  | "invalid" // JSON, but not a request of any protocol we speak
  | "unsupported" // a protocol or method we do not serve yet
  | "overloaded" // too many requests in flight: retry later
  | "unavailable" // the broker cannot be reached: retry
  | "internal" // the request failed inside RADIANT
  | "refused" // an HTTP transport refused the request; its status says why (406, 415, 404, …)
  | "tooLarge" // over a size limit: sending it again cannot help
  | "unauthenticated" // no credential, or one that does not verify (401)
  | "forbidden" // a valid credential that may not do this: a model its key does not allow (403)
  | "rateLimited"; // over the principal's or the key's limit: retry after Retry-After (429)

const rpcCodes: Record<ErrorKind, number> = {
  parse: -32700,
  invalid: -32600,
  unsupported: -32601,
  overloaded: -32000,
  unavailable: -32000,
  internal: -32603,
  refused: -32000,
  tooLarge: -32600,
  // JSON-RPC leaves -32000..-32099 to servers; RADIANT's MCP bridge uses -32010..-32013
  unauthenticated: -32030,
  forbidden: -32031,
  rateLimited: -32029,
};

const httpish: Record<ErrorKind, { status: number; openai: string; anthropic: string; google: string }> = {
  parse: { status: 400, openai: "invalid_request_error", anthropic: "invalid_request_error", google: "INVALID_ARGUMENT" },
  invalid: { status: 400, openai: "invalid_request_error", anthropic: "invalid_request_error", google: "INVALID_ARGUMENT" },
  unsupported: { status: 501, openai: "invalid_request_error", anthropic: "invalid_request_error", google: "UNIMPLEMENTED" },
  overloaded: { status: 429, openai: "rate_limit_error", anthropic: "rate_limit_error", google: "RESOURCE_EXHAUSTED" },
  unavailable: { status: 503, openai: "server_error", anthropic: "overloaded_error", google: "UNAVAILABLE" },
  internal: { status: 500, openai: "server_error", anthropic: "api_error", google: "INTERNAL" },
  refused: { status: 400, openai: "invalid_request_error", anthropic: "invalid_request_error", google: "INVALID_ARGUMENT" },
  tooLarge: { status: 413, openai: "invalid_request_error", anthropic: "request_too_large", google: "INVALID_ARGUMENT" },
  unauthenticated: { status: 401, openai: "invalid_request_error", anthropic: "authentication_error", google: "UNAUTHENTICATED" },
  forbidden: { status: 403, openai: "invalid_request_error", anthropic: "permission_error", google: "PERMISSION_DENIED" },
  rateLimited: { status: 429, openai: "rate_limit_error", anthropic: "rate_limit_error", google: "RESOURCE_EXHAUSTED" },
};

/** OpenAI's `error.code` for the kinds its SDK users look at */
const openaiCodes: Partial<Record<ErrorKind, string>> = {
  unsupported: '"unsupported_protocol"',
  unauthenticated: '"invalid_api_key"',
  forbidden: '"model_not_allowed"',
  rateLimited: '"rate_limit_exceeded"',
};

/** The HTTP status of an error of this kind (the LLM APIs answer errors with one). */
export function errorStatus(kind: ErrorKind): number {
  return httpish[kind].status;
}

/** JSON-RPC error code for a kind (MCP and A2A). A2A's own code for unsupported operations differs. */
export function rpcErrorCode(proto: Protocol, kind: ErrorKind): number {
  return proto === "a2a" && kind === "unsupported" ? -32004 : rpcCodes[kind];
}

/**
 * The error frame, as JSON text. `idJson` is the request id as raw JSON
 * ("1", "\"abc\"", "null"), spliced as is so the gateway never re-serialises it.
 */
export function protocolErrorJson(proto: Protocol | undefined, kind: ErrorKind, message: string, idJson = "null"): string {
  const m = JSON.stringify(message);
  const h = httpish[kind];
  switch (proto) {
    case "openai":
      return `{"error":{"message":${m},"type":"${h.openai}","param":null,"code":${openaiCodes[kind] ?? "null"}}}`;
    case "anthropic":
      return `{"type":"error","error":{"type":"${h.anthropic}","message":${m}}}`;
    case "google":
      return `{"error":{"code":${h.status},"message":${m},"status":"${h.google}","details":[]}}`;
    default:
      // MCP, A2A, and frames whose protocol could not be told: JSON-RPC
      return `{"jsonrpc":"2.0","id":${idJson},"error":{"code":${rpcErrorCode(proto ?? "mcp", kind)},"message":${m}}}`;
  }
}
