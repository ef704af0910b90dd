// The LLM handlers: a request in a client's API (OpenAI Chat Completions or
// Responses, Anthropic Messages, Google generateContent) to whichever upstream
// the model table names, translated both ways (translate/), called through the
// egress proxy, streamed back one frame per client event.
import type { ModelTable } from "@radiant/infra/models";
import { isModelName } from "@radiant/infra/models";
import { modelAllowed } from "@radiant/wire";
import type { Handler, HandlerContext, HandlerTable, Request } from "../handler.js";
import { parseJson } from "../jsonrpc.js";
import type { Reply } from "../reply.js";
import { readText, type EgressClient, type ProxyError, type UpstreamAnswer } from "./egress_client.js";
import { SseParser } from "./sse_parse.js";
import { UsageMeter } from "./usage.js";
import { errorBody } from "./translate/errors.js";
import { translatorFor } from "./translate/index.js";
import { TranslateError, type ClientApi, type ClientEvent, type TranslateContext } from "./translate/types.js";

export interface LlmOptions {
  models: ModelTable;
  egress: Pick<EgressClient, "call">;
  /** seconds since the epoch (fixed in tests) */
  now?: () => number;
  /** the tokens an answer used, as its upstream reported them (per-principal and per-key limits count them) */
  usage?: (req: Request, tokens: number) => void;
}

/** A plain answer bigger than this is refused (a stream has no such bound: it goes out as it comes). */
const MAX_PLAIN_BYTES = 64 * 1024 * 1024;

/** The client's request cannot be answered: its status and message, in its own API's shape. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
    readonly retryAfter?: string,
    /** OpenAI's `param`: the request field at fault */
    readonly param?: string,
  ) {
    super(message);
  }
}

const proxyRefusals: Record<ProxyError, { status: number; code?: string }> = {
  "unknown-model": { status: 404, code: "model_not_found" },
  "missing-key": { status: 401 },
  "bad-path": { status: 500 },
  "forbidden-call": { status: 500 },
  "circuit-open": { status: 503 },
  "upstream-unreachable": { status: 502 },
  timeout: { status: 504 },
};

/** A whole answer in one frame (a JSON body, or an error): its status heads a plain HTTP response, and it ends the reply. */
function wholeReply(e: ClientEvent, echo: string | undefined, status: number, retryAfter?: string): Reply {
  const r = frame(e, echo);
  r.head = { status, stream: false, ...(retryAfter !== undefined ? { retryAfter } : {}) };
  r.last = true;
  return r;
}

function errorReply(api: ClientApi, e: Refusal, echo: string | undefined): Reply {
  return wholeReply({ data: errorBody(api, e.status, e.message, e.code, e.param) }, echo, e.status, e.retryAfter);
}

/**
 * One client event as a frame. A request sent on a session with an `id` of
 * its own (LLM bodies have none) gets it back as `request_id` in every frame,
 * first, so a client can tell its answers apart.
 */
function frame(e: ClientEvent, echo: string | undefined): Reply {
  let json = JSON.stringify(e.data);
  if (echo !== undefined && json.startsWith("{")) json = json === "{}" ? `{"request_id":${echo}}` : `{"request_id":${echo},${json.slice(1)}`;
  return e.event === undefined ? { body: Buffer.from(json) } : { body: Buffer.from(json), event: e.event };
}

function bodyObject(req: Request): Record<string, unknown> {
  let v: unknown;
  try {
    v = parseJson(req.body);
  } catch {
    throw new Refusal(400, "The request body is not valid JSON");
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Refusal(400, "The request body must be a JSON object");
  return v as Record<string, unknown>;
}

/** The request's own id (sessions): taken off the body, echoed as request_id. */
function takeId(body: Record<string, unknown>): string | undefined {
  const id = body.id;
  if (typeof id !== "string" && !(typeof id === "number" && Number.isFinite(id))) return undefined;
  delete body.id;
  return JSON.stringify(id);
}

/** What the proxy said when it refused (its JSON `{"error":{"message"}}`), or a plain description. */
async function proxyRefusal(kind: ProxyError, up: UpstreamAnswer, model: string): Promise<Refusal> {
  const text = await readText(up.body).catch(() => "");
  let message = `the egress proxy refused the call (${kind})`;
  try {
    const m = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    if (typeof m === "string" && m !== "") message = m;
  } catch {
    // not JSON: keep the plain description
  }
  const r = proxyRefusals[kind];
  if (kind === "unknown-model") message = `The model \`${model}\` does not exist or you do not have access to it.`;
  // an upstream out of reach or too slow may well answer a moment later: say when to retry
  const retryAfter = up.header("retry-after") ?? (r.status >= 502 ? "1" : undefined);
  return new Refusal(r.status, message, r.code, retryAfter);
}

function isProxyError(v: string | undefined): v is ProxyError {
  return v !== undefined && Object.hasOwn(proxyRefusals, v);
}

function generate(api: ClientApi, o: LlmOptions): Handler {
  const now = o.now ?? (() => Math.floor(Date.now() / 1000));
  return async function* (req: Request, ctx: HandlerContext): AsyncIterable<Reply> {
    let echo: string | undefined;
    // what the upstream said it used, counted however the answer ends (done, failed, the client gone)
    let meter: UsageMeter | undefined;
    try {
      const body = bodyObject(req);
      echo = takeId(body);
      let stream = body.stream === true;
      if (api === "google") {
        // the gateway adds the URL's model (last, so it wins); `stream` is ours on sessions
        stream = req.op === "stream" || stream;
        delete body.stream;
      }
      const model = body.model;
      if (api === "google") delete body.model;
      if (typeof model !== "string" || model === "") throw new Refusal(400, "`model` is required: the name of the model to use");
      if (!isModelName(model)) throw new Refusal(404, `The model \`${String(model).slice(0, 200)}\` does not exist`, "model_not_found");
      const route = o.models.resolve(model);
      if (!route) throw new Refusal(404, `The model \`${model}\` does not exist or you do not have access to it.`, "model_not_found");
      if (!modelAllowed(req.models, model)) throw new Refusal(403, `This API key may not use the model \`${model}\``, "model_not_allowed");
      meter = new UsageMeter(route.format);
      const m = meter;
      const tr = translatorFor(api, route.format);
      const options = body.stream_options as { include_usage?: unknown } | undefined;
      const tctx: TranslateContext = {
        model,
        upstreamModel: route.upstreamModel,
        // unique per answer: a plain HTTP request's session holds only it, so its request id alone repeats
        id: `${req.sid}${req.rid}`.replace(/[^A-Za-z0-9]/g, ""),
        created: now(),
        stream,
        includeUsage: options?.include_usage === true,
      };
      let upReq: ReturnType<typeof tr.request>;
      try {
        upReq = tr.request(body, tctx);
      } catch (e) {
        if (e instanceof TranslateError) throw new Refusal(e.status, e.message, undefined, undefined, e.param);
        throw e;
      }
      let up: UpstreamAnswer;
      // a provider bills what it was sent: from here a timeout answers with an error, never a second call
      ctx.committed();
      try {
        up = await o.egress.call({
          path: upReq.path,
          method: "POST",
          model,
          rid: req.rid,
          body: JSON.stringify(upReq.body),
          // a plain answer's first byte comes when the whole answer is made: the proxy waits for it accordingly
          headers: { ...upReq.headers, "radiant-stream": stream ? "1" : "0" },
          signal: ctx.signal,
        });
      } catch (e) {
        if (ctx.signal.aborted) return;
        throw new Refusal(503, `The egress proxy cannot be reached (${(e as Error).message}); retry`, undefined, "1");
      }
      const refused = up.header("radiant-error");
      if (isProxyError(refused)) throw await proxyRefusal(refused, up, model);
      if (up.status < 200 || up.status > 299) {
        const text = await readText(up.body);
        const ce = tr.error(up.status, text, up.header("retry-after"));
        yield wholeReply({ data: ce.body }, echo, ce.status, ce.retryAfter);
        return;
      }
      if (!stream) {
        const text = await readText(up.body, MAX_PLAIN_BYTES);
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          throw new Refusal(502, "The upstream answered with a body that is not JSON");
        }
        m.body(json);
        yield wholeReply(tr.response(json, tctx), echo, 200);
        return;
      }
      // streamed: each client event a frame, at once (no holding back to mark the last one: an End marker follows)
      const st = tr.stream(tctx);
      const parser = new SseParser();
      let first = true;
      const out = function* (events: ClientEvent[]): Iterable<Reply> {
        for (const e of events) {
          const r = frame(e, echo);
          if (first) {
            r.head = { status: 200, stream: true };
            first = false;
          }
          yield r;
        }
      };
      for await (const chunk of up.body) {
        if (ctx.signal.aborted) return;
        for (const ev of parser.push(chunk as Buffer)) {
          m.event(ev.data);
          yield* out(st.push(ev));
        }
      }
      yield* out(st.end());
      yield { body: Buffer.alloc(0), last: true };
    } catch (e) {
      if (ctx.signal.aborted) return;
      if (e instanceof Refusal) {
        yield errorReply(api, e, echo);
        return;
      }
      throw e;
    } finally {
      if (meter) report(o, req, meter);
    }
  };
}

function report(o: LlmOptions, req: Request, meter: UsageMeter): void {
  if (meter.tokens > 0) o.usage?.(req, meter.tokens);
}

/** The models a request may see: the table's, less those its key does not allow. */
const visible = (o: LlmOptions, req: Request) => o.models.names().filter((m) => modelAllowed(req.models, m.name));

/** The model list in OpenAI's shape (`GET /v1/models`). */
function openaiModels(o: LlmOptions): Handler {
  return async function* (req: Request) {
    const data = visible(o, req).map((m) => ({ id: m.name, object: "model", created: 0, owned_by: m.format }));
    yield { body: Buffer.from(JSON.stringify({ object: "list", data })), head: { status: 200, stream: false }, last: true };
  };
}

/** The model list in Google's shape (`GET /v1beta/models`). */
function googleModels(o: LlmOptions): Handler {
  return async function* (req: Request) {
    const models = visible(o, req).map((m) => ({
      name: `models/${m.name}`,
      displayName: m.name,
      supportedGenerationMethods: ["generateContent", "streamGenerateContent"],
    }));
    yield { body: Buffer.from(JSON.stringify({ models })), head: { status: 200, stream: false }, last: true };
  };
}

export function llmHandlers(o: LlmOptions): Pick<HandlerTable, "openai" | "anthropic" | "google"> {
  return {
    openai: { chat: generate("openai", o), responses: generate("responses", o), models: openaiModels(o) },
    anthropic: { messages: generate("anthropic", o) },
    google: { generate: generate("google", o), stream: generate("google", o), models: googleModels(o) },
  };
}
