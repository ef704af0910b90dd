// Golden files of the translators (workers/src/llm/translate/testdata): a case
// run through one client × backend pair as the handler runs it, and the
// comparison with its snapshot (UPDATE_GOLDEN=1 rewrites snapshots).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Test } from "tap";
import { type TranslateContext, TranslateError, type Translator } from "../src/llm/translate/types.js";

export const testdata = fileURLToPath(new URL("../src/llm/translate/testdata", import.meta.url));
const update = process.env.UPDATE_GOLDEN === "1";
const upstreamModels = { openai: "gpt-4o", anthropic: "claude-sonnet-4-5", google: "gemini-2.5-flash" } as const;

/**
 * What the upstream answers: {"body": …} a plain answer, {"events": [{event?, data}]} a stream (data an
 * object, or raw text), {"error": {status, body, retryAfter?}} (body an object, or raw text).
 */
export interface Upstream {
  body?: unknown;
  events?: { event?: string; data: unknown }[];
  error?: { status: number; body: unknown; retryAfter?: string };
}

export const readJson = (path: string): unknown => JSON.parse(readFileSync(path, "utf8"));
const raw = (v: unknown): string => (typeof v === "string" ? v : JSON.stringify(v));

/** testdata/client/<case>.<client>.json, and testdata/upstream/<case>.<upstream>.json (none: {}). */
export function caseInputs(kase: string, client: string, upstream: string): { body: Record<string, unknown>; up: Upstream } {
  const body = readJson(join(testdata, "client", `${kase}.${client}.json`)) as Record<string, unknown>;
  const upPath = join(testdata, "upstream", `${kase}.${upstream}.json`);
  return { body, up: existsSync(upPath) ? (readJson(upPath) as Upstream) : {} };
}

/** The case through one pair: the request, then whatever the upstream answered. */
export function runCase(tr: Translator, body: Record<string, unknown>, up: Upstream): Record<string, unknown> {
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

/** Compare with testdata/<client>/<case>.<backend>.snap (written first with UPDATE_GOLDEN=1). */
export function matchSnapshot(t: Test, tr: Translator, kase: string, result: unknown): void {
  const got = `${JSON.stringify(result, null, 2)}\n`;
  const snap = join(testdata, tr.client, `${kase}.${tr.backend}.snap`);
  if (update) {
    mkdirSync(dirname(snap), { recursive: true });
    writeFileSync(snap, got);
  }
  t.equal(got, existsSync(snap) ? readFileSync(snap, "utf8") : "(no snapshot: run with UPDATE_GOLDEN=1)", `${tr.client}/${kase}.${tr.backend}.snap`);
}
