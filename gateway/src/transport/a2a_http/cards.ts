// Agent cards as the A2A clients read them: the v1.0 card (`supportedInterfaces`)
// for a client that says `A2A-Version: 1.x`, the v0.3 card (`url`,
// `preferredTransport`) for one that says 0.x or nothing — and always at the
// older `agent.json`. Every URL in a card is the gateway's own, as the client
// reached it (its Host).

/** An agent the gateway serves: its name in `/a2a/<name>` and what its card says of it. */
export interface AgentInfo {
  name: string;
  description: string;
  skills: { id: string; name: string; description: string; tags: string[] }[];
}

const HOST_RE = /^[A-Za-z0-9.-]{1,253}(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](?::\d{1,5})?$/;

/** The gateway's base URL as this client reached it (a Host that is not a host name gets `localhost`). */
export function baseUrlOf(host: string, secure = false): string {
  return `${secure ? "https" : "http"}://${HOST_RE.test(host) ? host : "localhost"}`;
}

/** Which card a request for `agent-card.json` gets: v1.0 for `A2A-Version: 1.x`, else v0.3 (as the SDK's own server does). */
export function wantsV1(versionHeader: string): boolean {
  return /^1(\.|$)/.test(versionHeader.trim());
}

export function cardV1(a: AgentInfo, base: string): Record<string, unknown> {
  return {
    name: a.name,
    description: a.description,
    version: "1.0.0",
    supportedInterfaces: [{ url: `${base}/a2a/${a.name}`, protocolBinding: "JSONRPC", protocolVersion: "1.0" }],
    provider: { organization: "RADIANT", url: base },
    capabilities: { streaming: true, pushNotifications: false, extendedAgentCard: false },
    securitySchemes: {},
    securityRequirements: [],
    defaultInputModes: ["text/plain"],
    defaultOutputModes: ["text/plain"],
    skills: a.skills,
  };
}

export function cardV03(a: AgentInfo, base: string): Record<string, unknown> {
  return {
    name: a.name,
    description: a.description,
    version: "1.0.0",
    url: `${base}/a2a/${a.name}`,
    preferredTransport: "JSONRPC",
    protocolVersion: "0.3.0",
    provider: { organization: "RADIANT", url: base },
    capabilities: { streaming: true, pushNotifications: false },
    defaultInputModes: ["text/plain"],
    defaultOutputModes: ["text/plain"],
    skills: a.skills,
    supportsAuthenticatedExtendedCard: false,
  };
}
