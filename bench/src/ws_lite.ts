// A minimal WebSocket client for holding tens of thousands of live sessions in
// one process: a raw TCP socket, the upgrade request, a frame reader that
// answers pings and hands text frames on, and masked text frames out. No
// per-frame JSON parse: the soak only reads seq_num and ids with a regex.
import { connect, type Socket } from "node:net";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

/** The upgrade request of every bench client (the key is fixed: nobody checks the accept hash). */
export const upgradeRequest = (path: string, host: string): string =>
  `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
const OP_TEXT = 0x1;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

export interface LiteConn {
  socket: Socket;
  /** the session frame's fields */
  sid: string;
  token: string;
  /** seq_num of the last stored frame seen */
  lastSeq: number;
  /** whether the session frame said the resume worked */
  resumed: boolean | undefined;
  /** every later text frame */
  onText: ((text: string) => void) | undefined;
  closed: boolean;
  /** the close code the server sent after the session frame, if it did */
  closedBy?: number;
}

/** A masked frame from client to server (a zero mask: servers must accept any key). */
export function clientFrame(op: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const b = Buffer.allocUnsafe(head + 4 + len);
  b[0] = 0x80 | op;
  if (len < 126) b[1] = 0x80 | len;
  else if (len < 65536) {
    b[1] = 0x80 | 126;
    b.writeUInt16BE(len, 2);
  } else {
    b[1] = 0x80 | 127;
    b.writeBigUInt64BE(BigInt(len), 2);
  }
  b.writeUInt32BE(0, head);
  payload.copy(b, head + 4);
  return b;
}

export function sendText(c: LiteConn, text: string): void {
  if (!c.closed) c.socket.write(clientFrame(OP_TEXT, Buffer.from(text)));
}

const SEQ = /"seq_num":(\d+)/;

/** Frames from server to client (never masked), possibly split across reads. `onClose`: the server's close frame (code, reason). */
function reader(c: LiteConn, onSession: (c: LiteConn, text: string) => void, onClose: (code: number, reason: string) => void = () => {}): (d: Buffer) => void {
  let pending: Buffer | undefined;
  return (d) => {
    let b = pending ? Buffer.concat([pending, d]) : d;
    pending = undefined;
    for (;;) {
      if (b.length < 2) break;
      const op = b[0]! & 0x0f;
      let len = b[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (b.length < 4) break;
        len = b.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (b.length < 10) break;
        len = Number(b.readBigUInt64BE(2));
        at = 10;
      }
      if (b.length < at + len) break;
      const payload = b.subarray(at, at + len);
      if (op === OP_TEXT) {
        const text = payload.toString();
        const m = SEQ.exec(text);
        if (m && Number(m[1]) > c.lastSeq) c.lastSeq = Number(m[1]);
        if (c.token === "") onSession(c, text);
        else c.onText?.(text);
      } else if (op === OP_PING) c.socket.write(clientFrame(OP_PONG, Buffer.from(payload)));
      else if (op === OP_CLOSE) {
        onClose(payload.length >= 2 ? payload.readUInt16BE(0) : 1005, payload.subarray(2).toString());
        c.socket.end();
      }
      b = b.subarray(at + len);
    }
    if (b.length > 0) pending = Buffer.from(b);
  };
}

/**
 * Open a session (or resume one: path `/ws?resume=…&last_seq=…`); resolves once
 * its session frame arrived — or at the upgrade, for a server that sends none (`session` false).
 */
export function openLite(
  port: number,
  host: string,
  localAddress: string,
  path = "/ws",
  prior?: LiteConn,
  session = true,
  /** give up (and drop the socket) if the session frame has not come by then */
  timeoutMs = 0,
): Promise<LiteConn> {
  return new Promise((resolveOpen, rejectOpen) => {
    const socket = connect({ port, host, localAddress });
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            socket.destroy();
            rejectOpen(new Error(`no session frame within ${timeoutMs} ms`));
          }, timeoutMs)
        : undefined;
    const resolve = (c: LiteConn) => {
      clearTimeout(timer);
      resolveOpen(c);
    };
    const reject = (e: Error) => {
      clearTimeout(timer);
      rejectOpen(e);
    };
    const c: LiteConn = prior ?? { socket, sid: "", token: "", lastSeq: 0, resumed: undefined, onText: undefined, closed: false };
    c.socket = socket;
    c.token = session ? "" : "-";
    c.closed = false;
    c.closedBy = undefined;
    let head = "";
    const onSession = (conn: LiteConn, text: string) => {
      const s = JSON.parse(text) as { sid: string; resume_token: string; resumed?: boolean };
      conn.sid = s.sid;
      conn.token = s.resume_token;
      conn.resumed = s.resumed;
      resolve(conn);
    };
    // closed before its session frame (a resume told to come back later: 1013)
    const frames = reader(c, onSession, (code, reason) => {
      if (c.token === "") reject(new LiteClosed(code, reason));
      else c.closedBy = code;
    });
    const onHead = (d: Buffer) => {
      head += d.toString("latin1");
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onHead);
      if (!head.startsWith("HTTP/1.1 101")) return reject(new Error(`upgrade refused: ${head.split("\r\n")[0]}`));
      socket.on("data", frames);
      if (!session) resolve(c);
      const rest = Buffer.from(head.slice(end + 4), "latin1");
      if (rest.length > 0) frames(rest);
    };
    socket.on("data", onHead);
    // a resumed connection reuses `c`: the old socket's late events must not touch it
    socket.once("error", (e) => {
      if (c.socket === socket) c.closed = true;
      reject(e);
    });
    socket.once("close", () => {
      if (c.socket === socket) c.closed = true;
      reject(new Error("closed before the session frame"));
    });
    socket.once("connect", () => socket.write(upgradeRequest(path, host)));
  });
}

/** The server closed the connection before its session frame. */
export class LiteClosed extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
  ) {
    super(`closed ${code} ${reason}`);
  }
}

/** Run `f` over `items`, at most `concurrency` at a time. */
export async function pooled<T>(items: T[], concurrency: number, f: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await f(items[i]!, i);
      }
    }),
  );
}
