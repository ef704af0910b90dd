// What the LLM endpoints read of client bytes without parsing them: the body
// Google's URL model is spliced into, and the resume headers.
import fc from "fast-check";
import t from "tap";
import { resumePoint, withModel } from "./post.js";

const models = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,40}$/);

t.test("the URL's model is the body's last member: it wins over one in the body, nothing else changes", async (t) => {
  fc.assert(
    fc.property(fc.dictionary(fc.string(), fc.jsonValue()), models, fc.constantFrom("", " ", "\n", "\t \r\n"), (obj, model, ws) => {
      const text = `${ws}${JSON.stringify(obj, null, ws === "" ? undefined : 1)}${ws}`;
      const out = JSON.parse(withModel(Buffer.from(text), model).toString()) as Record<string, unknown>;
      const { model: got, ...rest } = out;
      const { model: _theirs, ...want } = obj;
      return got === model && JSON.stringify(rest) === JSON.stringify(want);
    }),
    { seed: 11, numRuns: 500 },
  );
  t.equal(withModel(Buffer.from("{}"), "m").toString(), '{"model":"m"}');
  t.equal(withModel(Buffer.from('{"model":"evil","a":1}'), "m").toString(), '{"model":"evil","a":1,"model":"m"}');
  t.equal((JSON.parse(withModel(Buffer.from('{"model":"evil"}'), "good").toString()) as { model: string }).model, "good");
});

t.test("resume headers: whole numbers only", async (t) => {
  t.same(resumePoint("", ""), undefined);
  t.same(resumePoint("42000", ""), { afterId: 42000 });
  t.same(resumePoint("", "7"), { afterCount: 7 });
  t.same(resumePoint("5", "7"), { afterId: 5 }, "an event id wins");
  for (const bad of ["-1", "1.5", "1e3", " 1", "x", "9".repeat(16)]) {
    t.equal(resumePoint(bad, ""), "bad", `Last-Event-ID ${bad}`);
    t.equal(resumePoint("", bad), "bad", `Radiant-Events-Received ${bad}`);
  }
});
