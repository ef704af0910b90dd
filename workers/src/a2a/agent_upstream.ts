// An A2A agent behind the gateway (RADIANT_A2A_CONFIG): its card read for where
// and in which version it speaks JSON-RPC, a message sent on (translated to
// its version) and its answer read back event by event, whichever version it
// speaks. What the client sees is RADIANT's task, in the client's version.
import type { A2aAgentConfig } from "@radiant/infra/a2a-agents";
import { fetchAgentCard } from "@radiant/infra/a2a-agents";
import { RpcError, rpcErrors } from "../reply.js";
import { SseParser } from "../llm/sse_parse.js";
import { type Message, messageOut, readUpstreamResult, type UpstreamResult, type Version } from "./shapes.js";

/** Where an agent takes JSON-RPC, in which version, and whether it streams. */
export interface Endpoint {
  agent: string;
  url: string;
  version: Version;
  streaming: boolean;
  headers: Record<string, string>;
}

const CARD_TTL_MS = 60_000;
const FETCH_TIMEOUT_MS = 10_000;
/** the largest non-streamed answer read from an agent */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

type Obj = Record<string, unknown>;

/** The card's JSON-RPC interface, v1.0 preferred: `supportedInterfaces` (v1.0), else `url` + `preferredTransport` (v0.3). */
export function endpointOf(card: Obj, agent: A2aAgentConfig): Endpoint | undefined {
  const endpoint = interfaceOf(card, agent);
  // the agent's credential (its headers) goes where the card says: only to the origin the config names
  if (!endpoint || !sameOrigin(endpoint.url, agent.url)) return undefined;
  return endpoint;
}

function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

function interfaceOf(card: Obj, agent: A2aAgentConfig): Endpoint | undefined {
  const streaming = (card.capabilities as Obj | undefined)?.streaming === true;
  const base = { agent: agent.name, streaming, headers: agent.headers };
  const ifaces = Array.isArray(card.supportedInterfaces) ? (card.supportedInterfaces as Obj[]) : [];
  const rpc = ifaces.filter((i) => typeof i?.url === "string" && String(i.protocolBinding).toUpperCase() === "JSONRPC");
  const v1 = rpc.find((i) => i.protocolVersion === "1.0" || i.protocolVersion === undefined);
  if (v1) return { ...base, url: v1.url as string, version: "1.0" };
  const v03 = rpc.find((i) => typeof i.protocolVersion === "string" && i.protocolVersion.startsWith("0.3"));
  if (v03) return { ...base, url: v03.url as string, version: "0.3" };
  if (typeof card.url === "string" && (card.preferredTransport === undefined || String(card.preferredTransport).toUpperCase() === "JSONRPC"))
    return { ...base, url: card.url, version: "0.3" };
  return undefined;
}

const unavailable = (agent: string, why: string) => new RpcError(rpcErrors.internal, `Agent '${agent}' is unavailable: ${why}`, { agent });

export class UpstreamAgents {
  private readonly byName: Map<string, A2aAgentConfig>;
  private readonly cards = new Map<string, { endpoint: Endpoint; until: number }>();

  constructor(agents: readonly A2aAgentConfig[]) {
    this.byName = new Map(agents.map((a) => [a.name, a]));
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The agent's endpoint, from its card (read again after a minute). */
  async endpoint(name: string): Promise<Endpoint> {
    const cfg = this.byName.get(name);
    if (!cfg) throw new RpcError(-32004, `No agent ${name} here`);
    const have = this.cards.get(name);
    if (have && Date.now() < have.until) return have.endpoint;
    let card: Obj;
    try {
      card = await fetchAgentCard(cfg, FETCH_TIMEOUT_MS);
    } catch (e) {
      throw unavailable(name, (e as Error).message);
    }
    const endpoint = endpointOf(card, cfg);
    if (!endpoint) throw unavailable(name, "its card names no JSON-RPC interface at the configured URL's origin");
    this.cards.set(name, { endpoint, until: Date.now() + CARD_TTL_MS });
    return endpoint;
  }
}

/** A JSON-RPC request to the agent; the open response (its body not read yet). */
async function post(e: Endpoint, method: string, params: Obj, stream: boolean, signal?: AbortSignal): Promise<Response> {
  let r: Response;
  try {
    r = await fetch(e.url, {
      method: "POST",
      headers: { ...e.headers, "Content-Type": "application/json", Accept: stream ? "text/event-stream" : "application/json", "A2A-Version": e.version },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
      redirect: "error",
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    throw unavailable(e.agent, (err as Error).message);
  }
  if (!r.ok && !(r.headers.get("content-type") ?? "").includes("json")) throw unavailable(e.agent, `it answered ${r.status}`);
  return r;
}

/** A JSON-RPC answer's result, or its error as the client's error (the agent's own code and message). */
function resultOf(e: Endpoint, v: unknown): unknown {
  const o = v as { result?: unknown; error?: { code?: unknown; message?: unknown; data?: unknown } } | null;
  if (o?.error) {
    const code = typeof o.error.code === "number" ? o.error.code : rpcErrors.internal;
    throw new RpcError(code, typeof o.error.message === "string" ? o.error.message : `Agent '${e.agent}' failed`, { agent: e.agent });
  }
  if (o?.result === undefined) throw unavailable(e.agent, "its answer is not a JSON-RPC response");
  return o.result;
}

async function bodyJson(e: Endpoint, r: Response): Promise<unknown> {
  const text = await r.text();
  if (text.length > MAX_BODY_BYTES) throw unavailable(e.agent, "its answer is too large");
  try {
    return JSON.parse(text);
  } catch {
    throw unavailable(e.agent, "its answer is not JSON");
  }
}

/**
 * Send a message: the agent's answers, event by event (its stream, or its one answer when it does not
 * stream). The response is opened before the first event is asked for: an agent that cannot be
 * reached is an error here, before any task is made.
 */
export async function sendUpstream(e: Endpoint, m: Message, signal: AbortSignal): Promise<AsyncIterable<UpstreamResult>> {
  const v1 = e.version === "1.0";
  const message = messageOut(m, e.version);
  const params: Obj = v1 ? { message, configuration: {} } : { message, configuration: { blocking: true, acceptedOutputModes: [] } };
  const method = e.streaming ? (v1 ? "SendStreamingMessage" : "message/stream") : v1 ? "SendMessage" : "message/send";
  const r = await post(e, method, params, e.streaming, signal);
  const type = r.headers.get("content-type") ?? "";
  if (!type.startsWith("text/event-stream")) {
    // one answer (or the agent's refusal before any stream)
    const result = readUpstreamResult(resultOf(e, await bodyJson(e, r)));
    if (!result) throw unavailable(e.agent, "its answer is neither a task nor a message");
    return (async function* () {
      yield result;
    })();
  }
  return (async function* () {
    const parser = new SseParser();
    const reader = r.body!.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      const events = done ? parser.end() : parser.push(value);
      for (const ev of events) {
        let json: unknown;
        try {
          json = JSON.parse(ev.data);
        } catch {
          continue; // not an event of A2A's
        }
        const result = readUpstreamResult(resultOf(e, json));
        if (result) yield result;
      }
      if (done) return;
    }
  })();
}

/** Cancel a task at the agent; its answer (the task) as read back. */
export async function cancelUpstream(e: Endpoint, upstreamId: string): Promise<UpstreamResult | undefined> {
  const r = await post(e, e.version === "1.0" ? "CancelTask" : "tasks/cancel", { id: upstreamId }, false, AbortSignal.timeout(FETCH_TIMEOUT_MS));
  return readUpstreamResult(resultOf(e, await bodyJson(e, r)));
}
