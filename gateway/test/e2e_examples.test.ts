// Every example users copy (examples/<name>/) runs through a whole stack.
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import t from "tap";
import { startStack } from "./harness.js";

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
