// The protocols the gateway speaks, and the operations of each: what a worker
// dispatches on. JSON-RPC protocols have one operation (the method inside the
// body decides); an LLM API has one per endpoint.
export const PROTOCOLS = ["mcp", "a2a", "openai", "anthropic", "google"] as const;
export type Protocol = (typeof PROTOCOLS)[number];

export function isProtocol(s: unknown): s is Protocol {
  return typeof s === "string" && (PROTOCOLS as readonly string[]).includes(s);
}

export const OPERATIONS = {
  mcp: ["rpc"],
  /** JSON-RPC, and the v1.0 HTTP+JSON binding (its path made a JSON-RPC method by the gateway) */
  a2a: ["rpc", "rest"],
  /** Chat Completions, the Responses API, the model list */
  openai: ["chat", "responses", "models"],
  anthropic: ["messages"],
  /** generateContent, streamGenerateContent, the model list */
  google: ["generate", "stream", "models"],
} as const satisfies Record<Protocol, readonly string[]>;

export type Operation<P extends Protocol = Protocol> = (typeof OPERATIONS)[P][number];

export function isOperation(p: Protocol, op: unknown): op is Operation {
  return typeof op === "string" && (OPERATIONS[p] as readonly string[]).includes(op);
}
