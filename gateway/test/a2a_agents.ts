// Real A2A agents for the gateway's tests, built from @a2a-js/sdk's own server
// classes (not hand-written wire), so the gateway is tested against what an
// agent made with the official SDK actually sends and accepts, in A2A v1.0 or
// v0.3. Each one records the JSON-RPC calls it gets and counts its cancels.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import express, { type NextFunction, type Request, type Response } from "express";
import { AGENT_CARD_PATH, type AgentCard, type Part, type StreamResponse, TaskState } from "@a2a-js/sdk";
import { ClientFactory, ClientFactoryOptions, DefaultAgentCardResolver, JsonRpcTransportFactory } from "@a2a-js/sdk/client";
import { AgentEvent, type AgentExecutor, DefaultRequestHandler, type ExecutionEventBus, InMemoryTaskStore, type RequestContext } from "@a2a-js/sdk/server";
import { agentCardHandler, jsonRpcHandler, UserBuilder } from "@a2a-js/sdk/server/express";

export interface SdkAgent {
  /** e.g. http://127.0.0.1:PORT/ (with the trailing slash, so the SDK client finds the card under it) */
  baseUrl: string;
  /** the card's full URL */
  cardUrl: string;
  jsonRpcUrl: string;
  /** every JSON-RPC request the agent got: its method and its A2A-Version header ("" when none) */
  received: { method: string; version: string }[];
  /** the Authorization header of each JSON-RPC request ("" when none) */
  authorizations: string[];
  /** how many times the SDK asked the executor to cancel a task */
  cancels: number;
  stop(): Promise<void>;
}

const now = () => new Date().toISOString();
const text = (value: string): Part => ({ content: { $case: "text", value }, metadata: undefined, filename: "", mediaType: "" });

/**
 * Answers with the message's text, one artifact chunk per word, so a test can
 * tell from the joined artifact that every chunk arrived once and in order. A
 * message with the word "wait" stays WORKING until it is cancelled, so a test
 * can cancel (or resubscribe to) a task that is really running.
 */
class WordsExecutor implements AgentExecutor {
  private readonly waiting = new Map<string, () => void>();
  constructor(private readonly onCancel: () => void) {}

  execute = async (ctx: RequestContext, bus: ExecutionEventBus): Promise<void> => {
    const { taskId, contextId } = ctx;
    const message = ctx.userMessage;
    const said = message.parts.map((p) => (p.content?.$case === "text" ? p.content.value : "")).join("");
    // The SDK refuses a run whose first event is not a task or a message, follow-up turns included.
    bus.publish(
      AgentEvent.task({
        id: taskId,
        contextId,
        status: { state: TaskState.TASK_STATE_SUBMITTED, message: undefined, timestamp: now() },
        artifacts: [],
        history: [message],
        metadata: undefined,
      }),
    );
    const status = (state: TaskState) =>
      bus.publish(AgentEvent.statusUpdate({ taskId, contextId, status: { state, message: undefined, timestamp: now() }, metadata: undefined }));
    status(TaskState.TASK_STATE_WORKING);
    if (/\bwait\b/.test(said)) {
      await new Promise<void>((resolve) => this.waiting.set(taskId, resolve));
      this.waiting.delete(taskId);
      status(TaskState.TASK_STATE_CANCELED);
      bus.finished();
      return;
    }
    const words = said.split(" ");
    for (const [i, word] of words.entries()) {
      bus.publish(
        AgentEvent.artifactUpdate({
          taskId,
          contextId,
          artifact: { artifactId: "answer", name: "", description: "", parts: [text(word)], metadata: undefined, extensions: [] },
          append: i > 0,
          lastChunk: i === words.length - 1,
          metadata: undefined,
        }),
      );
    }
    status(TaskState.TASK_STATE_COMPLETED);
    bus.finished();
  };

  // The SDK's CancelTask waits on this task's bus for CANCELED, which the blocked execute() publishes once released.
  cancelTask = async (taskId: string): Promise<void> => {
    this.onCancel();
    this.waiting.get(taskId)?.();
  };
}

function card(name: string, jsonRpcUrl: string, version: "1.0" | "0.3"): AgentCard {
  return {
    name,
    description: `An @a2a-js/sdk agent speaking A2A ${version}: answers with the words of the message, or waits to be cancelled`,
    // Only the one version: the SDK server refuses (-32009) any A2A-Version not listed here, and the
    // legacyCompat client speaks v0.3 only when no interface says "1.0".
    supportedInterfaces: [{ url: jsonRpcUrl, protocolBinding: "JSONRPC", tenant: "", protocolVersion: version }],
    provider: { organization: "RADIANT tests", url: "https://example.com" },
    version: "1.0.0",
    capabilities: { streaming: true, pushNotifications: false, extensions: [], extendedAgentCard: false },
    securitySchemes: {},
    securityRequirements: [],
    defaultInputModes: ["text"],
    defaultOutputModes: ["text"],
    skills: [
      {
        id: "words",
        name: "Words",
        description: "the message back, word by word",
        tags: ["test"],
        examples: [],
        inputModes: [],
        outputModes: [],
        securityRequirements: [],
      },
    ],
    signatures: [],
  };
}

/**
 * An SDK agent on 127.0.0.1 (a free port), stopped at the test's teardown.
 * "1.0": a v1.0 card, v1.0 JSON-RPC only. "0.3": the SDK's legacy
 * compatibility on, so it serves v0.3 method names and shapes, and a v1.0-style
 * card whose only interface is JSON-RPC v0.3, not a pure v0.3 card: that is
 * what an SDK agent that speaks only v0.3 serves, and it is enough for the
 * SDK's legacyCompat client to speak v0.3. Asked without A2A-Version (or with
 * 0.3) the SDK sends it as its v0.3 "hybrid" card: `url`,
 * `preferredTransport`, `protocolVersion` "0.3" beside that supportedInterfaces.
 */
export async function startSdkAgent(t: { teardown(f: () => unknown): void }, o: { version: "1.0" | "0.3"; name?: string }): Promise<SdkAgent> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}/`;
  const agent: SdkAgent = {
    baseUrl,
    cardUrl: `${baseUrl}${AGENT_CARD_PATH}`,
    jsonRpcUrl: `${baseUrl}a2a/jsonrpc`,
    received: [],
    authorizations: [],
    cancels: 0,
    stop: async () => {},
  };

  const legacyCompat = { enabled: o.version === "0.3" };
  const handler = new DefaultRequestHandler(
    card(o.name ?? `SDK agent ${o.version}`, agent.jsonRpcUrl, o.version),
    new InMemoryTaskStore(),
    new WordsExecutor(() => agent.cancels++),
  );
  const record = (req: Request, _res: Response, next: NextFunction) => {
    const method = (req.body as { method?: unknown } | undefined)?.method;
    if (typeof method === "string") {
      agent.received.push({ method, version: req.header("A2A-Version") ?? "" });
      agent.authorizations.push(req.header("Authorization") ?? "");
    }
    next();
  };
  // Parsed here so it can be recorded; the SDK's own express.json() then finds the request already read
  // and leaves req.body as it is. Bad JSON fails in this parser, before the SDK's, so it gets the SDK's answer here.
  const parseError = (err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (!(err instanceof SyntaxError)) return next(err);
    res.json({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "Invalid JSON payload." } });
  };
  const app = express();
  app.use(`/${AGENT_CARD_PATH}`, agentCardHandler({ agentCardProvider: handler, legacyCompat }));
  app.use(
    "/a2a/jsonrpc",
    express.json(),
    parseError,
    record,
    jsonRpcHandler({ requestHandler: handler, userBuilder: UserBuilder.noAuthentication, legacyCompat }),
  );
  server.on("request", app);

  let stopped: Promise<void> | undefined;
  agent.stop = () =>
    (stopped ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Keep-alive sockets and open SSE streams would hold close() (and the test) open.
      server.closeAllConnections();
    }));
  t.teardown(agent.stop);
  return agent;
}

// ---- the client side the A2A tests share ---------------------------------------------------

/** An event as the tests count it: its kind, and its state or its text. */
export function label(ev: StreamResponse): string {
  const p = ev.payload;
  if (p?.$case === "task") return `task:${p.value.status?.state}`;
  if (p?.$case === "statusUpdate") return `status:${p.value.status?.state}`;
  if (p?.$case === "artifactUpdate") return `artifact:${p.value.artifact?.parts.map((x) => (x.content?.$case === "text" ? x.content.value : "")).join("")}`;
  return `other:${p?.$case}`;
}

/** @a2a-js/sdk's client in `legacyCompat`: it speaks v0.3 to a v0.3 card. */
export function legacyClientFactory(): ClientFactory {
  return new ClientFactory(
    ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
      cardResolver: new DefaultAgentCardResolver({ legacyCompat: { enabled: true } }),
      transports: [new JsonRpcTransportFactory({ legacyCompat: { enabled: true } })],
    }),
  );
}
