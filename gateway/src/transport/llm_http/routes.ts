// The provider endpoints on the client port, at the paths each official SDK
// calls: OpenAI (/v1/chat/completions, /v1/responses, /v1/models), Anthropic
// (/v1/messages), Google (/v1beta/models/{model}:generateContent and
// :streamGenerateContent?alt=sse, also under /v1/ as @google/genai 3 calls it).
// See this folder's README.
import type { HttpRequest } from "uWebSockets.js";
import { isModelName } from "@radiant/infra/models";
import type { Exchange, HttpRoute } from "../http.js";
import type { StreamStyle } from "./answer_llm.js";
import { type Endpoint, errorBodyOf, type LlmHttp, llmRequest, withModel } from "./post.js";

const IDS: StreamStyle = { ids: true, done: false };
const chat: Endpoint = { proto: "openai", op: "chat", style: { ids: true, done: true } };
const responses: Endpoint = { proto: "openai", op: "responses", style: IDS };
const openaiModels: Endpoint = { proto: "openai", op: "models", style: IDS };
const messages: Endpoint = { proto: "anthropic", op: "messages", style: IDS };
// Google's SDK reads an `id:` line as part of the event's JSON: no ids (resume by count)
const generate: Endpoint = { proto: "google", op: "generate", style: { ids: false, done: false } };
const stream: Endpoint = { proto: "google", op: "stream", style: { ids: false, done: false } };
const googleModels: Endpoint = { proto: "google", op: "models", style: IDS };

const openaiError = errorBodyOf("openai");
const googleError = errorBodyOf("google");

/** `models/{model}:{method}` after the version prefix: the model and whether it streams. */
function googleCall(c: LlmHttp, x: Exchange, req: HttpRequest, prefix: string): void {
  const rest = req.getUrl().slice(prefix.length);
  const colon = rest.lastIndexOf(":");
  let model = "";
  try {
    model = decodeURIComponent(rest.slice(0, colon));
  } catch {
    // not URL-encoded properly: refused below
  }
  const method = rest.slice(colon + 1);
  if (colon <= 0 || !isModelName(model)) {
    x.fail("404 Not Found", `Not found: ${prefix}{model}:generateContent or :streamGenerateContent with a model name`);
    return;
  }
  if (method === "generateContent") return llmRequest(c, x, req, generate, (b) => withModel(b, model));
  if (method === "streamGenerateContent") {
    if (req.getQuery("alt") !== "sse") {
      x.fail("400 Bad Request", "streamGenerateContent is served as server-sent events only: add ?alt=sse");
      return;
    }
    return llmRequest(c, x, req, stream, (b) => withModel(b, model));
  }
  x.fail("404 Not Found", `Not found: the method ${JSON.stringify(method.slice(0, 64))} (this gateway serves generateContent and streamGenerateContent)`);
}

/** `GET /v1/models` is OpenAI's and, for @google/genai 3, Google's: the client's headers tell them apart. */
function isGoogleClient(req: HttpRequest): boolean {
  return req.getHeader("x-goog-api-key") !== "" || req.getHeader("x-goog-api-client") !== "";
}

export function llmHttpRoutes(c: LlmHttp): HttpRoute[] {
  const post = (e: Endpoint) => (x: Exchange, req: HttpRequest) => llmRequest(c, x, req, e);
  return [
    { path: "/v1/chat/completions", protocol: "openai", methods: { post: post(chat) }, errorBody: openaiError },
    { path: "/v1/responses", protocol: "openai", methods: { post: post(responses) }, errorBody: openaiError },
    {
      path: "/v1/models",
      protocol: "openai",
      methods: { get: (x, req) => llmRequest(c, x, req, isGoogleClient(req) ? googleModels : openaiModels) },
      errorBody: openaiError,
    },
    { path: "/v1/messages", protocol: "anthropic", methods: { post: post(messages) }, errorBody: errorBodyOf("anthropic") },
    { path: "/v1beta/models", protocol: "google", methods: { get: post(googleModels) }, errorBody: googleError },
    { path: "/v1beta/models/*", protocol: "google", methods: { post: (x, req) => googleCall(c, x, req, "/v1beta/models/") }, errorBody: googleError },
    { path: "/v1/models/*", protocol: "google", methods: { post: (x, req) => googleCall(c, x, req, "/v1/models/") }, errorBody: googleError },
  ];
}
