// Agent cards as the A2A clients read them, every URL in them the gateway's: the
// v1.0 card (`supportedInterfaces`) for a client that says `A2A-Version: 1.x`,
// the v0.3 card (`url`, `preferredTransport`) for one that says 0.x or nothing —
// and always at the older `agent.json`. An agent's own card (the built-in
// echo's, or one behind the gateway, fetched by agent_cards.ts) is the source:
// its name, description, skills and modes pass on; its interfaces, security and
// what the gateway does not do yet (push notifications, an extended card) do not.
type Obj = Record<string, unknown>;

const HOST_RE = /^[A-Za-z0-9.-]{1,253}(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](?::\d{1,5})?$/;

/** The gateway's base URL as this client reached it (a Host that is not a host name gets `localhost`). */
export function baseUrlOf(host: string, secure = false): string {
  return `${secure ? "https" : "http"}://${HOST_RE.test(host) ? host : "localhost"}`;
}

/** Which card a request for `agent-card.json` gets: v1.0 for `A2A-Version: 1.x`, else v0.3 (as the SDK's own server does). */
export function wantsV1(versionHeader: string): boolean {
  return /^1(\.|$)/.test(versionHeader.trim());
}

/** The built-in agent's card, as a source. */
export const ECHO_CARD: Obj = {
  name: "echo",
  description: "Answers every message with a task whose artifact is the message's text, one word per update; `wait <seconds>` stays working that long.",
  version: "1.0.0",
  capabilities: { streaming: true },
  defaultInputModes: ["text/plain"],
  defaultOutputModes: ["text/plain"],
  skills: [{ id: "echo", name: "Echo", description: "Repeats the message's text back, word by word", tags: ["echo", "test"] }],
};

const V1_ONLY = ["supportedInterfaces", "securityRequirements", "signatures"];
const V03_ONLY = ["url", "preferredTransport", "additionalInterfaces", "protocolVersion", "supportsAuthenticatedExtendedCard", "security"];

/** `source` as served at `agentUrl` (the gateway's `/a2a/<name>`), in the card shape a client of `v1` reads. */
export function agentCard(source: Obj, agentUrl: string, base: string, v1: boolean): Obj {
  const out: Obj = {};
  for (const [k, val] of Object.entries(source)) if (!V1_ONLY.includes(k) && !V03_ONLY.includes(k) && k !== "securitySchemes") out[k] = val;
  const caps = typeof source.capabilities === "object" && source.capabilities !== null ? (source.capabilities as Obj) : {};
  // push notifications are RADIANT's (kept with its tasks), whatever the agent does
  out.capabilities = { ...caps, streaming: caps.streaming === true, pushNotifications: true, ...(v1 ? { extendedAgentCard: false } : {}) };
  out.provider ??= { organization: "RADIANT", url: base };
  // a v0.3 client throws on a card without these
  out.defaultInputModes ??= ["text/plain"];
  out.defaultOutputModes ??= ["text/plain"];
  out.skills = Array.isArray(source.skills) ? source.skills.map((s) => ({ tags: [], ...(s as Obj) })) : [];
  if (v1)
    return {
      ...out,
      supportedInterfaces: [
        { url: agentUrl, protocolBinding: "JSONRPC", protocolVersion: "1.0" },
        { url: agentUrl, protocolBinding: "HTTP+JSON", protocolVersion: "1.0" },
      ],
      securitySchemes: {},
      securityRequirements: [],
    };
  return { ...out, url: agentUrl, preferredTransport: "JSONRPC", protocolVersion: "0.3.0", supportsAuthenticatedExtendedCard: false };
}
