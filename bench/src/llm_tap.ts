// bench:llm's timed upstream: an OpenAI chat-completions stream served from the
// bench's own process (HTTP/2 over TLS, the echo's certificate), which notes when
// each request arrived and when each chunk was written, on the client's clock.
import http2 from "node:http2";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";

/** What the upstream saw of one request (performance.now() ms of this process). */
export interface Tapped {
  /** the request's body had arrived */
  arrived: number;
  /** each content chunk was handed to the socket */
  sent: number[];
}

interface ChatRequest {
  messages?: { role?: string; content?: unknown }[];
}

/** The tag of a prompt made by `prompt(tag, n)`: the first word up to its last dot. */
const tagOf = (text: string) => {
  const first = text.split(" ", 1)[0]!;
  return first.slice(0, first.lastIndexOf("."));
};

export class Tap {
  /** by prompt tag */
  readonly seen = new Map<string, Tapped>();

  private readonly sessions = new Set<http2.ServerHttp2Session>();

  private constructor(private readonly server: http2.Http2SecureServer) {}

  /** Answers like the echo (a role chunk, a word per chunk `paceMs` apart, a finish chunk, [DONE]). */
  static async start(o: { host: string; port: number; key: string; cert: string; paceMs: number }): Promise<Tap> {
    const server = http2.createSecureServer({ key: o.key, cert: o.cert });
    const tap = new Tap(server);
    server.on("sessionError", () => {});
    server.on("session", (s) => {
      tap.sessions.add(s);
      s.on("close", () => tap.sessions.delete(s));
    });
    server.on("stream", (stream, headers) => {
      stream.on("error", () => {});
      const parts: Buffer[] = [];
      stream.on("data", (b: Buffer) => parts.push(b));
      stream.on("end", () => {
        const arrived = performance.now();
        if (headers[":path"] !== "/v1/chat/completions") {
          stream.respond({ ":status": 404 });
          stream.end();
          return;
        }
        const body = JSON.parse(Buffer.concat(parts).toString("utf8")) as ChatRequest;
        const content = body.messages?.at(-1)?.content;
        const text = typeof content === "string" ? content : "";
        const t: Tapped = { arrived, sent: [] };
        tap.seen.set(tagOf(text), t);
        void tap.answer(stream, text.split(" "), o.paceMs, t);
      });
    });
    server.listen(o.port, o.host);
    await once(server, "listening");
    return tap;
  }

  private async answer(stream: http2.ServerHttp2Stream, words: string[], paceMs: number, t: Tapped): Promise<void> {
    const head = {
      id: "chatcmpl-tap",
      object: "chat.completion.chunk",
      created: Math.floor(Date.now() / 1000),
      model: "bench-tap",
      system_fingerprint: "fp_tap",
    };
    const chunk = (delta: Record<string, unknown>, finish: string | null) =>
      `data: ${JSON.stringify({ ...head, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
    stream.respond({ ":status": 200, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
    stream.write(chunk({ role: "assistant", content: "", refusal: null }, null));
    for (const [i, w] of words.entries()) {
      await sleep(paceMs);
      if (stream.destroyed) return;
      t.sent.push(performance.now());
      stream.write(chunk({ content: i === 0 ? w : ` ${w}` }, null));
    }
    await sleep(paceMs);
    if (stream.destroyed) return;
    stream.write(chunk({}, "stop"));
    stream.end("data: [DONE]\n\n");
  }

  close(): void {
    this.server.close();
    for (const s of this.sessions) s.destroy();
  }
}
