// bench:a2a's upstream agent, a child process of the bench (its CPU counted apart): an A2A v1.0
// agent made with @a2a-js/sdk's own server classes on express, as gateway/test/a2a_agents.ts makes
// them, answering each message with a task — SUBMITTED, WORKING, one artifact holding the message's
// text, COMPLETED. Listens on 127.0.0.1:$PORT; stops with its parent (RADIANT_PARENT_PID) or SIGTERM.
import { createServer } from "node:http";
import express from "express";
import { AGENT_CARD_PATH, type AgentCard, TaskState } from "@a2a-js/sdk";
import { AgentEvent, type AgentExecutor, DefaultRequestHandler, type ExecutionEventBus, InMemoryTaskStore, type RequestContext } from "@a2a-js/sdk/server";
import { agentCardHandler, jsonRpcHandler, UserBuilder } from "@a2a-js/sdk/server/express";
import { stopWithParent } from "@radiant/infra/proc";

const now = () => new Date().toISOString();

class EchoExecutor implements AgentExecutor {
  execute = async (ctx: RequestContext, bus: ExecutionEventBus): Promise<void> => {
    const { taskId, contextId } = ctx;
    const message = ctx.userMessage;
    const said = message.parts.map((p) => (p.content?.$case === "text" ? p.content.value : "")).join("");
    // the SDK refuses a run whose first event is not a task or a message
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
    bus.publish(
      AgentEvent.artifactUpdate({
        taskId,
        contextId,
        artifact: {
          artifactId: "answer",
          name: "",
          description: "",
          parts: [{ content: { $case: "text", value: said }, metadata: undefined, filename: "", mediaType: "" }],
          metadata: undefined,
          extensions: [],
        },
        append: false,
        lastChunk: true,
        metadata: undefined,
      }),
    );
    status(TaskState.TASK_STATE_COMPLETED);
    bus.finished();
  };

  cancelTask = async (): Promise<void> => {};
}

function card(jsonRpcUrl: string): AgentCard {
  return {
    name: "bench agent",
    description: "An @a2a-js/sdk agent speaking A2A 1.0: answers each message with a task whose one artifact is the message's text",
    supportedInterfaces: [{ url: jsonRpcUrl, protocolBinding: "JSONRPC", tenant: "", protocolVersion: "1.0" }],
    provider: { organization: "RADIANT bench", url: "https://example.com" },
    version: "1.0.0",
    capabilities: { streaming: true, pushNotifications: false, extensions: [], extendedAgentCard: false },
    securitySchemes: {},
    securityRequirements: [],
    defaultInputModes: ["text"],
    defaultOutputModes: ["text"],
    skills: [
      { id: "echo", name: "Echo", description: "the message back", tags: ["bench"], examples: [], inputModes: [], outputModes: [], securityRequirements: [] },
    ],
    signatures: [],
  };
}

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  process.stderr.write("[a2a_agent] PORT must name a port\n");
  process.exit(2);
}
const handler = new DefaultRequestHandler(card(`http://127.0.0.1:${port}/a2a/jsonrpc`), new InMemoryTaskStore(), new EchoExecutor());
const app = express();
app.use(`/${AGENT_CARD_PATH}`, agentCardHandler({ agentCardProvider: handler }));
app.use("/a2a/jsonrpc", jsonRpcHandler({ requestHandler: handler, userBuilder: UserBuilder.noAuthentication }));
const server = createServer(app);
const stop = () => {
  server.close(() => process.exit(0));
  // keep-alive sockets would hold close() open
  server.closeAllConnections();
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
stopWithParent(stop);
server.listen(port, "127.0.0.1");
