// The echo upstream in Google's Generative Language (Gemini) wire format:
// generateContent and streamGenerateContent (SSE, or the streamed JSON array
// without alt=sse) under /v1beta/ and /v1/, the model list, and Google's errors.
import { randomBytes } from "node:crypto";
import { type Answer, answer, isBadRequest, isObject, readGoogle, wordPieces } from "./echo_answer.js";
import type { EchoFormat, Reply, RequestHead, Route } from "./echo_server.js";

const MODELS = [{ name: "echo-google", displayName: "Echo (Google format)" }];

const json = (status: number, body: unknown): Reply => ({
  status,
  headers: { "content-type": "application/json; charset=UTF-8" },
  chunks: [JSON.stringify(body)],
  stream: false,
});

/** google.rpc status names, by HTTP status */
const STATUS_NAMES: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  409: "ABORTED",
  429: "RESOURCE_EXHAUSTED",
  499: "CANCELLED",
  500: "INTERNAL",
  501: "UNIMPLEMENTED",
  503: "UNAVAILABLE",
  504: "DEADLINE_EXCEEDED",
};

const DEFAULT_MESSAGES: Record<number, string> = {
  400: "Request contains an invalid argument.",
  401: "Request had invalid authentication credentials.",
  403: "The caller does not have permission.",
  404: "Requested entity was not found.",
  413: "Request payload size exceeds the limit.",
  429: "Resource has been exhausted (e.g. check quota).",
  500: "An internal error has occurred.",
  503: "The model is overloaded. Please try again later.",
  504: "Deadline expired before operation could complete.",
};

function error(status: number, message?: string): Reply {
  const name = STATUS_NAMES[status] ?? (status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT");
  return json(status, { error: { code: status, message: message ?? DEFAULT_MESSAGES[status] ?? `Error ${status}.`, status: name, details: [] } });
}

function usage(a: Answer, candidates: number) {
  return {
    promptTokenCount: a.inputTokens,
    candidatesTokenCount: candidates,
    totalTokenCount: a.inputTokens + candidates,
    promptTokensDetails: [{ modality: "TEXT", tokenCount: a.inputTokens }],
  };
}

const finishReason = (a: Answer) => (a.truncated ? "MAX_TOKENS" : "STOP");

/** One response (or stream chunk): a candidate with these parts. */
function response(a: Answer, model: string, responseId: string, parts: unknown[], finish: string | undefined, candidatesSoFar: number) {
  return {
    candidates: [{ content: { parts, role: "model" }, ...(finish ? { finishReason: finish } : {}), index: 0 }],
    usageMetadata: usage(a, candidatesSoFar),
    modelVersion: model,
    responseId,
  };
}

/** The answer as responses: one for a plain call, one per word for a stream (a tool call is one). */
function* responses(a: Answer, model: string, streamed: boolean): Generator<ReturnType<typeof response>> {
  const rid = randomBytes(12).toString("base64url");
  if (a.kind === "tool") {
    yield response(a, model, rid, [{ functionCall: { name: a.name, args: a.args } }], "STOP", 1);
    return;
  }
  if (!streamed) {
    yield response(a, model, rid, [{ text: a.text }], finishReason(a), a.outputTokens);
    return;
  }
  let n = 0;
  let prev: string | undefined;
  // the finish reason rides on the last word's chunk: hold one word back to know which is last
  for (const w of wordPieces(a.text)) {
    if (prev !== undefined) yield response(a, model, rid, [{ text: prev }], undefined, n);
    prev = w;
    n++;
  }
  if (prev !== undefined) yield response(a, model, rid, [{ text: prev }], finishReason(a), n);
}

function generate(model: string, mode: "plain" | "sse" | "array") {
  return (body: unknown): Reply => {
    if (!isObject(body)) return error(400, "Invalid JSON payload received. Expected an object.");
    const input = readGoogle(body);
    if (isBadRequest(input)) return error(400, input.error);
    const a = answer(input);
    if (isBadRequest(a)) return error(400, `* GenerateContentRequest.contents: ${a.error}`);
    if (mode === "plain") {
      const [only] = responses(a, model, false);
      return json(200, only);
    }
    if (mode === "sse") {
      return {
        status: 200,
        headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
        chunks: (function* () {
          for (const r of responses(a, model, true)) yield `data: ${JSON.stringify(r)}\r\n\r\n`;
        })(),
        stream: true,
      };
    }
    // without alt=sse the stream is one JSON array, sent an element at a time
    return {
      status: 200,
      headers: { "content-type": "application/json; charset=UTF-8" },
      chunks: (function* () {
        let first = true;
        for (const r of responses(a, model, true)) {
          yield `${first ? "[" : ",\r\n"}${JSON.stringify(r)}`;
          first = false;
        }
        yield "]";
      })(),
      stream: true,
    };
  };
}

function modelList(): Reply {
  const models = MODELS.map((m) => ({
    name: `models/${m.name}`,
    version: "001",
    displayName: m.displayName,
    description: "Answers with the last user text, word by word (RADIANT's local upstream).",
    inputTokenLimit: 1_048_576,
    outputTokenLimit: 65_536,
    supportedGenerationMethods: ["generateContent", "streamGenerateContent"],
    temperature: 1,
    topP: 0.95,
    topK: 64,
    maxTemperature: 2,
  }));
  return json(200, { models });
}

const GENERATE_RE = /^\/(v1beta|v1)\/models\/([^/:]+):(generateContent|streamGenerateContent)$/;

export const googleFormat: EchoFormat = {
  route(head: RequestHead): Route {
    const { method, path, headers, query } = head;
    const m = GENERATE_RE.exec(path);
    if (m && method === "POST") {
      let model: string;
      try {
        model = decodeURIComponent(m[2]!);
      } catch {
        return { kind: "reply", reply: error(400, "Invalid model name.") };
      }
      const mode = m[3] === "generateContent" ? "plain" : query.get("alt") === "sse" ? "sse" : "array";
      return { kind: "generate", answer: generate(model, mode) };
    }
    if (method === "GET" && path === "/v1beta/models") return { kind: "reply", reply: modelList() };
    // /v1/models is OpenAI's path too: only a Google client (by its headers or key) gets Google's list
    const googleClient = headers["x-goog-api-key"] !== undefined || headers["x-goog-api-client"] !== undefined || query.has("key");
    if (method === "GET" && path === "/v1/models" && googleClient) return { kind: "reply", reply: modelList() };
    return { kind: "reply", reply: error(404, `The requested URL ${path} was not found on this server.`) };
  },
  error: (status, message) => error(status, message),
  badJson: () => error(400, "Invalid JSON payload received. Unexpected token."),
};
