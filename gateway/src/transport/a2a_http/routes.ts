// A2A agents on the client port: `POST /a2a/<name>` (JSON-RPC; a stream
// answered as server-sent events, one JSON-RPC response per event), its card
// at `/a2a/<name>/.well-known/agent-card.json` (and the older `agent.json`),
// and the default agent's at the root's `/.well-known/…`. Each request is a
// plain HTTP request on a session of its own, as the provider endpoints' are
// (llm_http/post.ts): stored, resumable with Radiant-Resume-Token +
// Last-Event-ID. See this folder's README.
import type { HttpRequest } from "uWebSockets.js";
import type { Exchange, HttpRoute } from "../http.js";
import { type Endpoint, errorBodyOf, type LlmHttp, llmRequest } from "../llm_http/post.js";
import { type AgentInfo, baseUrlOf, cardV03, cardV1, wantsV1 } from "./cards.js";

/** The agent RADIANT itself runs (workers/src/a2a/agent_echo.ts), so `make run` has one. */
export const ECHO_AGENT: AgentInfo = {
  name: "echo",
  description: "Answers every message with a task whose artifact is the message's text, one word per update; `wait <seconds>` stays working that long.",
  skills: [{ id: "echo", name: "Echo", description: "Repeats the message's text back, word by word", tags: ["echo", "test"] }],
};

const a2aError = errorBodyOf("a2a");
const CARD_V1 = "/.well-known/agent-card.json";
const CARD_V03 = "/.well-known/agent.json";

export function a2aHttpRoutes(c: LlmHttp, agents: readonly AgentInfo[] = [ECHO_AGENT], defaultAgent = "echo"): HttpRoute[] {
  const byName = new Map(agents.map((a) => [a.name, a]));

  const card = (x: Exchange, req: HttpRequest, agent: AgentInfo, v1: boolean) => {
    const base = baseUrlOf(req.getHeader("host"));
    x.reply("200 OK", JSON.stringify(v1 ? cardV1(agent, base) : cardV03(agent, base)), { type: "application/json", headers: [["Vary", "A2A-Version"]] });
  };
  /** `/a2a/<name>` and what follows it */
  const agentPath = (x: Exchange, url: string): { agent: AgentInfo; rest: string } | undefined => {
    const rest = url.slice("/a2a/".length);
    const slash = rest.indexOf("/");
    const name = slash < 0 ? rest : rest.slice(0, slash);
    const agent = byName.get(name);
    if (!agent) {
      x.fail("404 Not Found", `No agent ${JSON.stringify(name.slice(0, 64))} here (agents: ${[...byName.keys()].join(", ")})`);
      return undefined;
    }
    return { agent, rest: slash < 0 ? "" : rest.slice(slash) };
  };

  return [
    {
      path: "/a2a/*",
      protocol: "a2a",
      methods: {
        post: (x, req) => {
          const at = agentPath(x, req.getUrl());
          if (!at) return;
          if (at.rest !== "" && at.rest !== "/") return x.fail("404 Not Found", `Not found: POST /a2a/${at.agent.name} takes the agent's JSON-RPC requests`);
          const e: Endpoint = { proto: "a2a", op: "rpc", style: { ids: true, done: false }, target: at.agent.name };
          llmRequest(c, x, req, e);
        },
        get: (x, req) => {
          const at = agentPath(x, req.getUrl());
          if (!at) return;
          if (at.rest === CARD_V1) return card(x, req, at.agent, wantsV1(req.getHeader("a2a-version")));
          if (at.rest === CARD_V03) return card(x, req, at.agent, false);
          x.fail("404 Not Found", `Not found: the agent's card is at /a2a/${at.agent.name}${CARD_V1}`);
        },
      },
      errorBody: a2aError,
    },
    {
      path: CARD_V1,
      protocol: "a2a",
      methods: { get: (x, req) => card(x, req, byName.get(defaultAgent)!, wantsV1(req.getHeader("a2a-version"))) },
      errorBody: a2aError,
    },
    { path: CARD_V03, protocol: "a2a", methods: { get: (x, req) => card(x, req, byName.get(defaultAgent)!, false) }, errorBody: a2aError },
  ];
}
