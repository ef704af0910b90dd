// Protocols whose real handlers are not written yet answer with a clear
// "not supported yet" in their own wire format.
import type { Protocol } from "@radiant/infra/wire";
import { protocolError } from "./errors.js";
import type { Handler } from "./handler.js";

const names: Record<Exclude<Protocol, "mcp">, string> = {
  a2a: "A2A",
  openai: "OpenAI Chat Completions",
  anthropic: "Anthropic Messages",
  google: "Google Generative Language",
};

export function unsupportedHandler(p: Exclude<Protocol, "mcp">): Handler {
  const message = `${names[p]} is not supported by this gateway yet`;
  return async function* (body) {
    yield protocolError(p, "unsupported", message, body);
  };
}
