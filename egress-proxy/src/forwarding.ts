// What of a worker's request goes upstream and what of the upstream's answer
// comes back: the path check, the provider's key put in, hop-by-hop headers,
// radiant-* headers and client-supplied credentials taken out.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { validateHeaderName, validateHeaderValue } from "node:http";
import type { ModelFormat } from "@radiant/infra/models";

/** Headers about one connection, not the message (RFC 9110 §7.6.1), and ones undici sets itself. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
]);
/** Set by the proxy, never taken from the worker: the key, and what undici computes for the upstream connection. */
const NOT_FROM_WORKER = new Set(["authorization", "x-api-key", "x-goog-api-key", "host", "content-length", "expect"]);

export const MAX_PATH_LENGTH = 8192;

/** Why a path may not be appended to a base URL, or undefined when it may. */
// The calls the proxy makes for each wire format: the provider APIs RADIANT
// speaks, and nothing else its key could do (files, fine-tunes, admin).
const GOOGLE_MODEL_CALL = /^\/(?:v1beta|v1)\/models\/[A-Za-z0-9._%-]{1,256}:(?:generateContent|streamGenerateContent)(?:\?alt=sse)?$/;
const ALLOWED: Record<ModelFormat, { method: string; path: RegExp }[]> = {
  openai: [
    { method: "POST", path: /^\/v1\/(?:chat\/completions|responses)$/ },
    { method: "GET", path: /^\/v1\/models$/ },
  ],
  anthropic: [
    { method: "POST", path: /^\/v1\/messages$/ },
    { method: "GET", path: /^\/v1\/models$/ },
  ],
  google: [
    { method: "POST", path: GOOGLE_MODEL_CALL },
    { method: "GET", path: /^\/(?:v1beta|v1)\/models$/ },
  ],
};

/** Whether the proxy makes this call for a model of this format (the model's key must not open anything else). */
export function allowedCall(format: ModelFormat, method: string, path: string): boolean {
  return ALLOWED[format].some((a) => a.method === method && a.path.test(path));
}

export function badPath(path: string): string | undefined {
  if (!path.startsWith("/")) return "must start with /";
  if (path.length > MAX_PATH_LENGTH) return `longer than ${MAX_PATH_LENGTH} characters`;
  // printable ASCII only: no controls, spaces or anything a parser downstream may read differently
  if (/[^\x21-\x7e]/.test(path)) return "control characters, spaces and non-ASCII are not allowed";
  if (path.includes("#")) return "a fragment (#) is not allowed";
  if (path.includes("\\")) return "a backslash is not allowed";
  // the upstream decodes %2e and %2f: a dot segment spelled that way escapes the base path all the same
  const decoded = path.replace(/%2e/gi, ".").replace(/%2f/gi, "/").replace(/%5c/gi, "\\");
  if (decoded.includes("..")) return "dot segments (..) are not allowed";
  // this also keeps out a scheme (`/https://elsewhere`): it cannot be written without //
  if (decoded.includes("//") || decoded.includes("\\")) return "empty segments (//) and schemes are not allowed";
  return undefined;
}

/** The upstream request's path: the base URL's own path, then the worker's. */
export function upstreamPath(base: URL, path: string): string {
  const prefix = base.pathname.replace(/\/+$/, "");
  return prefix + path;
}

/** Header names the Connection header lists are hop-by-hop too. */
function connectionTokens(v: string | string[] | undefined): Set<string> {
  const out = new Set<string>();
  for (const part of Array.isArray(v) ? v : v === undefined ? [] : [v]) {
    for (const t of part.split(",")) if (t.trim()) out.add(t.trim().toLowerCase());
  }
  return out;
}

/** A `radiant-request-id` fit to echo in a header and log; undefined when absent or malformed. */
export function requestIdOf(headers: IncomingHttpHeaders): string | undefined {
  const v = headers["radiant-request-id"];
  return typeof v === "string" && /^[\x21-\x7e]{1,200}$/.test(v) ? v : undefined;
}

export interface Credentials {
  format: ModelFormat;
  /** the provider key, or undefined when the upstream needs none */
  key: string | undefined;
  requestId: string | undefined;
}

/** The headers sent upstream. */
export function upstreamHeaders(from: IncomingHttpHeaders, c: Credentials): Record<string, string | string[]> {
  const listed = connectionTokens(from.connection);
  const out: Record<string, string | string[]> = {};
  for (const [name, v] of Object.entries(from)) {
    if (v === undefined || HOP_BY_HOP.has(name) || NOT_FROM_WORKER.has(name) || listed.has(name) || name.startsWith("radiant-")) continue;
    out[name] = v;
  }
  if (c.key !== undefined) {
    if (c.format === "openai") out.authorization = `Bearer ${c.key}`;
    else if (c.format === "anthropic") out["x-api-key"] = c.key;
    else out["x-goog-api-key"] = c.key;
  }
  if (c.format === "anthropic" && out["anthropic-version"] === undefined) out["anthropic-version"] = "2023-06-01";
  if (c.requestId !== undefined) out["x-request-id"] = c.requestId;
  return out;
}

/**
 * The headers sent back to the worker: the upstream's, less hop-by-hop ones,
 * HTTP/2 pseudo-headers, anything posing as the proxy's own radiant-* headers
 * and anything Node would refuse to write (the upstream is not trusted to be well-formed).
 */
export function workerHeaders(from: Record<string, string | string[] | undefined>, requestId: string | undefined): OutgoingHttpHeaders {
  const listed = connectionTokens(from.connection);
  const out: OutgoingHttpHeaders = {};
  for (const [name, v] of Object.entries(from)) {
    if (v === undefined || name.startsWith(":") || HOP_BY_HOP.has(name) || listed.has(name) || name.startsWith("radiant-")) continue;
    try {
      validateHeaderName(name);
      for (const one of Array.isArray(v) ? v : [v]) validateHeaderValue(name, one);
    } catch {
      continue;
    }
    out[name] = v;
  }
  if (requestId !== undefined) out["radiant-request-id"] = requestId;
  return out;
}
