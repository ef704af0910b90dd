// Replies: what a worker stores in HISTORY for a request, and how the gateway
// reads it without parsing it.
//
// A stored message's body is one or more frames, each a JSON text exactly as
// the client will see it, minus the session fields the gateway splices in.
// Headers say what the gateway needs to know (it never parses a body):
// - Radiant-Request: the request it belongs to (request.ts); absent for
//   messages no request caused.
// - Radiant-End: the last message of that request's reply. An HTTP response
//   ends there; a message with no frames at all can carry just the end.
// - Radiant-Frames: the frames, when there is more than one plain frame: a
//   worker gathers a stream's chunks for a few milliseconds into one message
//   (coalescing: a long answer costs a bounded number of HISTORY messages).
//   `frames = frame *("," frame)`, `frame = length ["@" offset ["m"]] ["r"] [":" event]`
//   - length: the frame's bytes;
//   - "@offset": for the `mcp` framing, where `"_meta":{"radiant/seq_num":N}`
//     may be spliced: just inside the `{` of result/params ("m": just inside
//     an existing `_meta`);
//   - "r": the frame is a JSON-RPC response (the answer, not something sent
//     while working: a JSON-only HTTP answer carries just these);
//   - ":event": the SSE event name the protocol needs (Anthropic's `event:` lines).
//   "none": no frames (an end marker).
// - Radiant-Response: on the first message of a reply, how a plain HTTP
//   response to it begins: `status kind [retry-after]`, kind `sse` (an event
//   stream follows) or `json` (the message's one frame is the whole body), e.g.
//   `200 sse`, `429 json 3`. Sessions (WebSocket, /sse) ignore it. Absent: `200 json`.
import type { MsgHdrs } from "@nats-io/nats-core";
import { headerOf, headers, newHeaders, putHeader } from "./headers.js";
import { isRequestId } from "./request.js";

export const META_SEQ_KEY = "radiant/seq_num";

// ---- positions: what a client sees as seq_num ----------------------------------
// Frames gathered into one stored message share its HISTORY sequence, yet a
// client may be cut off in the middle of them. So each frame has a position of
// its own — the message's sequence × 1000 plus the frame's index in it — and
// that is the `seq_num` (and SSE event id) a client sees and resumes from: it
// strictly increases frame by frame, and a resume continues inside a message.
/** most frames one stored message may hold */
export const MAX_FRAMES = 1000;
export const position = (seq: number, frame: number): number => seq * MAX_FRAMES + frame;
/** the HISTORY sequence of a position */
export const seqOf = (p: number): number => Math.floor(p / MAX_FRAMES);
/** the frame index of a position */
export const frameOf = (p: number): number => p % MAX_FRAMES;
/** the position just past every frame of message `seq`: "everything of it" */
export const endOf = (seq: number): number => position(seq, MAX_FRAMES - 1);

export interface MetaSlot {
  offset: number;
  /** true when the offset is inside an existing `_meta` object */
  inMeta: boolean;
}

export interface FrameInfo {
  /** bytes */
  length: number;
  slot?: MetaSlot;
  /** a JSON-RPC response */
  response?: boolean;
  /** the SSE event name its protocol needs */
  event?: string;
}

const EVENT_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const NONE = "none";

export function formatFrames(frames: readonly FrameInfo[]): string {
  if (frames.length === 0) return NONE;
  if (frames.length > MAX_FRAMES) throw new Error(`a message holds at most ${MAX_FRAMES} frames`);
  let out = "";
  for (const f of frames) {
    if (out !== "") out += ",";
    out += f.length;
    if (f.slot) out += `@${f.slot.offset}${f.slot.inMeta ? "m" : ""}`;
    if (f.response) out += "r";
    if (f.event !== undefined) {
      if (!EVENT_RE.test(f.event)) throw new Error(`not an SSE event name: ${JSON.stringify(f.event)}`);
      out += `:${f.event}`;
    }
  }
  return out;
}

const FRAME_RE = /^(\d{1,9})(?:@(\d{1,9})(m)?)?(r)?(?::([A-Za-z0-9_.-]{1,64}))?$/;

/** The frames of a body of `size` bytes; undefined when the descriptor does not describe such a body. */
export function parseFrames(v: string, size: number): FrameInfo[] | undefined {
  if (v === NONE) return size === 0 ? [] : undefined;
  const out: FrameInfo[] = [];
  let total = 0;
  const parts = v.split(",");
  if (parts.length > MAX_FRAMES) return undefined;
  for (const part of parts) {
    const m = FRAME_RE.exec(part);
    if (!m) return undefined;
    const length = Number(m[1]);
    const f: FrameInfo = { length };
    if (m[2] !== undefined) {
      const offset = Number(m[2]);
      if (offset <= 0 || offset >= length) return undefined;
      f.slot = { offset, inMeta: m[3] === "m" };
    }
    if (m[4]) f.response = true;
    if (m[5] !== undefined) f.event = m[5];
    total += length;
    out.push(f);
  }
  return total === size ? out : undefined;
}

/** How a plain HTTP response to a reply begins. */
export interface ResponseHead {
  /** 100–599 */
  status: number;
  /** an event stream (else one JSON body) */
  stream: boolean;
  /** seconds, for Retry-After */
  retryAfter?: string;
}

const HEAD_RE = /^([1-5]\d\d) (sse|json)(?: (\d{1,9}))?$/;

export function formatHead(h: ResponseHead): string {
  if (!(Number.isInteger(h.status) && h.status >= 100 && h.status <= 599)) throw new Error(`not an HTTP status: ${h.status}`);
  const retry = h.retryAfter !== undefined && /^\d{1,9}$/.test(h.retryAfter) ? ` ${h.retryAfter}` : "";
  return `${h.status} ${h.stream ? "sse" : "json"}${retry}`;
}

export function parseHead(v: string): ResponseHead | undefined {
  const m = HEAD_RE.exec(v);
  if (!m) return undefined;
  return { status: Number(m[1]), stream: m[2] === "sse", ...(m[3] !== undefined ? { retryAfter: m[3] } : {}) };
}

/** What the gateway reads off a stored message's headers. */
export interface ReplyMeta {
  rid: string | undefined;
  end: boolean;
  /** undefined: the body is one plain frame */
  frames: FrameInfo[] | undefined;
  /** on a reply's first message, for a plain HTTP response */
  head?: ResponseHead;
}

const ONE_PLAIN: ReplyMeta = { rid: undefined, end: false, frames: undefined };

/** Read a stored message's reply headers. A descriptor that does not fit the body is dropped: the body is then one frame. */
export function readReply(h: MsgHdrs | undefined, size: number): ReplyMeta {
  if (!h) return ONE_PLAIN;
  const rid = headerOf(h, headers.request);
  const frames = headerOf(h, headers.frames);
  const head = headerOf(h, headers.response);
  const meta: ReplyMeta = {
    rid: isRequestId(rid) ? rid : undefined,
    end: headerOf(h, headers.end) === "1",
    frames: frames === "" ? undefined : parseFrames(frames, size),
  };
  if (head !== "") {
    const parsed = parseHead(head);
    if (parsed) meta.head = parsed;
  }
  return meta;
}

/** The headers of a reply message (workers). */
export function replyHeaders(r: { rid: string; frames: readonly FrameInfo[]; end: boolean; ingressTs: number; head?: ResponseHead }): MsgHdrs {
  const h = newHeaders();
  putHeader(h, headers.ingressTs, String(r.ingressTs));
  putHeader(h, headers.request, r.rid);
  if (r.head) putHeader(h, headers.response, formatHead(r.head));
  if (r.end) putHeader(h, headers.end, "1");
  const one = r.frames.length === 1 ? r.frames[0]! : undefined;
  if (!one || one.slot || one.response || one.event !== undefined) putHeader(h, headers.frames, formatFrames(r.frames));
  return h;
}

/** The headers of a message no request caused (an MCP server's notification for the session): it goes to the session's stream. */
export function sessionMessageHeaders(frames: readonly FrameInfo[], ingressTs: number): MsgHdrs {
  const h = newHeaders();
  putHeader(h, headers.ingressTs, String(ingressTs));
  const one = frames.length === 1 ? frames[0]! : undefined;
  if (!one || one.slot || one.response || one.event !== undefined) putHeader(h, headers.frames, formatFrames(frames));
  return h;
}
