// Golden files: every case, for every client × backend pair of the three
// Chat-style APIs, translated as the handler would and compared with its
// snapshot testdata/<client>/<case>.<backend>.snap. The inputs:
//   testdata/client/<case>.<client>.json     the client's request body
//   testdata/upstream/<case>.<backend>.json  what the upstream answers:
//     {"body": …} a plain answer, {"events": [{event?, data}]} a stream (data an
//     object, or raw text), {"error": {status, body, retryAfter?}} (body an object,
//     or raw text)
// UPDATE_GOLDEN=1 rewrites the snapshots (read them as a reviewer before committing).
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { caseInputs, matchSnapshot, runCase, testdata } from "../../../test/golden.js";
import { translators } from "./index.js";

// the Chat-style client APIs; the Responses API's pairs are responses.test.ts's
const pairs = Object.values(translators).filter((tr) => tr.client !== "responses");

const cases = [
  ...new Set(
    readdirSync(join(testdata, "client"))
      .filter((f) => /\.(openai|anthropic|google)\.json$/.test(f))
      .map((f) => f.split(".")[0]!),
  ),
].sort();

t.test("every case has a request for each client API and an answer (or none: it is refused) for each backend", async (t) => {
  t.ok(cases.length >= 13);
  for (const k of cases) {
    for (const api of ["openai", "anthropic", "google"]) t.ok(existsSync(join(testdata, "client", `${k}.${api}.json`)), `${k}.${api}`);
  }
});

for (const tr of pairs) {
  t.test(`${tr.client} → ${tr.backend}`, async (t) => {
    for (const k of cases) {
      const { body, up } = caseInputs(k, tr.client, tr.backend);
      matchSnapshot(t, tr, k, runCase(tr, body, up));
    }
  });
}
