// Golden files: every case, for every client × backend pair of the three
// Chat-style APIs, translated as the handler would and compared with its
// snapshot testdata/<client>/<case>.<backend>.snap. The inputs:
//   testdata/client/<case>.<client>.json     the client's request body
//   testdata/upstream/<case>.<backend>.json  what the upstream answers:
//     {"body": …} a plain answer, {"events": [{event?, data}]} a stream (data an
//     object, or raw text), {"error": {status, body, retryAfter?}} (body an object,
//     or raw text)
// UPDATE_GOLDEN=1 rewrites the snapshots (read them as a reviewer before committing).
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";
import { translator as anthropic_anthropic } from "./anthropic_anthropic.js";
import { translator as anthropic_google } from "./anthropic_google.js";
import { translator as anthropic_openai } from "./anthropic_openai.js";
import { translator as google_anthropic } from "./google_anthropic.js";
import { translator as google_google } from "./google_google.js";
import { translator as google_openai } from "./google_openai.js";
import { translator as openai_anthropic } from "./openai_anthropic.js";
import { translator as openai_google } from "./openai_google.js";
import { translator as openai_openai } from "./openai_openai.js";
import { type TranslateContext, TranslateError, type Translator } from "./types.js";

const here = dirname(fileURLToPath(import.meta.url));
const data = join(here, "testdata");
const update = process.env.UPDATE_GOLDEN === "1";

const pairs: Translator[] = [
  openai_openai,
  openai_anthropic,
  openai_google,
  anthropic_openai,
  anthropic_anthropic,
  anthropic_google,
  google_openai,
  google_anthropic,
  google_google,
];

const upstreamModels = { openai: "gpt-4o", anthropic: "claude-sonnet-4-5", google: "gemini-2.5-flash" } as const;

interface Upstream {
  body?: unknown;
  events?: { event?: string; data: unknown }[];
  error?: { status: number; body: unknown; retryAfter?: string };
}

const readJson = (path: string): unknown => JSON.parse(readFileSync(path, "utf8"));
const raw = (v: unknown): string => (typeof v === "string" ? v : JSON.stringify(v));

/** The case through one pair, as the handler runs it: the request, then whatever the upstream answered. */
function run(tr: Translator, kase: string): Record<string, unknown> {
  const body = readJson(join(data, "client", `${kase}.${tr.client}.json`)) as Record<string, unknown>;
  const upPath = join(data, "upstream", `${kase}.${tr.backend}.json`);
  const up: Upstream = existsSync(upPath) ? (readJson(upPath) as Upstream) : {};
  const options = body.stream_options as { include_usage?: unknown } | undefined;
  const c: TranslateContext = {
    model: "radiant-test",
    upstreamModel: upstreamModels[tr.backend],
    id: "abc123",
    created: 1700000000,
    // Google's stream is the path's (the handler takes `stream` off the body); the fixtures say it with events
    stream: tr.client === "google" ? up.events !== undefined : body.stream === true,
    includeUsage: options?.include_usage === true,
  };
  const out: Record<string, unknown> = {};
  try {
    out.request = tr.request(structuredClone(body), c);
  } catch (e) {
    if (!(e instanceof TranslateError)) throw e;
    out.request = { translateError: { status: e.status, message: e.message, param: e.param ?? null } };
    return out;
  }
  if (up.body !== undefined) out.response = tr.response(up.body, c);
  if (up.events !== undefined) {
    const st = tr.stream(c);
    out.stream = [...up.events.flatMap((ev) => st.push({ ...(ev.event !== undefined ? { event: ev.event } : {}), data: raw(ev.data) })), ...st.end()];
  }
  if (up.error !== undefined) out.error = tr.error(up.error.status, raw(up.error.body), up.error.retryAfter);
  return out;
}

// the cases of these three client APIs (testdata/client also holds the Responses API's requests, responses.test.ts)
const cases = [
  ...new Set(
    readdirSync(join(data, "client"))
      .filter((f) => /\.(openai|anthropic|google)\.json$/.test(f))
      .map((f) => f.split(".")[0]!),
  ),
].sort();

t.test("every case has a request for each client API and an answer (or none: it is refused) for each backend", async (t) => {
  t.ok(cases.length >= 13);
  for (const k of cases) {
    for (const api of ["openai", "anthropic", "google"]) t.ok(existsSync(join(data, "client", `${k}.${api}.json`)), `${k}.${api}`);
  }
});

for (const tr of pairs) {
  t.test(`${tr.client} → ${tr.backend}`, async (t) => {
    for (const k of cases) {
      const got = `${JSON.stringify(run(tr, k), null, 2)}\n`;
      const snap = join(data, tr.client, `${k}.${tr.backend}.snap`);
      if (update) {
        mkdirSync(dirname(snap), { recursive: true });
        writeFileSync(snap, got);
      }
      t.equal(got, existsSync(snap) ? readFileSync(snap, "utf8") : "(no snapshot: run with UPDATE_GOLDEN=1)", `${tr.client}/${k}.${tr.backend}.snap`);
    }
  });
}
