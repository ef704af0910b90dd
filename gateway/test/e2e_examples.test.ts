// Every example users copy (examples/<name>/) runs through a whole stack.
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import t from "tap";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { SendMessageRequest, type Task, TaskState } from "@a2a-js/sdk";
import { ClientFactory } from "@a2a-js/sdk/client";
import { startSdkAgent } from "./a2a_agents.js";
import { eventually, startStack } from "./harness.js";
import { connectSdk, EVERYTHING } from "./mcp_upstreams.js";

const models = fileURLToPath(new URL("../../examples/models/models.json", import.meta.url));

t.test("examples/models: the names are served, routed, and a missing key is named", async (t) => {
  // the keys are unset on purpose: nothing here may reach a real provider
  const stack = await startStack(t, { env: { RADIANT_MODELS: models, OPENAI_API_KEY: "", ANTHROPIC_API_KEY: "", GEMINI_API_KEY: "" } });
  const base = stack.wsUrl.replace(/^ws/, "http").replace(/\/ws$/, "");
  const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: "x", maxRetries: 0 });
  const ids: string[] = [];
  for await (const m of openai.models.list()) ids.push(m.id);
  for (const name of ["fast", "smart", "cheap", "echo-openai"]) t.ok(ids.includes(name), `${name} is listed`);
  const e = await openai.chat.completions.create({ model: "fast", messages: [{ role: "user", content: "hi" }] }).catch((err: unknown) => err);
  t.ok(e instanceof OpenAI.AuthenticationError, "401 from the egress proxy");
  t.match((e as Error).message, /ANTHROPIC_API_KEY/);
  const local = await openai.chat.completions.create({ model: "local-llama", messages: [{ role: "user", content: "hi" }] }).catch((err: unknown) => err);
  t.ok(local instanceof OpenAI.APIError && [502, 503, 504].includes(local.status ?? 0), "local-* routes to its (absent) server: unreachable, said so");
});

t.test("examples/mcp: two servers behind one, over /mcp and /ws", async (t) => {
  const config = fileURLToPath(new URL("../../examples/mcp/mcp.json", import.meta.url));
  // npx would download server-everything: this one runs the copy the tests installed, of the version the example names
  const bin = mkdtempSync(join(tmpdir(), "radiant-npx-"));
  writeFileSync(
    join(bin, "npx"),
    `#!/bin/sh\n[ "$1" = "-y" ] && [ "$2" = "@modelcontextprotocol/server-everything@2026.8.31" ] || { echo "unexpected: npx $*" >&2; exit 1; }\nexec "${process.execPath}" "${EVERYTHING}" stdio\n`,
  );
  chmodSync(join(bin, "npx"), 0o755);
  const stack = await startStack(t, { env: { RADIANT_MCP_CONFIG: config, PATH: `${bin}${delimiter}${process.env.PATH}` } });
  for (const over of ["mcp", "ws"] as const) {
    const { client } = await connectSdk(stack, over);
    const names = (await client.listTools()).tools.map((x) => x.name);
    t.ok(names.includes("everything_echo") && names.includes("demo_add"), `${over}: both servers' tools`);
    const r = (await client.callTool({ name: "everything_echo", arguments: { message: "hi" } })) as { content: { text: string }[] };
    t.equal(r.content[0]?.text, "Echo: hi", `${over}: server-everything answers`);
    const sum = (await client.callTool({ name: "demo_add", arguments: { a: 1, b: 2 } })) as { content: { text: string }[] };
    t.equal(sum.content[0]?.text, "3", `${over}: the demo answers`);
    await client.close();
  }
});

t.test("examples/a2a: an agent behind the gateway, the default one, its header sent on", async (t) => {
  const example = JSON.parse(readFileSync(fileURLToPath(new URL("../../examples/a2a/a2a.json", import.meta.url)), "utf8")) as {
    agents: Record<string, { url: string; headers: Record<string, string> }>;
  };
  const agent = await startSdkAgent(t, { version: "1.0", name: "helpdesk" });
  // the example as written, but for where its agent listens
  const config = join(mkdtempSync(join(tmpdir(), "radiant-a2a-example-")), "a2a.json");
  writeFileSync(config, JSON.stringify({ ...example, agents: { helpdesk: { ...example.agents.helpdesk, url: agent.baseUrl } } }));
  const stack = await startStack(t, { env: { RADIANT_A2A_CONFIG: config } });
  const base = stack.wsUrl.replace(/^ws/, "http").replace(/\/ws$/, "");
  await eventually("the agent's card fetched", async () => (await fetch(`${base}/.well-known/agent-card.json`, { headers: { "A2A-Version": "1.0" } })).ok);
  const client = await new ClientFactory().createFromUrl(`${base}/`);
  const r = (await client.sendMessage(
    SendMessageRequest.fromJSON({ message: { messageId: "ex-1", role: "ROLE_USER", parts: [{ text: "help me" }] } }),
  )) as Task;
  t.equal(r.status?.state, TaskState.TASK_STATE_COMPLETED, "the root card leads to helpdesk, and it answers");
  t.equal(agent.authorizations.at(-1), "Bearer change-me", "the configured header reached the agent");
  t.ok((await fetch(`${base}/a2a/echo/.well-known/agent-card.json`)).ok, "echo is still there");
});
