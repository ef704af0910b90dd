// Protocols (and operations) whose real handlers are not written yet answer
// with a clear "not supported yet" in their own wire format.
import type { Operation, Protocol } from "@radiant/wire";
import { errorReplies } from "./errors.js";
import type { Handler } from "./handler.js";

const names: Record<Protocol, string> = {
  mcp: "MCP",
  a2a: "A2A",
  openai: "OpenAI Chat Completions",
  anthropic: "Anthropic Messages",
  google: "Google Generative Language",
};

const opNames: Partial<Record<string, string>> = {
  "openai responses": "The OpenAI Responses API",
  "openai models": "The OpenAI model list",
  "google models": "The Google model list",
};

/** The reply when the table has no handler for (proto, op): the protocol's own "unsupported" error, one per request id. */
export function unsupportedHandler(proto: Protocol, op: Operation): Handler {
  const message = `${opNames[`${proto} ${op}`] ?? names[proto]} is not supported by this gateway yet`;
  return async function* (req) {
    yield* errorReplies(proto, req.body, "unsupported", message);
  };
}
