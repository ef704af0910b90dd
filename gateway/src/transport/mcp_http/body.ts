// What a POST /mcp body holds, read without parsing a single message (it is
// scanned: JSON or 400; a batch is parsed: batches are rare, and removed from
// the 2025-06-18 revision).
import { canonicalIdJson, protocolErrorJson } from "@radiant/wire";
import { idFault, idJson, Key, MAX_ID_BYTES, isJsonText, Peek, peek } from "../../peek.js";

const seen = new Peek();
export const NOT_JSON = protocolErrorJson("mcp", "parse", "Parse error: the body is not valid JSON");

export interface Body {
  /** the JSON-RPC ids of the requests it carries, as JSON in one spelling (wire: canonicalIdJson) */
  requests: string[];
  initialize: boolean;
  batch: boolean;
  /** the single message's id as sent, "null" for a batch (no de-duplication key) */
  idJson: string;
  /** what goes into INBOX: the body as sent, or a batch without the items refused here */
  forward: Buffer | undefined;
  /** errors for batch items no answer could ever reach (an unusable id): answered at once, with the rest */
  rejected: string[];
}

const BAD_ID = `"id" must be a string, a finite number or null, of at most ${MAX_ID_BYTES} bytes`;
/** MCP, unlike JSON-RPC, forbids it: no answer could name the request apart from a parse error's */
const NULL_ID = 'a request\'s "id" must not be null (MCP)';

/** A batch item's id that a reply can name: what a single message's id gets from idFault. */
const usableId = (id: unknown): boolean =>
  id === undefined ||
  id === null ||
  (typeof id === "number" && Number.isFinite(id)) ||
  (typeof id === "string" && Buffer.byteLength(JSON.stringify(id)) <= MAX_ID_BYTES);

/** Throws on a batch that is not JSON (the caller answers NOT_JSON). */
export function readBody(b: Buffer): Body | { status: string; error: string } {
  const p = peek(b, seen);
  if (!p.ok)
    return { status: "400 Bad Request", error: p.scalar ? protocolErrorJson("mcp", "invalid", "Invalid Request: not a JSON-RPC message or batch") : NOT_JSON };
  // the quick look does not check every nested value: on these (error) paths, "invalid" must not hide "not JSON"
  const invalid = (why: string) => ({
    status: "400 Bad Request",
    error: isJsonText(b) ? protocolErrorJson("mcp", "invalid", `Invalid Request: ${why}`) : NOT_JSON,
  });
  if (!p.array) {
    if (!p.has(Key.jsonrpc)) return invalid('not a JSON-RPC 2.0 message (no "jsonrpc")');
    if (p.escapedKey) return invalid("member names with escapes (\\u…) are not accepted at the top level");
    const bad = idFault(b, p);
    // the quick look checks the members it reads; the rest must be JSON too, or the worker could only answer id null
    if (bad === "parse" || !isJsonText(b)) return { status: "400 Bad Request", error: NOT_JSON };
    if (bad) return invalid(BAD_ID);
    const id = idJson(b, p);
    const isRequest = p.methodStart >= 0 && p.idStart >= 0;
    if (isRequest && id === "null") return invalid(NULL_ID);
    const initialize = p.methodStart >= 0 && b.toString("latin1", p.methodStart, p.methodEnd) === "initialize";
    return { requests: isRequest ? [canonicalIdJson(id)] : [], initialize: initialize && isRequest, batch: false, idJson: id, forward: b, rejected: [] };
  }
  const items = JSON.parse(b.toString("utf8")) as unknown[];
  if (items.length === 0) return invalid("empty batch");
  const requests: string[] = [];
  const rejected: string[] = [];
  const kept: unknown[] = [];
  for (const m of items) {
    if (typeof m !== "object" || m === null || Array.isArray(m) || (m as { jsonrpc?: unknown }).jsonrpc !== "2.0")
      return invalid("a batch item is not a JSON-RPC 2.0 message");
    const { method, id } = m as { method?: unknown; id?: unknown };
    if (method === "initialize") return invalid("initialize cannot be part of a batch");
    if (!usableId(id) || (typeof method === "string" && id === null)) {
      rejected.push(protocolErrorJson("mcp", "invalid", `Invalid Request: ${id === null ? NULL_ID : BAD_ID}`));
      continue;
    }
    kept.push(m);
    if (typeof method === "string" && id !== undefined) requests.push(JSON.stringify(id));
  }
  // batches are parsed here anyway (rare): re-serialised only when an item had to go
  let forward: Buffer | undefined = b;
  if (rejected.length > 0) {
    try {
      forward = kept.length > 0 ? Buffer.from(JSON.stringify(kept)) : undefined;
    } catch {
      return invalid("the batch is nested too deeply to be taken apart"); // JSON.stringify's own stack
    }
  }
  return { requests, initialize: false, batch: true, idJson: "null", forward, rejected };
}
