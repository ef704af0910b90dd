// A minimal WebSocket client for holding many idle connections cheaply: a raw
// TCP socket, the upgrade request, and nothing else (it reads and discards
// whatever the server sends, so the server never builds up backpressure).
import { connect, type Socket } from "node:net";
import { upgradeRequest } from "./ws_lite.js";

export function openIdle(port: number, host: string, localAddress: string, path = "/ws"): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host, localAddress });
    let head = "";
    const onData = (d: Buffer) => {
      head += d.toString("latin1");
      if (head.includes("\r\n\r\n")) {
        s.off("data", onData);
        s.on("data", () => {});
        if (head.startsWith("HTTP/1.1 101")) resolve(s);
        else reject(new Error(`upgrade refused: ${head.split("\r\n")[0]}`));
      }
    };
    s.on("data", onData);
    s.once("error", reject);
    s.once("connect", () => s.write(upgradeRequest(path, host)));
  });
}

/**
 * An idle SSE stream, as a browser opens one: GET /sse, follow the 307 to the
 * session's own URL on the same keep-alive connection, then read and discard.
 */
export function openIdleSse(port: number, host: string, localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host, localAddress });
    const get = (path: string) => s.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nAccept: text/event-stream\r\n\r\n`);
    let head = "";
    const onData = (d: Buffer) => {
      head += d.toString("latin1");
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      const location = /\r\nLocation: ([^\r]+)/i.exec(head.slice(0, end));
      if (head.startsWith("HTTP/1.1 307") && location) {
        head = head.slice(end + 4);
        get(location[1]!);
        return;
      }
      s.off("data", onData);
      s.on("data", () => {});
      if (head.startsWith("HTTP/1.1 200")) resolve(s);
      else reject(new Error(`stream refused: ${head.split("\r\n")[0]}`));
    };
    s.on("data", onData);
    s.once("error", reject);
    s.once("connect", () => get("/sse"));
  });
}

export type Opener = (port: number, host: string, localAddress: string) => Promise<Socket>;

/** Open `n` idle connections, `concurrency` at a time, spreading source addresses over 127.0.0.2… */
export async function openMany(
  n: number,
  port: number,
  concurrency = 200,
  open: Opener = openIdle,
): Promise<{ sockets: Socket[]; failed: number; seconds: number }> {
  const sockets: Socket[] = [];
  let failed = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i += concurrency) {
    const batch = await Promise.allSettled(
      Array.from({ length: Math.min(concurrency, n - i) }, (_, j) => open(port, "127.0.0.1", `127.0.0.${2 + ((i + j) % 200)}`)),
    );
    for (const r of batch) {
      if (r.status === "fulfilled") sockets.push(r.value);
      else failed++;
    }
  }
  return { sockets, failed, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}
