// A2A agents on the client port: `POST /a2a/<name>` (JSON-RPC; a stream
// answered as server-sent events, one JSON-RPC response per event), its card
// at `/a2a/<name>/.well-known/agent-card.json` (and the older `agent.json`),
// and the default agent's at the root's `/.well-known/…`. Each request is a
// plain HTTP request on a session of its own, as the provider endpoints' are
// (llm_http/post.ts): stored, resumable with Radiant-Resume-Token +
// Last-Event-ID. See this folder's README.
import type { HttpRequest } from "uWebSockets.js";
import { BUILTIN_AGENT } from "@radiant/infra/a2a-agents";
import type { Exchange, HttpRoute } from "../http.js";
import { type Endpoint, errorBodyOf, type LlmHttp, llmRequest } from "../llm_http/post.js";
import type { AgentCards } from "./agent_cards.js";
import { restCall } from "./rest.js";
import { agentCard, baseUrlOf, ECHO_CARD, wantsV1 } from "./cards.js";

const a2aError = errorBodyOf("a2a");
/** A2A's clients ignore `id:` lines: events carry them, for a resume with Last-Event-ID */
const SSE_IDS = { ids: true, done: false };
const CARD_V1 = "/.well-known/agent-card.json";
/** an agent's card, and nothing else under /a2a/: what a client without a credential may read */
const PUBLIC_CARD = /^\/a2a\/[^/]+\/\.well-known\/agent(?:-card)?\.json$/;
const CARD_V03 = "/.well-known/agent.json";

/** The agents served: the built-in `echo`, those behind the gateway (their cards fetched), and the default one. */
export interface AgentDirectory {
  names: readonly string[];
  defaultAgent: string;
  cards?: Pick<AgentCards, "card">;
}

export function a2aHttpRoutes(c: LlmHttp, dir: AgentDirectory = { names: [BUILTIN_AGENT], defaultAgent: BUILTIN_AGENT }): HttpRoute[] {
  const known = new Set(dir.names);
  const sourceOf = (name: string) => (name === BUILTIN_AGENT ? ECHO_CARD : dir.cards?.card(name));

  const card = (x: Exchange, req: HttpRequest, name: string, v1: boolean) => {
    const source = sourceOf(name);
    if (!source) return x.fail("503 Service Unavailable", `The card of agent '${name}' has not been fetched yet: retry`, { headers: [["Retry-After", "5"]] });
    const base = baseUrlOf(req.getHeader("host"));
    x.reply("200 OK", JSON.stringify(agentCard(source, `${base}/a2a/${name}`, base, v1)), { type: "application/json", headers: [["Vary", "A2A-Version"]] });
  };
  /** `/a2a/<name>` and what follows it */
  const agentPath = (x: Exchange, url: string): { name: string; rest: string } | undefined => {
    const rest = url.slice("/a2a/".length);
    const slash = rest.indexOf("/");
    const name = slash < 0 ? rest : rest.slice(0, slash);
    if (!known.has(name)) {
      x.fail("404 Not Found", `No agent ${JSON.stringify(name.slice(0, 64))} here (agents: ${[...known].join(", ")})`);
      return undefined;
    }
    return { name, rest: slash < 0 ? "" : rest.slice(slash) };
  };

  /** The v1.0 HTTP+JSON binding (rest.ts): the call its path makes, or 404. */
  const rest = (x: Exchange, req: HttpRequest, method: string, at: { name: string; rest: string }) => {
    const call = restCall(method, at.rest, req);
    if (!call)
      return x.fail(
        "404 Not Found",
        `Not found: ${method.toUpperCase()} /a2a/${at.name}${at.rest.slice(0, 200)} (JSON-RPC at /a2a/${at.name}, HTTP+JSON at its v1.0 paths)`,
      );
    const e: Endpoint = { proto: "a2a", op: "rest", style: SSE_IDS, target: at.name };
    llmRequest(c, x, req, e, call.body, call.bodyless);
  };

  return [
    {
      path: "/a2a/*",
      protocol: "a2a",
      methods: {
        post: (x, req) => {
          const at = agentPath(x, req.getUrl());
          if (!at) return;
          if (at.rest === "" || at.rest === "/") return llmRequest(c, x, req, { proto: "a2a", op: "rpc", style: SSE_IDS, target: at.name });
          rest(x, req, "post", at);
        },
        get: (x, req) => {
          const at = agentPath(x, req.getUrl());
          if (!at) return;
          if (at.rest === CARD_V1) return card(x, req, at.name, wantsV1(req.getHeader("a2a-version")));
          if (at.rest === CARD_V03) return card(x, req, at.name, false);
          rest(x, req, "get", at);
        },
        delete: (x, req) => {
          const at = agentPath(x, req.getUrl());
          if (at) rest(x, req, "delete", at);
        },
      },
      errorBody: a2aError,
      public: (method, url) => method === "get" && PUBLIC_CARD.test(url),
    },
    {
      path: CARD_V1,
      protocol: "a2a",
      methods: { get: (x, req) => card(x, req, dir.defaultAgent, wantsV1(req.getHeader("a2a-version"))) },
      errorBody: a2aError,
      public: () => true,
    },
    { path: CARD_V03, protocol: "a2a", methods: { get: (x, req) => card(x, req, dir.defaultAgent, false) }, errorBody: a2aError, public: () => true },
  ];
}
