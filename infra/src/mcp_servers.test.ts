// The MCP servers config (RADIANT_MCP_CONFIG): what it accepts, what it turns
// it into, and that everything else is refused with a ConfigError naming the
// variable (never a TypeError, never a silent default).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import t, { type Test } from "tap";
import { ConfigError } from "./env.js";
import { DEFAULT_MCP_TIMEOUT_MS, loadMcpServers, parseMcpServers, SERVER_NAME_RE } from "./mcp_servers.js";

const BASE = "/etc/radiant";
const doc = (servers: Record<string, unknown>) => ({ mcpServers: servers });
const http = (extra: Record<string, unknown> = {}) => ({ url: "https://mcp.example.com/mcp", ...extra });
const stdio = (extra: Record<string, unknown> = {}) => ({ command: "npx", ...extra });
/** a document as JSON.parse makes it (own "__proto__" keys, as a file can hold them) */
const fromJson = (s: string): unknown => JSON.parse(s);

/** `f` throws a ConfigError naming RADIANT_MCP_CONFIG whose message matches `why` */
function refuses(t: Test, f: () => unknown, why: RegExp, label: string): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  if (!(err instanceof ConfigError)) {
    t.fail(`${label}: a ConfigError (got ${err === undefined ? "no error" : String(err)})`);
    return;
  }
  t.equal(err.variable, "RADIANT_MCP_CONFIG", `${label}: names the variable`);
  t.match(err.message, /^RADIANT_MCP_CONFIG: /, `${label}: the message starts with the variable`);
  t.match(err.message, why, `${label}: says why`);
}

t.test("http servers: url normalised, headers kept, defaults", async (t) => {
  const out = parseMcpServers(
    doc({
      plain: { url: "https://mcp.example.com" },
      full: {
        url: "http://127.0.0.1:8931/mcp?x=1",
        headers: { Authorization: "Bearer abc def", "X-Api-Key": "k:v=;\"'", "x~odd!#$%&'*+.^_`|": "" },
        timeoutMs: 5000,
      },
    }),
    BASE,
  );
  t.same(out, [
    { kind: "http", name: "plain", timeoutMs: DEFAULT_MCP_TIMEOUT_MS, url: "https://mcp.example.com/", headers: {} },
    {
      kind: "http",
      name: "full",
      timeoutMs: 5000,
      url: "http://127.0.0.1:8931/mcp?x=1",
      headers: { Authorization: "Bearer abc def", "X-Api-Key": "k:v=;\"'", "x~odd!#$%&'*+.^_`|": "" },
    },
  ]);
  t.equal(DEFAULT_MCP_TIMEOUT_MS, 60_000);
  t.notOk("command" in out[0]!, "an http server has no stdio fields");
});

t.test("stdio servers: args, env, cwd resolved against baseDir, defaults", async (t) => {
  const out = parseMcpServers(
    doc({
      bare: { command: "npx" },
      rel: { command: "node", args: ["server.js", "--port", "0", ""], env: { API_KEY: "x y", _under: "", A1: "=" }, cwd: "servers/fs" },
      up: { command: "uvx", cwd: "../other" },
      dot: { command: "uvx", cwd: "." },
      abs: { command: "/usr/bin/srv", cwd: "/srv/mcp" },
    }),
    BASE,
  );
  t.same(out, [
    { kind: "stdio", name: "bare", timeoutMs: 60_000, command: "npx", args: [], env: {} },
    {
      kind: "stdio",
      name: "rel",
      timeoutMs: 60_000,
      command: "node",
      args: ["server.js", "--port", "0", ""],
      env: { API_KEY: "x y", _under: "", A1: "=" },
      cwd: "/etc/radiant/servers/fs",
    },
    { kind: "stdio", name: "up", timeoutMs: 60_000, command: "uvx", args: [], env: {}, cwd: "/etc/other" },
    { kind: "stdio", name: "dot", timeoutMs: 60_000, command: "uvx", args: [], env: {}, cwd: "/etc/radiant" },
    { kind: "stdio", name: "abs", timeoutMs: 60_000, command: "/usr/bin/srv", args: [], env: {}, cwd: "/srv/mcp" },
  ]);
  t.notOk("cwd" in out[0]!, "no cwd member when none is given");
  t.notOk("url" in out[0]!, "a stdio server has no http fields");
  t.equal((parseMcpServers(doc({ a: stdio({ cwd: "x" }) }))[0] as { cwd?: string }).cwd, resolve(process.cwd(), "x"), "baseDir defaults to the process's cwd");
});

t.test("both kinds together, in file order; disabled servers left out", async (t) => {
  const out = parseMcpServers(
    doc({
      zeta: http(),
      alpha: stdio(),
      off: { disabled: true },
      "Mid-2": http({ disabled: false }),
      offBad: { disabled: true, timeoutMs: -1, url: "ftp://x" },
      b: stdio({ timeoutMs: 100 }),
      a: http({ timeoutMs: 3_600_000 }),
    }),
    BASE,
  );
  t.same(
    out.map((s) => [s.name, s.kind, s.timeoutMs]),
    [
      ["zeta", "http", 60_000],
      ["alpha", "stdio", 60_000],
      ["Mid-2", "http", 60_000],
      ["b", "stdio", 100],
      ["a", "http", 3_600_000],
    ],
  );
  t.same(parseMcpServers(doc({}), BASE), [], "no servers: none");
  t.same(parseMcpServers(doc({ only: { disabled: true } }), BASE), [], "every server disabled: none");
});

t.test("members it does not know are ignored (other clients' configs carry them)", async (t) => {
  const out = parseMcpServers(doc({ a: { type: "stdio", command: "x", description: "d", autoApprove: ["t"] }, b: { type: "http", url: "https://h/" } }), BASE);
  t.same(out, [
    { kind: "stdio", name: "a", timeoutMs: 60_000, command: "x", args: [], env: {} },
    { kind: "http", name: "b", timeoutMs: 60_000, url: "https://h/", headers: {} },
  ]);
  t.same(parseMcpServers({ mcpServers: {}, other: 1 }), [], "other top-level members too");
});

t.test("server names: a letter, then letters, digits and '-', 1 to 32", async (t) => {
  const ok = ["a", "A", "a-b", "Z9", "x".repeat(32), "github-2", "a--"];
  for (const name of ok) {
    t.ok(SERVER_NAME_RE.test(name), `${name} matches`);
    t.same(
      parseMcpServers(doc({ [name]: http() }), BASE).map((s) => s.name),
      [name],
      `${JSON.stringify(name)} is a name`,
    );
  }
  const bad = ["", "0", "-", "--", "9a", "a_b", "_a", "a.b", "a b", "a:b", "a/b", "é", "x".repeat(33), "a\n", "*", ">", "__proto__"];
  for (const name of bad) {
    refuses(
      t,
      () => parseMcpServers(fromJson(JSON.stringify(doc({ [name]: http() }))), BASE),
      /a letter, then letters, digits and "-" \(at most 32\)/,
      `name ${JSON.stringify(name)}`,
    );
    refuses(
      t,
      () => parseMcpServers(fromJson(JSON.stringify(doc({ [name]: { disabled: true } }))), BASE),
      /MCP server name/,
      `disabled, name ${JSON.stringify(name)}`,
    );
  }
});

t.test("the document must be {mcpServers: {...}}", async (t) => {
  const bad: unknown[] = [
    null,
    undefined,
    0,
    "x",
    [],
    {},
    { mcpServers: null },
    { mcpServers: [] },
    { mcpServers: [{ url: "https://h" }] },
    { mcpServers: "a" },
    { mcpServers: 1 },
    { servers: {} },
  ];
  for (const d of bad) refuses(t, () => parseMcpServers(d, BASE), /an MCP config is \{"mcpServers"/, `document ${JSON.stringify(d)}`);
});

t.test("a server must be an object with a url or a command", async (t) => {
  for (const raw of [null, [], "https://h", 1, true])
    refuses(t, () => parseMcpServers(doc({ s: raw }), BASE), /mcpServers\.s must be an object/, `server ${JSON.stringify(raw)}`);
  for (const raw of [
    {},
    { command: "" },
    { command: 5 },
    { command: ["node"] },
    { url: 5 },
    { url: null },
    { args: ["x"] },
    { headers: {} },
    { disabled: false },
  ])
    refuses(
      t,
      () => parseMcpServers(doc({ s: raw }), BASE),
      /mcpServers\.s needs a "url" \(Streamable HTTP\) or a "command" \(stdio\)/,
      `server ${JSON.stringify(raw)}`,
    );
});

t.test("timeoutMs: an integer from 100 to 3600000", async (t) => {
  for (const timeoutMs of [99, 0, -1, 3_600_001, 100.5, 1e21, "1000", null, Number.NaN, Number.POSITIVE_INFINITY, true, [1000], {}]) {
    refuses(
      t,
      () => parseMcpServers(doc({ s: http({ timeoutMs }) }), BASE),
      /mcpServers\.s\.timeoutMs must be an integer from 100 to 3600000/,
      `http, timeoutMs ${String(timeoutMs)}`,
    );
    refuses(t, () => parseMcpServers(doc({ s: stdio({ timeoutMs }) }), BASE), /mcpServers\.s\.timeoutMs/, `stdio, timeoutMs ${String(timeoutMs)}`);
  }
});

t.test("url: a URL, http or https", async (t) => {
  for (const url of ["", "not a url", "mcp.example.com/mcp", "//h/x", "http//h"])
    refuses(t, () => parseMcpServers(doc({ s: { url } }), BASE), /mcpServers\.s\.url is not a URL/, `url ${JSON.stringify(url)}`);
  for (const url of ["ftp://h/x", "file:///etc/passwd", "ws://h/mcp", "wss://h/mcp", "javascript:alert(1)", "data:,x", "mailto:a@b"])
    refuses(t, () => parseMcpServers(doc({ s: { url } }), BASE), /mcpServers\.s\.url must be http\(s\)/, `url ${url}`);
  t.same(
    parseMcpServers(doc({ a: { url: "HTTPS://H.example/A b" }, b: { url: "http://u:p@h:80/" } }), BASE).map((s) => (s.kind === "http" ? s.url : "")),
    ["https://h.example/A%20b", "http://u:p@h/"],
    "the URL is kept as the URL parser writes it",
  );
});

t.test("headers: an object of one-line strings with token names", async (t) => {
  for (const headers of [[], "x", 1, null, true, [["a", "b"]]])
    refuses(
      t,
      () => parseMcpServers(doc({ s: http({ headers }) }), BASE),
      /mcpServers\.s\.headers must be an object of strings/,
      `headers ${JSON.stringify(headers)}`,
    );
  for (const [k, v] of [
    ["A", 1],
    ["A", null],
    ["A", ["x"]],
    ["A", { x: 1 }],
    ["A", "x\ny"],
    ["A", "x\r"],
    ["A", "\r\nInjected: 1"],
    ["A", "nul\0"],
  ] as const)
    refuses(
      t,
      () => parseMcpServers(doc({ s: http({ headers: { [k]: v } }) }), BASE),
      /mcpServers\.s\.headers\.A must be a string on one line/,
      `header value ${JSON.stringify(v)}`,
    );
  for (const k of ["", "a b", "a:b", "a\nb", "é", "a(b)", "a/b", "a@b", "a,b", "a;b", '"a"', "x".repeat(129)])
    refuses(
      t,
      () => parseMcpServers(doc({ s: http({ headers: { [k]: "v" } }) }), BASE),
      /mcpServers\.s\.headers: .* is not a valid name/,
      `header name ${JSON.stringify(k)}`,
    );
  t.same(
    (parseMcpServers(doc({ s: http({ headers: { ["x".repeat(128)]: "v" } }) }), BASE)[0] as { headers: object }).headers,
    { ["x".repeat(128)]: "v" },
    "a 128-character header name is fine",
  );
});

t.test("stdio: args an array of strings, env an object of one-line strings with variable names, cwd a string", async (t) => {
  for (const args of ["x", 1, {}, [1], ["a", null], [["a"]], [true]])
    refuses(t, () => parseMcpServers(doc({ s: stdio({ args }) }), BASE), /mcpServers\.s\.args must be an array of strings/, `args ${JSON.stringify(args)}`);
  for (const cwd of [1, null, true, [], {}])
    refuses(t, () => parseMcpServers(doc({ s: stdio({ cwd }) }), BASE), /mcpServers\.s\.cwd must be a string/, `cwd ${JSON.stringify(cwd)}`);
  for (const env of [[], "A=1", 1, null])
    refuses(t, () => parseMcpServers(doc({ s: stdio({ env }) }), BASE), /mcpServers\.s\.env must be an object of strings/, `env ${JSON.stringify(env)}`);
  for (const v of [1, null, "a\nb", "a\rb", "a\0b", false])
    refuses(
      t,
      () => parseMcpServers(doc({ s: stdio({ env: { KEY: v } }) }), BASE),
      /mcpServers\.s\.env\.KEY must be a string on one line/,
      `env value ${JSON.stringify(v)}`,
    );
  for (const k of ["", "1A", "A-B", "A B", "A=B", "é", "A.B", "$A"])
    refuses(
      t,
      () => parseMcpServers(doc({ s: stdio({ env: { [k]: "v" } }) }), BASE),
      /mcpServers\.s\.env: .* is not a valid name/,
      `env name ${JSON.stringify(k)}`,
    );
});

t.test("the first bad server stops the parse, whatever comes before it", async (t) => {
  refuses(t, () => parseMcpServers(doc({ good: http(), bad: http({ url: "ftp://x" }), later: http() }), BASE), /mcpServers\.bad\.url/, "bad after good");
});

// ---- loadMcpServers: the file named by RADIANT_MCP_CONFIG ------------------------------------
t.test("loadMcpServers: unset or empty → no servers; a file → its servers, relative cwd from the file's folder", async (t) => {
  t.same(loadMcpServers({}), []);
  t.same(loadMcpServers({ RADIANT_MCP_CONFIG: undefined }), []);
  t.same(loadMcpServers({ RADIANT_MCP_CONFIG: "" }), []);
  const dir = mkdtempSync(join(tmpdir(), "mcp-servers-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, "conf"));
  const file = join(dir, "conf", "mcp.json");
  writeFileSync(file, JSON.stringify(doc({ web: http({ headers: { A: "b" } }), fs: stdio({ args: ["-y", "fs"], cwd: "srv" }) }), null, 2));
  t.same(loadMcpServers({ RADIANT_MCP_CONFIG: file }), [
    { kind: "http", name: "web", timeoutMs: 60_000, url: "https://mcp.example.com/mcp", headers: { A: "b" } },
    { kind: "stdio", name: "fs", timeoutMs: 60_000, command: "npx", args: ["-y", "fs"], env: {}, cwd: join(dir, "conf", "srv") },
  ]);
  const cwd = process.cwd();
  process.chdir(dir);
  t.teardown(() => process.chdir(cwd));
  t.same(
    loadMcpServers({ RADIANT_MCP_CONFIG: join("conf", "mcp.json") }).map((s) => (s.kind === "stdio" ? s.cwd : s.url)),
    ["https://mcp.example.com/mcp", join(dir, "conf", "srv")],
    "a relative file name is taken from the process's cwd, and cwd from that file's folder",
  );
});

t.test("loadMcpServers: a file that is missing, a folder, not JSON or not a config → ConfigError", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "mcp-servers-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const missing = join(dir, "nope.json");
  refuses(
    t,
    () => loadMcpServers({ RADIANT_MCP_CONFIG: missing }),
    new RegExp(`cannot read ${missing.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: .*ENOENT`),
    "missing file",
  );
  refuses(t, () => loadMcpServers({ RADIANT_MCP_CONFIG: dir }), /cannot read .*EISDIR/, "a folder");
  for (const [name, text] of [
    ["empty", ""],
    ["text", "mcpServers: {}"],
    ["trailing comma", '{"mcpServers": {"a": {"url": "https://h"},}}'],
    ["comment", '// servers\n{"mcpServers": {}}'],
    ["truncated", '{"mcpServers": {"a": {"url": "https://h"}'],
  ] as const) {
    const f = join(dir, `${name.replace(/ /g, "-")}.json`);
    writeFileSync(f, text);
    refuses(t, () => loadMcpServers({ RADIANT_MCP_CONFIG: f }), /cannot read .*: .*JSON/, `not JSON: ${name}`);
  }
  for (const [name, text, why] of [
    ["array", "[]", /an MCP config is/],
    ["null", "null", /an MCP config is/],
    ["bad server", '{"mcpServers": {"a_b": {"url": "https://h"}}}', /MCP server name "a_b"/],
  ] as const) {
    const f = join(dir, `${name.replace(/ /g, "-")}.json`);
    writeFileSync(f, text);
    refuses(t, () => loadMcpServers({ RADIANT_MCP_CONFIG: f }), why, `JSON but not a config: ${name}`);
  }
});

// ---- once bugs, now regression tests -----------------------------------------------------------
// JS orders an object's integer-like keys first, whatever the file says: names start with a letter.
const NUMERIC_ORDER = '{"mcpServers": {"b": {"url": "https://b"}, "2": {"url": "https://two"}, "10": {"url": "https://ten"}, "a": {"url": "https://a"}}}';
t.test("servers are kept in file order even when a name is all digits (or such names are refused)", async (t) => {
  let names: string[] | undefined;
  try {
    names = parseMcpServers(JSON.parse(NUMERIC_ORDER), BASE).map((s) => s.name);
  } catch (e) {
    t.ok(e instanceof ConfigError, "or refused with a ConfigError");
    return;
  }
  t.same(names, ["b", "2", "10", "a"]);
});

// `out[k] = s` with k "__proto__" hits the setter, which ignores a string: such names are refused.
const PROTO_HEADER = '{"mcpServers": {"a": {"url": "https://h", "headers": {"__proto__": "v", "B": "c"}}}}';
const PROTO_ENV = '{"mcpServers": {"a": {"command": "x", "env": {"__proto__": "v"}}}}';
t.test('a header or env variable named "__proto__" is kept or refused, never dropped silently', async (t) => {
  for (const text of [PROTO_HEADER, PROTO_ENV]) {
    let s: Record<string, unknown> | undefined;
    try {
      s = parseMcpServers(JSON.parse(text), BASE)[0] as unknown as Record<string, unknown>;
    } catch (e) {
      t.ok(e instanceof ConfigError, "refused with a ConfigError");
      continue;
    }
    const map = (s.kind === "http" ? s.headers : s.env) as Record<string, string>;
    t.equal(Object.getOwnPropertyDescriptor(map, "__proto__")?.value, "v", `kept: ${text}`);
  }
});

// A path-like relative command is the config file's folder's; a bare name is left to PATH.
t.test("a relative command path is taken from baseDir, as the comment says", async (t) => {
  const s = parseMcpServers(doc({ s: { command: "./bin/server" }, p: { command: "npx" } }), BASE) as { command: string; cwd?: string }[];
  t.ok(s[0]!.command === "/etc/radiant/bin/server" || s[0]!.cwd === BASE, `./bin/server runs from ${BASE}: ${JSON.stringify(s[0])}`);
  t.equal(s[1]!.command, "npx", "a bare command name is left to PATH");
});
