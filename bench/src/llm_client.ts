// bench:llm's clients: one streamed OpenAI chat completion, through RADIANT
// (HTTP/1.1 to the gateway) or straight to an upstream (HTTP/2 over TLS), timed
// per content chunk on this process's clock, and checked word by word.
import http from "node:http";
import http2 from "node:http2";

/** One streamed answer as the client saw it. */
export interface Streamed {
  status: number;
  /** performance.now() when the request was sent */
  sentAt: number;
  /** ms from the request being sent to each content chunk's arrival */
  at: number[];
  /** each content chunk's text, in arrival order */
  pieces: string[];
  /** `data: [DONE]` came and the response ended */
  done: boolean;
  error?: string;
}

/** Words the echo answers with, one per chunk: unique per answer, so a chunk from another stream or a repeat shows. */
export function prompt(tag: string, words: number): string {
  return Array.from({ length: words }, (_, i) => `${tag}.${i}`).join(" ");
}

export function chatBody(text: string, model = "echo-openai"): string {
  return JSON.stringify({ model, stream: true, messages: [{ role: "user", content: text }] });
}

/** What is wrong with an answer to `text` (undefined: every word once, in order, one per chunk, then [DONE]). */
export function checkAnswer(s: Streamed, text: string): string | undefined {
  if (s.error) return s.error;
  if (s.status !== 200) return `status ${s.status}`;
  if (!s.done) return "no [DONE]";
  const want = text.split(" ");
  const got = s.pieces.map((p) => p.trim());
  if (got.length !== want.length) return `${got.length} chunks for ${want.length} words`;
  for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) return `chunk ${i} is ${JSON.stringify(got[i])} where ${want[i]} was due`;
  if (s.pieces.join("") !== text) return "the chunks do not join back into the text";
  return undefined;
}

/** Server-sent events cut from a byte stream; `onData` gets each event's data (comments and ids dropped). */
class SseCutter {
  private rest = "";
  constructor(private readonly onData: (data: string) => void) {}

  push(b: Buffer): void {
    const text = this.rest + b.toString("utf8");
    let from = 0;
    for (let end = text.indexOf("\n\n", from); end >= 0; end = text.indexOf("\n\n", from)) {
      for (const line of text.slice(from, end).split("\n")) if (line.startsWith("data: ")) this.onData(line.slice(6));
      from = end + 2;
    }
    this.rest = text.slice(from);
  }
}

interface ChunkDelta {
  choices?: { delta?: { content?: string | null } }[];
}

/** Collects one answer's chunks as they arrive. */
class Collector {
  readonly s: Streamed = { status: 0, sentAt: 0, at: [], pieces: [], done: false };
  private sawDone = false;
  readonly cutter = new SseCutter((data) => {
    if (data === "[DONE]") {
      this.sawDone = true;
      return;
    }
    const content = (JSON.parse(data) as ChunkDelta).choices?.[0]?.delta?.content;
    // the role chunk that opens an answer has content "": not a token
    if (!content) return;
    this.s.at.push(performance.now() - this.s.sentAt);
    this.s.pieces.push(content);
  });
  private settled = false;

  constructor(private readonly resolve: (s: Streamed) => void) {}

  ended(): void {
    this.s.done = this.sawDone;
    this.finish();
  }

  fail(e: Error | string): void {
    this.s.error ??= typeof e === "string" ? e : e.message;
    this.finish();
  }

  private finish(): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve(this.s);
  }
}

/**
 * POST one streamed chat completion over HTTP/1.1: to the gateway, or to the
 * egress proxy (with its `radiant-model` header). The clock starts when the
 * request goes out: at once on a kept-alive socket, else once the socket
 * connects (a burst of new connections measures the answer, not the connection queue).
 */
export function overHttp1(agent: http.Agent, base: URL, body: string, timeoutMs: number, headers: http.OutgoingHttpHeaders = {}): Promise<Streamed> {
  return new Promise((resolve) => {
    const c = new Collector(resolve);
    const req = http.request({
      host: base.hostname,
      port: base.port,
      path: "/v1/chat/completions",
      method: "POST",
      agent,
      headers: { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(body) },
    });
    const timer = setTimeout(() => {
      c.fail(`no end within ${timeoutMs} ms`);
      req.destroy();
    }, timeoutMs);
    req.on("socket", (sock) => {
      if (sock.connecting) sock.once("connect", () => (c.s.sentAt = performance.now()));
      else c.s.sentAt = performance.now();
    });
    req.on("response", (res) => {
      c.s.status = res.statusCode ?? 0;
      res.on("data", (b: Buffer) => c.cutter.push(b));
      res.on("end", () => {
        clearTimeout(timer);
        c.ended();
      });
      res.on("error", (e) => c.fail(e));
    });
    req.on("error", (e) => {
      clearTimeout(timer);
      c.fail(e);
    });
    req.end(body);
  });
}

/** The same request straight to the upstream, on an HTTP/2 session already open. */
export function direct(session: http2.ClientHttp2Session, body: string, timeoutMs: number, headers: http2.OutgoingHttpHeaders = {}): Promise<Streamed> {
  return new Promise((resolve) => {
    const c = new Collector(resolve);
    const stream = session.request({ ":method": "POST", ":path": "/v1/chat/completions", "content-type": "application/json", ...headers });
    const timer = setTimeout(() => {
      c.fail(`no end within ${timeoutMs} ms`);
      stream.close(http2.constants.NGHTTP2_CANCEL);
    }, timeoutMs);
    stream.on("response", (h) => (c.s.status = Number(h[":status"])));
    stream.on("data", (b: Buffer) => c.cutter.push(b));
    stream.on("end", () => {
      clearTimeout(timer);
      c.ended();
    });
    stream.on("error", (e) => {
      clearTimeout(timer);
      c.fail(e);
    });
    c.s.sentAt = performance.now();
    stream.end(body);
  });
}

/** An HTTP/2 session to the upstream, trusting its self-signed certificate. */
export async function openH2(url: string, ca: Buffer): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(url, { ca });
  await new Promise<void>((resolve, reject) => {
    session.once("connect", () => resolve());
    session.once("error", reject);
  });
  session.on("error", () => {});
  return session;
}
