// A look at a client frame without parsing it: walk the top level of a JSON
// object once, skipping nested values, and note the few keys that tell the
// protocols apart (docs/protocols.md) plus where the request id and method lie.
// No strings or objects are made; bytes are compared in place. Full
// validation is the worker's job (it answers -32700 for what slips past here).

export enum Key {
  jsonrpc = 1 << 0,
  method = 1 << 1,
  id = 1 << 2,
  params = 1 << 3,
  contents = 1 << 4,
  messages = 1 << 5,
  system = 1 << 6,
  stop_sequences = 1 << 7,
  top_k = 1 << 8,
  stream_options = 1 << 9,
  n = 1 << 10,
  max_completion_tokens = 1 << 11,
  response_format = 1 << 12,
  tools = 1 << 13,
  /** OpenAI Responses API: `input` (with `model`, no `messages`) */
  input = 1 << 14,
  model = 1 << 15,
}

const KEYS: [Buffer, Key][] = (
  [
    ["jsonrpc", Key.jsonrpc],
    ["method", Key.method],
    ["id", Key.id],
    ["params", Key.params],
    ["contents", Key.contents],
    ["messages", Key.messages],
    ["system", Key.system],
    ["stop_sequences", Key.stop_sequences],
    ["top_k", Key.top_k],
    ["stream_options", Key.stream_options],
    ["n", Key.n],
    ["max_completion_tokens", Key.max_completion_tokens],
    ["response_format", Key.response_format],
    ["tools", Key.tools],
    ["input", Key.input],
    ["model", Key.model],
  ] as const
).map(([k, v]) => [Buffer.from(k, "latin1"), v]);

/** What a peek found. Offsets are [start, end) into the frame; -1 when absent. */
export class Peek {
  /** the frame looks like a JSON object or array */
  ok = false;
  /** not an object or array, but a JSON string, number, true, false or null */
  scalar = false;
  /**
   * a top-level member name holds an escape (`"i\u0064"`): its bytes are not
   * what JSON.parse reads, so the keys seen here cannot be trusted
   */
  escapedKey = false;
  /** a top-level array: a JSON-RPC batch */
  array = false;
  keys = 0;
  idStart = -1;
  idEnd = -1;
  /** the method string's contents, without quotes */
  methodStart = -1;
  methodEnd = -1;
  paramsStart = -1;
  paramsEnd = -1;

  reset(): this {
    this.ok = false;
    this.scalar = false;
    this.escapedKey = false;
    this.array = false;
    this.keys = 0;
    this.idStart = this.idEnd = this.methodStart = this.methodEnd = this.paramsStart = this.paramsEnd = -1;
    return this;
  }

  has(k: Key): boolean {
    return (this.keys & k) !== 0;
  }
}

const WS = new Uint8Array(256);
WS[0x20] = WS[0x09] = WS[0x0a] = WS[0x0d] = 1;

/** The index of the first byte at or after `i` that is not JSON whitespace. */
export function skipWs(b: Uint8Array, i: number): number {
  while (i < b.length && WS[b[i]!] === 1) i++;
  return i;
}

/**
 * index just past the closing quote of the string starting at b[i] === '"',
 * or -1: cut short, or holding a raw control character (JSON wants those
 * escaped; raw, a line feed would end a header line or an SSE event)
 */
function skipString(b: Uint8Array, i: number): number {
  for (i++; i < b.length; i++) {
    const c = b[i]!;
    if (c === 0x5c /* \ */) {
      const e = b[++i];
      if (e === 0x75 /* u */) {
        for (let k = 0; k < 4; k++) if (HEX[b[++i]!] !== 1) return -1;
      } else if (e === undefined || ESCAPE[e] !== 1) return -1;
    } else if (c === 0x22 /* " */) return i + 1;
    else if (c < 0x20) return -1;
  }
  return -1;
}

/** what may follow a backslash in a JSON string (besides u and four hex digits) */
const ESCAPE = new Uint8Array(256);
for (const ch of '"\\/bfnrt') ESCAPE[ch.charCodeAt(0)] = 1;
const HEX = new Uint8Array(256);
for (const ch of "0123456789abcdefABCDEF") HEX[ch.charCodeAt(0)] = 1;

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** Whether b[start, end) is a JSON number, true, false or null (strings are checked by skipString). */
function isLiteral(b: Uint8Array, start: number, end: number): boolean {
  const s = Buffer.from(b.buffer, b.byteOffset + start, end - start).toString("latin1");
  return s === "true" || s === "false" || s === "null" || NUMBER.test(s);
}

/** index just past the value starting at b[i], or -1 if it is cut short */
function skipValue(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c === 0x22) return skipString(b, i);
  if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
    let depth = 0;
    for (; i < b.length; i++) {
      const d = b[i];
      if (d === 0x22) {
        i = skipString(b, i) - 1;
        if (i < 0) return -1;
      } else if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        if (--depth === 0) return i + 1;
      }
    }
    return -1;
  }
  // number, true, false, null: up to the next delimiter
  const start = i;
  while (i < b.length) {
    const d = b[i]!;
    if (d === 0x2c || d === 0x7d || d === 0x5d || WS[d] === 1) break;
    i++;
  }
  return i > start ? i : -1;
}

function keyOf(b: Uint8Array, start: number, end: number): Key | 0 {
  const len = end - start;
  outer: for (const [name, k] of KEYS) {
    if (name.length !== len) continue;
    for (let j = 0; j < len; j++) if (name[j] !== b[start + j]) continue outer;
    return k;
  }
  return 0;
}

/** Peek at `b` into `out` (reused across calls to spare an allocation per frame). */
export function peek(b: Uint8Array, out: Peek): Peek {
  out.reset();
  let i = skipWs(b, 0);
  if (b[i] === 0x5b) {
    // a batch: its items are the worker's to read
    const end = skipValue(b, i);
    out.ok = end > 0 && skipWs(b, end) === b.length;
    out.array = out.ok;
    return out;
  }
  if (b[i] !== 0x7b) {
    const end = i < b.length ? skipValue(b, i) : -1;
    out.scalar = end > 0 && skipWs(b, end) === b.length && (b[i] === 0x22 || isLiteral(b, i, end));
    return out;
  }
  i = skipWs(b, i + 1);
  if (b[i] === 0x7d) {
    out.ok = skipWs(b, i + 1) === b.length;
    return out;
  }
  for (;;) {
    if (b[i] !== 0x22) return out;
    const kEnd = skipString(b, i);
    if (kEnd < 0) return out;
    const key = keyOf(b, i + 1, kEnd - 1);
    for (let j = i + 1; j < kEnd - 1; j++) if (b[j] === 0x5c) out.escapedKey = true;
    i = skipWs(b, kEnd);
    if (b[i] !== 0x3a /* : */) return out;
    i = skipWs(b, i + 1);
    const vStart = i;
    const vEnd = skipValue(b, i);
    if (vEnd < 0) return out;
    out.keys |= key;
    if (key === Key.id) {
      out.idStart = vStart;
      out.idEnd = vEnd;
    } else if (key === Key.method && b[vStart] === 0x22) {
      out.methodStart = vStart + 1;
      out.methodEnd = vEnd - 1;
    } else if (key === Key.params) {
      out.paramsStart = vStart;
      out.paramsEnd = vEnd;
    }
    i = skipWs(b, vEnd);
    if (b[i] === 0x2c /* , */) {
      i = skipWs(b, i + 1);
      continue;
    }
    if (b[i] === 0x7d) {
      out.ok = skipWs(b, i + 1) === b.length;
      return out;
    }
    return out;
  }
}

/** Longest JSON-RPC id taken, bytes as sent (README: Errors). */
export const MAX_ID_BYTES = 1024;

/** What is wrong with a frame's id, if anything: not JSON at all, or JSON no answer could name. */
export type IdFault = "parse" | "badId";

/**
 * Check the id of a frame already peeked at (`ok`): a JSON-RPC id is a string,
 * a finite number or null, of at most MAX_ID_BYTES. A number too large for a
 * double (`1e400`) or an object could never be echoed back exactly, so no
 * answer could ever reach the caller.
 */
export function idFault(b: Uint8Array, p: Peek): IdFault | undefined {
  if (p.idStart < 0) return undefined;
  const c = b[p.idStart]!;
  if (p.idEnd - p.idStart > MAX_ID_BYTES) return "badId";
  if (c === 0x22) return undefined;
  if (c === 0x7b || c === 0x5b) return "badId";
  if (!isLiteral(b, p.idStart, p.idEnd)) return "parse";
  if (c === 0x74 || c === 0x66) return "badId"; // true, false
  if (c === 0x6e) return undefined; // null
  return Number.isFinite(Number(Buffer.from(b.buffer, b.byteOffset + p.idStart, p.idEnd - p.idStart).toString("latin1"))) ? undefined : "badId";
}

/** The id's raw JSON text if it is a valid JSON-RPC id (string, number, null), else "null". */
export function idJson(b: Uint8Array, p: Peek): string {
  if (p.idStart < 0) return "null";
  const c = b[p.idStart]!;
  const ok = c === 0x22 || c === 0x2d || (c >= 0x30 && c <= 0x39) || (c === 0x6e && p.idEnd - p.idStart === 4);
  return ok ? Buffer.from(b.buffer, b.byteOffset + p.idStart, p.idEnd - p.idStart).toString("utf8") : "null";
}

/** index just past the JSON number starting at b[i], or -1 if it is not one (no allocation: the number is not read) */
function skipNumber(b: Uint8Array, i: number): number {
  if (b[i] === 0x2d /* - */) i++;
  if (b[i] === 0x30 /* 0 */) i++;
  else if (isDigit(b[i])) while (isDigit(b[i])) i++;
  else return -1;
  if (b[i] === 0x2e /* . */) {
    if (!isDigit(b[++i])) return -1;
    while (isDigit(b[i])) i++;
  }
  if (b[i] === 0x65 /* e */ || b[i] === 0x45 /* E */) {
    i++;
    if (b[i] === 0x2b /* + */ || b[i] === 0x2d) i++;
    if (!isDigit(b[i])) return -1;
    while (isDigit(b[i])) i++;
  }
  return i;
}

const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39;

function hasWord(b: Uint8Array, i: number, word: Uint8Array): boolean {
  for (let k = 0; k < word.length; k++) if (b[i + k] !== word[k]) return false;
  return true;
}
const TRUE = Buffer.from("true");
const FALSE = Buffer.from("false");
const NULL = Buffer.from("null");

enum Expect {
  Value,
  /** just after `[` */
  ValueOrClose,
  /** just after `{` */
  KeyOrClose,
  /** after `,` in an object */
  Key,
  Colon,
  /** after a value: `,`, the container's close, or the end */
  Next,
}
const OBJECT = 1;
const ARRAY = 2;

/**
 * Whether `b` is one JSON text, as JSON.parse would have it (its UTF-8 is not
 * checked: a decoder replaces what is not). A scan, nothing built: the
 * gateway checks bytes it only forwards without parsing them. Nesting costs
 * one number per level.
 */
export function isJsonText(b: Uint8Array): boolean {
  const open: number[] = [];
  let expect = Expect.Value;
  let i = 0;
  for (;;) {
    i = skipWs(b, i);
    if (expect === Expect.Next) {
      const top = open[open.length - 1];
      if (top === undefined) return i === b.length;
      const c = b[i++];
      if (c === 0x2c /* , */) expect = top === OBJECT ? Expect.Key : Expect.Value;
      else if ((c === 0x7d && top === OBJECT) || (c === 0x5d && top === ARRAY)) open.pop();
      else return false;
      continue;
    }
    const c = b[i];
    if (c === undefined) return false;
    if (expect === Expect.Colon) {
      if (c !== 0x3a /* : */) return false;
      i++;
      expect = Expect.Value;
      continue;
    }
    if (expect === Expect.KeyOrClose || expect === Expect.Key) {
      if (expect === Expect.KeyOrClose && c === 0x7d) {
        i++;
        open.pop();
        expect = Expect.Next;
        continue;
      }
      if (c !== 0x22) return false;
      i = skipString(b, i);
      if (i < 0) return false;
      expect = Expect.Colon;
      continue;
    }
    if (expect === Expect.ValueOrClose && c === 0x5d) {
      i++;
      open.pop();
      expect = Expect.Next;
      continue;
    }
    if (c === 0x7b || c === 0x5b) {
      open.push(c === 0x7b ? OBJECT : ARRAY);
      i++;
      expect = c === 0x7b ? Expect.KeyOrClose : Expect.ValueOrClose;
      continue;
    }
    if (c === 0x22) i = skipString(b, i);
    else if (c === 0x74 /* t */) i = hasWord(b, i, TRUE) ? i + 4 : -1;
    else if (c === 0x66 /* f */) i = hasWord(b, i, FALSE) ? i + 5 : -1;
    else if (c === 0x6e /* n */) i = hasWord(b, i, NULL) ? i + 4 : -1;
    else i = skipNumber(b, i);
    if (i < 0) return false;
    expect = Expect.Next;
  }
}
