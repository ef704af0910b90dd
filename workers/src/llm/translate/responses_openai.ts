// responses client, openai upstream: OpenAI's own /v1/responses, passed through.
// Only the model's name changes (the upstream's going up, the client's coming
// back); everything else, including the state OpenAI keeps (store,
// previous_response_id) and its built-in tools, is OpenAI's to handle.
import { errorBody, isObj, parseJson, upstreamErrorMessage } from "./errors.js";
import type { ClientEvent, StreamTranslator, TranslateContext, Translator, UpstreamEvent } from "./types.js";

export const RESPONSES_PATH = "/v1/responses";

/** A response object with the client's model name; anything else as it is. */
const renamed = (v: unknown, c: TranslateContext): unknown => (isObj(v) && typeof v.model === "string" ? { ...v, model: c.model } : v);

/** Events after which the client knows how the answer ended. */
const closing = new Set(["response.completed", "response.incomplete", "response.failed", "error"]);

function stream(c: TranslateContext): StreamTranslator {
  let stopped = false; // we ended the stream (the upstream broke it)
  let told = false; // the client has been told how the answer ended (a closing event passed on)
  let lastSeq = -1; // the upstream's numbering, to go on with when events of ours follow it
  let snapshot: Record<string, unknown> | undefined; // the latest whole response the upstream sent
  const done = new Map<number, unknown>(); // output items finished so far, by output_index

  /** The upstream stopped without saying how the answer ended: the client is told it failed, as OpenAI would. */
  const fail = (message: string): ClientEvent[] => {
    stopped = true;
    const out: ClientEvent[] = [{ event: "error", data: { type: "error", code: "server_error", message, param: null, sequence_number: ++lastSeq } }];
    if (snapshot) {
      const response = {
        ...snapshot,
        status: "failed",
        error: { code: "server_error", message },
        output: [...done].sort((a, b) => a[0] - b[0]).map((e) => e[1]),
      };
      out.push({ event: "response.failed", data: { type: "response.failed", response, sequence_number: ++lastSeq } });
    }
    return out;
  };

  return {
    push(ev: UpstreamEvent): ClientEvent[] {
      if (stopped) return [];
      const text = ev.data.trim();
      // Responses streams have no [DONE]; some compatible servers send one anyway
      if (text === "" || text === "[DONE]") return [];
      const v = parseJson(text);
      if (!isObj(v)) return fail("The model's provider sent a stream event that is not a JSON object");
      if (typeof v.sequence_number === "number") lastSeq = v.sequence_number;
      const type = typeof v.type === "string" ? v.type : ev.event;
      // after OpenAI's `error` its response.failed still comes, and is passed on
      if (type !== undefined && closing.has(type)) told = true;
      // response.created / in_progress / completed / incomplete / failed carry the whole response
      let data = v;
      if (isObj(v.response)) {
        data = { ...v, response: renamed(v.response, c) };
        snapshot = data.response as Record<string, unknown>;
      }
      if (type === "response.output_item.done" && typeof v.output_index === "number") done.set(v.output_index, v.item);
      const event = ev.event ?? type;
      return [{ data, ...(event !== undefined ? { event } : {}) }];
    },
    end: () => (stopped || told ? [] : fail("The model's provider ended the stream before the answer was complete")),
  };
}

export const translator: Translator = {
  client: "responses",
  backend: "openai",
  request: (body, c) => ({ path: RESPONSES_PATH, body: { ...body, model: c.upstreamModel } }),
  response: (upstream, c) => ({ data: renamed(upstream, c) }),
  stream,
  error(status, body, retryAfter) {
    const v = parseJson(body);
    const own = isObj(v) && isObj(v.error) && typeof v.error.message === "string";
    return {
      status,
      body: own ? v : errorBody("responses", status, upstreamErrorMessage(status, body)),
      ...(retryAfter !== undefined ? { retryAfter } : {}),
    };
  },
};
