// Federation's pure helpers: the cursors of several servers' lists, prefixed
// names, the union of capabilities and the answer to `initialize`. Cursors and
// names come from clients, so hostile ones must give undefined (the caller
// answers -32602), never a throw.
//
// Property runs are bounded and the seed is fixed (FUZZ_RUNS / FUZZ_SEED as in
// gateway/src/fuzz_input.test.ts). Known bugs keep a `todo` test below while
// their reproduction reproduces; once fixed, it runs as a regression test.
import fc from "fast-check";
import t from "tap";
import { fuzzOptions, noThrow } from "@radiant/infra/fuzz-settings";
import type { UpstreamOpened } from "@radiant/wire";
import { MCP_PROTOCOL_VERSION, MCP_SUPPORTED_VERSIONS, SERVER_INFO } from "../handler_mcp.js";
import { decodeCursor, encodeCursor, initializeResult, splitName, unionCapabilities, type Pages } from "./federation.js";

const opts = fuzzOptions;

const RESUME = { "radiant/resume": {} };
const b64 = (s: string) => Buffer.from(s).toString("base64url");
const b64json = (v: unknown) => b64(JSON.stringify(v));
/** what decodeCursor may return: nothing, or one to n pages, each of a distinct server in range with a string cursor */
const wellFormed = (r: ReturnType<typeof decodeCursor>, n: number): boolean =>
  r === undefined ||
  (r.length >= 1 &&
    r.length <= n &&
    new Set(r.map((p) => p[0])).size === r.length &&
    r.every(([server, cursor]) => Number.isInteger(server) && server >= 0 && server < n && typeof cursor === "string"));

// ---- cursors -------------------------------------------------------------------------------
t.test("encodeCursor / decodeCursor: the servers that have more, each with its own cursor", async (t) => {
  const cases: Pages[] = [
    [[0, "abc"]],
    [[1, ""]],
    [
      [0, "a"],
      [2, "eyJwYWdlIjoyfQ=="],
    ],
    [[1, 'quote " backslash \\ newline \n']],
    [[0, "é—😀"]],
    [[1, "\ud800 lone \udfff surrogates"]],
    [[2, "x".repeat(20_000)]],
  ];
  for (const pages of cases) {
    const c = encodeCursor(pages);
    t.match(c, /^[A-Za-z0-9_-]+$/, `base64url, no padding: ${c.slice(0, 20)}`);
    t.same(decodeCursor(c, 3), pages, JSON.stringify(pages).slice(0, 40));
  }
  t.same(encodeCursor([[1, "c"]]), b64('[[1,"c"]]'));
});

t.test("decodeCursor: hostile cursors give undefined", async (t) => {
  const hostile: [string, unknown][] = [
    ["not base64", "!!!***"],
    ["empty", ""],
    ["spaces", "   "],
    ["not JSON", b64("hello")],
    ["half JSON", b64("[[0,")],
    ["JSON object", b64json({ server: 0 })],
    ["JSON number", b64json(0)],
    ["JSON string", b64json("0")],
    ["JSON null", b64json(null)],
    ["empty array", b64json([])],
    ["a page not an array", b64json([0])],
    ["string index", b64json([["0", "a"]])],
    ["fractional index", b64json([[0.5, "a"]])],
    ["negative index", b64json([[-1, "a"]])],
    ["index = servers", b64json([[3, "a"]])],
    ["huge index", b64('[[1e400,"a"]]')],
    ["no cursor", b64json([[0]])],
    ["cursor a number", b64json([[0, 1]])],
    ["cursor null", b64json([[0, null]])],
    ["three members", b64json([[0, "a", "b"]])],
    [
      "a server twice",
      b64json([
        [0, "a"],
        [0, "b"],
      ]),
    ],
    [
      "more pages than servers",
      b64json([
        [0, "a"],
        [1, "b"],
        [2, "c"],
        [3, "d"],
      ]),
    ],
    ["over 64 KiB", "A".repeat(64 * 1024 + 1)],
    ["non-string: number", 5],
    ["non-string: null", null],
    ["non-string: undefined", undefined],
    ["non-string: object", { server: 0 }],
    ["non-string: array", [[0, "x"]]],
  ];
  for (const [what, c] of hostile)
    t.equal(
      noThrow(() => decodeCursor(c, 3)),
      undefined,
      what,
    );
  t.equal(decodeCursor(encodeCursor([[2, "a"]]), 2), undefined, "a cursor of another configuration (fewer servers)");
});

t.test("decodeCursor never throws: any string, any JSON value (encoded or not), anything", async (t) => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 300 }), fc.integer({ min: 0, max: 5 }), (s, n) =>
      wellFormed(
        noThrow(() => decodeCursor(s, n)),
        n,
      ),
    ),
    opts(),
  );
  fc.assert(
    fc.property(
      fc.jsonValue(),
      fc.integer({ min: 0, max: 5 }),
      (v, n) =>
        wellFormed(
          noThrow(() => decodeCursor(b64json(v), n)),
          n,
        ) &&
        wellFormed(
          noThrow(() => decodeCursor(v, n)),
          n,
        ),
    ),
    opts(),
  );
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: -3, max: 8 }), fc.oneof(fc.string({ maxLength: 5 }), fc.constant(null))), { maxLength: 6 }),
      fc.integer({ min: 1, max: 5 }),
      (a, n) =>
        wellFormed(
          noThrow(() => decodeCursor(b64json(a), n)),
          n,
        ),
    ),
    opts(),
  );
  fc.assert(
    fc.property(fc.anything(), (v) =>
      wellFormed(
        noThrow(() => decodeCursor(v, 3)),
        3,
      ),
    ),
    opts(),
  );
  t.pass("never threw");
});

t.test("encode → decode is the identity for pages of distinct servers < n", async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 20 }).chain((n) =>
        fc.tuple(
          fc.constant(n),
          fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: n - 1 }), fc.string({ unit: "binary", maxLength: 200 })), {
            minLength: 1,
            maxLength: n,
            selector: (p) => p[0],
          }),
        ),
      ),
      ([n, pages]) => {
        const r = decodeCursor(encodeCursor(pages as Pages), n);
        return r !== undefined && JSON.stringify(r) === JSON.stringify(pages);
      },
    ),
    opts(),
  );
  t.pass();
});

// ---- prefixed names ---------------------------------------------------------------------------
t.test("splitName: the first '_' ends the server's name", async (t) => {
  const servers = ["github", "fs", "a-b", "X9"];
  t.same(splitName("github_create_issue", servers), { server: "github", name: "create_issue" }, "further underscores belong to the name");
  t.same(splitName("fs_read", servers), { server: "fs", name: "read" });
  t.same(splitName("a-b_x", servers), { server: "a-b", name: "x" }, "a '-' in a server's name");
  t.same(splitName("X9___", servers), { server: "X9", name: "__" });
  t.same(splitName("fs_", servers), { server: "fs", name: "" }, "an empty name is the server's business");
  t.same(splitName("fs_é 😀", servers), { server: "fs", name: "é 😀" });
  for (const [what, v] of [
    ["unknown server", "gitlab_create_issue"],
    ["case differs", "GitHub_create_issue"],
    ["server name only", "github"],
    ["no underscore", "githubcreate"],
    ["leading underscore", "_github_x"],
    ["only an underscore", "_"],
    ["empty", ""],
    ["a prefix of a server", "git_x"],
    ["a server name with more after it", "githubx_y"],
    ["dash instead of underscore", "github-create"],
    ["number", 5],
    ["null", null],
    ["undefined", undefined],
    ["object", { server: "fs", name: "x" }],
    ["array", ["fs", "x"]],
  ] as const)
    t.equal(splitName(v, servers), undefined, what);
  t.equal(splitName("fs_x", []), undefined, "no servers");
});

t.test("splitName inverts <server>_<name> for any configured server and any name", async (t) => {
  const serverName = fc.stringMatching(/^[A-Za-z0-9-]{1,32}$/);
  fc.assert(
    fc.property(fc.uniqueArray(serverName, { minLength: 1, maxLength: 6 }), fc.nat(), fc.string({ unit: "binary", maxLength: 60 }), (servers, i, name) => {
      const server = servers[i % servers.length]!;
      const r = splitName(`${server}_${name}`, servers);
      return r !== undefined && r.server === server && r.name === name;
    }),
    opts(),
  );
  fc.assert(
    fc.property(fc.array(serverName, { maxLength: 6 }), fc.string({ unit: "binary", maxLength: 60 }), (servers, s) => {
      const r = noThrow(() => splitName(s, servers));
      return r === undefined || (servers.includes(r.server) && s === `${r.server}_${r.name}`);
    }),
    opts(),
  );
  t.pass();
});

// ---- capabilities -----------------------------------------------------------------------------
t.test("unionCapabilities: each kind any server has; subscribe if any has it", async (t) => {
  t.same(unionCapabilities([], false), {}, "no servers up, none down: nothing");
  t.same(unionCapabilities([{}, {}], false), {});
  t.same(unionCapabilities([{ tools: {} }], false), { tools: { listChanged: true } });
  t.same(unionCapabilities([{ tools: { listChanged: true } }, { prompts: { listChanged: false } }], false), {
    tools: { listChanged: true },
    prompts: { listChanged: true },
  });
  t.same(unionCapabilities([{ resources: {} }], false), { resources: { subscribe: false, listChanged: true } });
  t.same(
    unionCapabilities([{ resources: { subscribe: false } }, { resources: { subscribe: true } }], false),
    { resources: { subscribe: true, listChanged: true } },
    "subscribe if any server has it",
  );
  t.same(
    unionCapabilities([{ resources: { subscribe: "yes" } }, { resources: { subscribe: 1 } }], false),
    { resources: { subscribe: false, listChanged: true } },
    "subscribe only when it is true",
  );
  t.same(unionCapabilities([{ resources: true }], false), { resources: { subscribe: false, listChanged: true } }, "a kind that is not an object still counts");
  t.same(unionCapabilities([{ logging: {} }, { completions: { x: 1 } }], false), { logging: {}, completions: {} });
  t.same(
    unionCapabilities([{ tasks: { list: {} }, sampling: {}, experimental: { "x/y": {} }, elicitation: {} }], false),
    {},
    "kinds federation does not route are left out",
  );
  t.same(unionCapabilities([{ tools: {} }, { prompts: {}, resources: { subscribe: true, listChanged: true } }, { logging: {}, completions: {} }], false), {
    tools: { listChanged: true },
    prompts: { listChanged: true },
    resources: { subscribe: true, listChanged: true },
    logging: {},
    completions: {},
  });
});

t.test("unionCapabilities with a server down declares every kind (it may come back with any)", async (t) => {
  const all = { tools: { listChanged: true }, prompts: { listChanged: true }, resources: { subscribe: true, listChanged: true }, logging: {}, completions: {} };
  t.same(unionCapabilities([], true), all);
  t.same(unionCapabilities([{ tools: {} }], true), all);
  t.same(unionCapabilities([{ resources: { subscribe: false } }], true), all, "subscribe too");
});

t.test("unionCapabilities: a kind is declared iff some server has it or one is down", async (t) => {
  const KINDS = ["tools", "prompts", "resources", "logging", "completions"];
  const cap = fc.dictionary(
    fc.constantFrom(...KINDS, "tasks", "experimental", "sampling"),
    fc.oneof(fc.constant({}), fc.record({ listChanged: fc.boolean(), subscribe: fc.boolean() }, { requiredKeys: [] }), fc.jsonValue({ maxDepth: 1 })),
    {
      noNullPrototype: true,
    },
  );
  fc.assert(
    fc.property(fc.array(cap, { maxLength: 5 }), fc.boolean(), (caps, down) => {
      const u = unionCapabilities(caps, down);
      for (const k of KINDS) if (k in u !== (down || caps.some((c) => c[k] !== undefined))) return false;
      if (Object.keys(u).some((k) => !KINDS.includes(k))) return false;
      const res = u.resources as { subscribe: boolean } | undefined;
      const anySub = caps.some((c) => (c.resources as { subscribe?: unknown } | null)?.subscribe === true);
      return res === undefined || res.subscribe === (down || anySub);
    }),
    opts(),
  );
  t.pass();
});

// ---- initialize ----------------------------------------------------------------------------------
const ok = (server: string, result: Record<string, unknown>): UpstreamOpened => ({ server, ok: true, result });
const down = (server: string): UpstreamOpened => ({ server, ok: false, error: "connect ECONNREFUSED" });

t.test("initializeResult, one server: its own answer, with radiant/resume added", async (t) => {
  const result = {
    protocolVersion: "2025-06-18",
    capabilities: {
      tools: { listChanged: false },
      tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
      experimental: { "vendor/x": { a: 1 } },
      logging: {},
    },
    serverInfo: { name: "upstream", version: "9.9.9", title: "Up" },
    instructions: "Use the tools wisely.",
    _meta: { "vendor/k": true },
  };
  const before = structuredClone(result);
  const r = initializeResult({ protocolVersion: "2024-11-05", capabilities: {} }, [ok("only", result)], true);
  t.same(r, {
    protocolVersion: "2025-06-18",
    capabilities: {
      tools: { listChanged: false },
      tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
      experimental: { "vendor/x": { a: 1 }, "radiant/resume": {} },
      logging: {},
    },
    serverInfo: { name: "upstream", version: "9.9.9", title: "Up" },
    instructions: "Use the tools wisely.",
    _meta: { "vendor/k": true },
  });
  t.same(result, before, "the upstream's result is not modified in place");
  t.same(
    initializeResult({}, [ok("only", { protocolVersion: "2025-03-26", serverInfo: { name: "u", version: "1" } })], true),
    {
      protocolVersion: "2025-03-26",
      serverInfo: { name: "u", version: "1" },
      capabilities: { experimental: RESUME },
    },
    "no capabilities: just radiant/resume",
  );
  t.same(
    initializeResult({}, [ok("only", { capabilities: { experimental: "junk" } })], true),
    { capabilities: { experimental: RESUME } },
    "an experimental that is not an object is replaced",
  );
  t.same(
    (initializeResult({}, [ok("only", { capabilities: { experimental: { "radiant/resume": { v: 2 } } } })], true).capabilities as { experimental: object })
      .experimental,
    RESUME,
    "RADIANT's own radiant/resume wins",
  );
});

t.test("initializeResult, one server that is down: the union's answer, every kind declared", async (t) => {
  t.same(initializeResult({ protocolVersion: "2025-06-18" }, [down("only")], true), {
    protocolVersion: "2025-06-18",
    capabilities: {
      tools: { listChanged: true },
      prompts: { listChanged: true },
      resources: { subscribe: true, listChanged: true },
      logging: {},
      completions: {},
      experimental: RESUME,
    },
    serverInfo: SERVER_INFO,
  });
});

t.test("initializeResult, several servers: RADIANT's answer", async (t) => {
  const ups = [
    ok("github", {
      protocolVersion: "2024-11-05",
      capabilities: { tools: { listChanged: false }, experimental: { "vendor/x": {} }, tasks: {} },
      serverInfo: { name: "gh", version: "1" },
      instructions: "Repos.",
    }),
    ok("fs", { protocolVersion: "2025-06-18", capabilities: { resources: { subscribe: true } }, instructions: "" }),
    ok("web", { capabilities: { prompts: {} }, instructions: 42 }),
    ok("db", { capabilities: { logging: {} }, instructions: "SQL only.\nRead-only." }),
  ];
  for (const v of MCP_SUPPORTED_VERSIONS)
    t.equal(initializeResult({ protocolVersion: v }, ups, false).protocolVersion, v, `the client's ${v}, a supported one`);
  for (const v of ["1999-01-01", "", "2025-06-18 ", 20250618, null, undefined, ["2025-06-18"]])
    t.equal(initializeResult({ protocolVersion: v }, ups, false).protocolVersion, MCP_PROTOCOL_VERSION, `${JSON.stringify(v)}: RADIANT's own`);
  t.equal(initializeResult({}, ups, false).protocolVersion, MCP_PROTOCOL_VERSION, "none asked: RADIANT's own");
  t.same(initializeResult({ protocolVersion: "2025-06-18" }, ups, false), {
    protocolVersion: "2025-06-18",
    capabilities: {
      tools: { listChanged: true },
      prompts: { listChanged: true },
      resources: { subscribe: true, listChanged: true },
      logging: {},
      experimental: RESUME,
    },
    serverInfo: SERVER_INFO,
    instructions: "github: Repos.\n\ndb: SQL only.\nRead-only.",
  });
  const withDown = initializeResult({ protocolVersion: "2025-06-18" }, [down("github"), ups[1]!, ok("x", { instructions: "X." })], false);
  t.same(
    withDown,
    {
      protocolVersion: "2025-06-18",
      capabilities: {
        tools: { listChanged: true },
        prompts: { listChanged: true },
        resources: { subscribe: true, listChanged: true },
        logging: {},
        completions: {},
        experimental: RESUME,
      },
      serverInfo: SERVER_INFO,
      instructions: "x: X.",
    },
    "a server down: every kind, and only the servers up speak",
  );
  t.notOk("instructions" in initializeResult({}, [ok("a", {}), ok("b", { instructions: "" })], false), "no instructions at all: no member");
  t.same(initializeResult({}, [down("a"), down("b")], false).serverInfo, SERVER_INFO, "all down: still an answer");
  t.same(initializeResult({}, [ok("a", { capabilities: { tools: {} } })], false).serverInfo, SERVER_INFO, "single=false with one upstream: the union's answer");
});

// an upstream's own long cursor rides inside RADIANT's (once refused past 4096 characters)
t.test("a long upstream cursor survives encode → decode", async (t) => {
  const LONG = "x".repeat(3067);
  t.same(decodeCursor(encodeCursor([[0, LONG]]), 2), [[0, LONG]]);
  t.same(decodeCursor(encodeCursor([[1, "é".repeat(1600)]]), 2), [[1, "é".repeat(1600)]]);
});
