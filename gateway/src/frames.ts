// Frames to clients. A stored message holds one or more frames (wire: reply.ts);
// each goes out as it is, with the session fields spliced in front (default
// framing) or a `_meta` spliced into result/params (`mcp` framing) — never
// parsed, never re-serialised. Frames are assembled in one scratch buffer:
// the socket layer copies what it is given before returning, so the buffer is
// reused for the next frame.
import { META_SEQ_KEY, type FrameInfo, type MetaSlot, type SessionId } from "@radiant/wire";
import type { Stored } from "./delivery.js";
import type { Framing } from "./protocol.js";

const latin1 = (s: string) => Buffer.from(s, "latin1");
const SEQ_HEAD = latin1('{"seq_num":');
const TOKEN_HEAD = latin1(',"resume_token":"');
const TOKEN_TAIL = latin1('",');
const TOKEN_TAIL_EMPTY = latin1('"}');
const META_MEMBER_HEAD = latin1(`"_meta":{"${META_SEQ_KEY}":`);
const META_KEY_HEAD = latin1(`"${META_SEQ_KEY}":`);
const CLOSE_BRACE = 0x7d;
const COMMA = 0x2c;

let scratch = Buffer.allocUnsafe(64 * 1024);

function room(n: number): Buffer {
  if (scratch.length < n) scratch = Buffer.allocUnsafe(Math.max(n, scratch.length * 2));
  return scratch;
}

function put(dst: Buffer, at: number, src: Uint8Array, from = 0, to = src.length): number {
  dst.set(from === 0 && to === src.length ? src : src.subarray(from, to), at);
  return at + (to - from);
}

/**
 * The frame at position `seq` (wire: reply.ts, position) whose reply bytes
 * are `body` (a JSON object). The result is a view of the scratch buffer:
 * send it before the next call.
 */
export function liveFrame(framing: Framing, seq: number, token: string, body: Uint8Array, slot: MetaSlot | undefined): Uint8Array {
  if (framing === "plain") return body;
  if (framing === "mcp") return slot ? withMeta(seq, body, slot) : body;
  // {"seq_num":N,"resume_token":"T",<rest of body after its '{'>
  const seqText = String(seq);
  const b = room(body.length + token.length + seqText.length + 40);
  let at = put(b, 0, SEQ_HEAD);
  at += b.write(seqText, at, "latin1");
  at = put(b, at, TOKEN_HEAD);
  at += b.write(token, at, "latin1");
  if (body[1] === CLOSE_BRACE)
    at = put(b, at, TOKEN_TAIL_EMPTY); // body is {}
  else {
    at = put(b, at, TOKEN_TAIL);
    at = put(b, at, body, 1);
  }
  return b.subarray(0, at);
}

function withMeta(seq: number, body: Uint8Array, slot: MetaSlot): Uint8Array {
  const { offset, inMeta } = slot;
  if (offset >= body.length) return body;
  const seqText = String(seq);
  const b = room(body.length + seqText.length + 40);
  let at = put(b, 0, body, 0, offset);
  at = put(b, at, inMeta ? META_KEY_HEAD : META_MEMBER_HEAD);
  at += b.write(seqText, at, "latin1");
  if (!inMeta) b[at++] = CLOSE_BRACE;
  if (body[offset] !== CLOSE_BRACE) b[at++] = COMMA;
  at = put(b, at, body, offset);
  return b.subarray(0, at);
}

export interface SessionInfo {
  sid: SessionId;
  token: string;
  /** the HISTORY epoch seq_nums belong to */
  epoch?: string;
  /** only on a connection that asked to resume */
  resumed?: boolean;
  reason?: string;
}

/** The first frame of a session (not stored; seq_num 0). */
export function sessionFrame(framing: Framing, s: SessionInfo): string {
  const extra =
    (s.epoch ? `,"epoch":"${s.epoch}"` : "") +
    (s.resumed !== undefined ? `,"resumed":${s.resumed}` : "") +
    (s.reason ? `,"reason":${JSON.stringify(s.reason)}` : "");
  if (framing === "mcp") {
    // strict JSON-RPC: the session rides in a notification, seq in _meta
    return `{"jsonrpc":"2.0","method":"notifications/radiant/session","params":{"_meta":{"${META_SEQ_KEY}":0},"sid":"${s.sid}","resume_token":"${s.token}"${extra}}}`;
  }
  return `{"type":"session","sid":"${s.sid}","resume_token":"${s.token}","seq_num":0${extra}}`;
}

/**
 * A frame the gateway answers itself (bad input, broker unavailable). It is not
 * stored in HISTORY, so it carries seq_num 0: not replayed, not counted for resume.
 */
export function directFrame(framing: Framing, json: string, token: string): string {
  if (framing !== "json") return json;
  return `{"seq_num":0,"resume_token":"${token}",${json.slice(1)}`;
}

/** Each frame of a stored message, in order, with its index; returns how many. */
export function eachFrame(m: Stored, f: (frame: Uint8Array, index: number, info: FrameInfo | undefined) => void): number {
  const frames = m.reply.frames;
  if (frames === undefined) {
    f(m.data, 0, undefined);
    return 1;
  }
  let at = 0;
  for (let i = 0; i < frames.length; i++) {
    const info = frames[i]!;
    f(m.data.subarray(at, at + info.length), i, info);
    at += info.length;
  }
  return frames.length;
}
