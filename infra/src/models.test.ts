import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { ConfigError } from "./env.js";
import { loadModelTable, ModelTable } from "./models.js";

t.test("defaults route the public families; a file adds and overrides, exact names before prefixes", async (t) => {
  const d = new ModelTable();
  t.match(d.resolve("gpt-4o"), { format: "openai", baseUrl: "https://api.openai.com", keyEnv: "OPENAI_API_KEY", upstreamModel: "gpt-4o" });
  t.match(d.resolve("o3-mini"), { format: "openai" });
  t.match(d.resolve("claude-sonnet-4-5"), { format: "anthropic", keyEnv: "ANTHROPIC_API_KEY" });
  t.match(d.resolve("gemini-2.0-flash"), { format: "google", keyEnv: "GEMINI_API_KEY" });
  t.equal(d.resolve("llama"), undefined);
  const dir = mkdtempSync(join(tmpdir(), "models-"));
  const file = join(dir, "m.json");
  writeFileSync(
    file,
    JSON.stringify({
      models: [
        { match: "gpt-*", format: "anthropic", baseUrl: "https://proxy.example/", keyEnv: "MY_KEY" },
        { match: "gpt-4o", format: "google", baseUrl: "https://g.example", model: "gemini-x", keyEnv: null },
      ],
    }),
  );
  const m = loadModelTable({ RADIANT_MODELS: file });
  t.match(m.resolve("gpt-4o"), { format: "google", upstreamModel: "gemini-x", keyEnv: null }, "an exact name wins");
  t.match(m.resolve("gpt-5"), { format: "anthropic", baseUrl: "https://proxy.example", keyEnv: "MY_KEY" }, "the file's prefix overrides the default");
  t.same(m.names(), [{ name: "gpt-4o", format: "google" }]);
});

t.test("names that could reach a URL or a header unchecked are refused", async (t) => {
  const d = new ModelTable();
  for (const bad of ["", "gpt-4o\n", "gpt-4o x", "gpt/../x", "gpt-4o?key=1", "*", `gpt-${"x".repeat(200)}`])
    t.equal(d.resolve(bad), undefined, JSON.stringify(bad));
});

t.test("a bad models file stops the process with a line naming the entry", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "models-"));
  const cases: [unknown, RegExp][] = [
    [{ models: [{ match: "x", format: "bedrock", baseUrl: "https://a", keyEnv: null }] }, /format/],
    [{ models: [{ match: "x", format: "openai", baseUrl: "ftp://a", keyEnv: null }] }, /baseUrl/],
    [{ models: [{ match: "x", format: "openai", baseUrl: "https://a" }] }, /keyEnv/],
    [{ models: [{ match: "x", format: "openai", baseUrl: "https://a", keyEnv: "lower case" }] }, /keyEnv/],
    [{ models: [{ match: "a b", format: "openai", baseUrl: "https://a", keyEnv: null }] }, /match/],
    [{ nope: 1 }, /array/],
  ];
  for (const [v, why] of cases) {
    const file = join(dir, "bad.json");
    writeFileSync(file, JSON.stringify(v));
    let err: unknown;
    try {
      loadModelTable({ RADIANT_MODELS: file });
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof ConfigError, "a configuration error");
    t.match((err as Error).message, why);
  }
  t.throws(() => loadModelTable({ RADIANT_MODELS: join(dir, "missing.json") }), /cannot read/);
});
