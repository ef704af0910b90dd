// The A2A agents config (RADIANT_A2A_CONFIG): what it accepts, and that
// everything else is refused with a ConfigError naming the variable.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { cardUrlOf, loadA2aConfig, parseA2aConfig } from "./a2a_agents.js";
import { ConfigError } from "./env.js";

t.test("agents in file order, headers kept, the default echo unless named", async (t) => {
  const c = parseA2aConfig({ agents: { b: { url: "http://h:1/x/", headers: { Authorization: "Bearer k" } }, a: { url: "https://h/card.json" } } });
  t.same(
    c.agents.map((a) => [a.name, a.url, a.headers]),
    [
      ["b", "http://h:1/x/", { Authorization: "Bearer k" }],
      ["a", "https://h/card.json", {}],
    ],
  );
  t.equal(c.defaultAgent, "echo");
  t.equal(parseA2aConfig({ agents: { a: { url: "http://h/" } }, default: "a" }).defaultAgent, "a");
  t.same(loadA2aConfig({}), { agents: [], defaultAgent: "echo" }, "unset: echo alone");
});

t.test("refusals name the variable", async (t) => {
  const bad: [unknown, RegExp][] = [
    [null, /an A2A config is/],
    [{ agents: [] }, /an A2A config is/],
    [{ agents: { "1a": { url: "http://h/" } } }, /a letter/],
    [{ agents: { "a.b": { url: "http://h/" } } }, /a letter/],
    [{ agents: { echo: { url: "http://h/" } } }, /built-in/],
    [{ agents: { a: {} } }, /url must be a string/],
    [{ agents: { a: { url: "not a url" } } }, /not a URL/],
    [{ agents: { a: { url: "ftp://h/" } } }, /http\(s\)/],
    [{ agents: { a: { url: "http://h/", headers: { "a b": "x" } } } }, /header name/],
    [{ agents: { a: { url: "http://h/", headers: { A: "x\ny" } } } }, /one-line/],
    [{ agents: { a: { url: "http://h/" } }, default: "zzz" }, /"default" must name an agent/],
  ];
  for (const [doc, re] of bad) {
    let err: unknown;
    try {
      parseA2aConfig(doc);
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof ConfigError && err.variable === "RADIANT_A2A_CONFIG" && re.test(err.message), `${JSON.stringify(doc)}: ${String(err)}`);
  }
  const file = join(mkdtempSync(join(tmpdir(), "a2a-cfg-")), "x.json");
  writeFileSync(file, "{not json");
  t.throws(() => loadA2aConfig({ RADIANT_A2A_CONFIG: file }), /RADIANT_A2A_CONFIG: cannot read/);
});

t.test("cardUrlOf: a card URL as it is, a base URL's well-known card", async (t) => {
  t.equal(cardUrlOf("http://h/x/card.json"), "http://h/x/card.json");
  t.equal(cardUrlOf("http://h/x"), "http://h/x/.well-known/agent-card.json");
  t.equal(cardUrlOf("http://h/x/"), "http://h/x/.well-known/agent-card.json");
  t.equal(cardUrlOf("http://h"), "http://h/.well-known/agent-card.json");
});
