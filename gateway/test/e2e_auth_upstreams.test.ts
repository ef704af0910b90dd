// Outbound, an upstream gets the credential configured for it, never the
// client's: an A2A agent behind RADIANT (made with the official SDK) that is
// configured with its own Authorization header sees only that one, while the
// client calls with a gateway API key — and the task stays the client's
// principal's.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { startSdkAgent } from "./a2a_agents.js";
import { ADMIN_TOKEN, adminClient } from "./admin_client.js";
import { eventually, rpc, startStack } from "./harness.js";
import { request } from "./sse_client.js";

const agent = await startSdkAgent(t, { version: "1.0", name: "guarded" });
const config = join(mkdtempSync(join(tmpdir(), "radiant-a2a-")), "a2a.json");
const AGENT_CREDENTIAL = "Bearer the-agent's-own-credential";
writeFileSync(config, JSON.stringify({ agents: { guarded: { url: agent.baseUrl, headers: { authorization: AGENT_CREDENTIAL } } } }));
const stack = await startStack(t, { env: { RADIANT_A2A_CONFIG: config }, gatewayEnv: { GATEWAY_AUTH_REQUIRED: "true", GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN } });
const base = stack.wsUrl.replace(/^ws/, "http").replace(/\/ws$/, "");
const { key } = await adminClient(stack).newKey({ principal: "carol" });
const { key: other } = await adminClient(stack).newKey({ principal: "dave" });

const call = (k: string, body: unknown) =>
  request(`${base}/a2a/guarded`, {
    method: "POST",
    headers: { authorization: `Bearer ${k}`, "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body),
  });

t.test("the agent sees its configured credential, never the client's key", async (t) => {
  await eventually("the agent's card fetched", async () => (await request(`${base}/a2a/guarded/.well-known/agent-card.json`)).status === 200);
  const sent = await call(
    key,
    rpc(1, "message/send", { message: { kind: "message", role: "user", messageId: "m-up-1", parts: [{ kind: "text", text: "hello upstream" }] } }),
  );
  t.equal(sent.status, 200, sent.body);
  const task = (JSON.parse(sent.body) as { result: { id: string; status: { state: string } } }).result;
  t.ok(task.id, "a task");
  t.ok(agent.authorizations.length > 0, "the agent was called");
  t.ok(
    agent.authorizations.every((a) => a === AGENT_CREDENTIAL),
    `every call carried the agent's own credential (${agent.authorizations.length} calls)`,
  );
  t.notOk(
    agent.authorizations.some((a) => a.includes(key)),
    "the client's key never left the gateway",
  );
  const theirs = await call(other, rpc(2, "tasks/get", { id: task.id }));
  t.match(JSON.parse(theirs.body), { error: { code: -32001 } }, "another principal: no such task");
});
