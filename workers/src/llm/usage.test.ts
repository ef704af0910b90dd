// Token usage as each upstream format reports it (what token limits count),
// and the OpenAI passthrough asking for usage on the client's behalf without
// the client seeing what it did not ask for.
import t from "tap";
import { passthrough } from "./translate/passthrough.js";
import type { TranslateContext } from "./translate/types.js";
import { UsageMeter } from "./usage.js";

t.test("each format's usage, plain and streamed; junk counts nothing and never throws", async (t) => {
  const openai = new UsageMeter("openai");
  openai.body({ usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } });
  t.equal(openai.tokens, 7);
  const openaiStream = new UsageMeter("openai");
  for (const d of ['{"choices":[{"delta":{"content":"hi"}}],"usage":null}', '{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":6}}'])
    openaiStream.event(d);
  t.equal(openaiStream.tokens, 11, "prompt + completion when there is no total");
  const anthropic = new UsageMeter("anthropic");
  anthropic.event('{"type":"message_start","message":{"usage":{"input_tokens":10,"cache_read_input_tokens":2,"output_tokens":1}}}');
  anthropic.event('{"type":"content_block_delta","delta":{"text":"x"}}');
  anthropic.event('{"type":"message_delta","usage":{"output_tokens":8}}');
  t.equal(anthropic.tokens, 20, "input (cache reads too) + the last output count");
  const google = new UsageMeter("google");
  google.event('{"candidates":[],"usageMetadata":{"promptTokenCount":2,"candidatesTokenCount":1,"totalTokenCount":3}}');
  google.event('{"candidates":[],"usageMetadata":{"promptTokenCount":2,"candidatesTokenCount":5,"totalTokenCount":7}}');
  t.equal(google.tokens, 7, "each chunk repeats the counts so far: the last wins");
  const junk = new UsageMeter("openai");
  for (const d of ['{"usage":', '"usage"', '{"usage":{"total_tokens":-5}}', '{"usage":{"total_tokens":1.6e400}}', '{"usage":{"total_tokens":2.6}}'])
    junk.event(d);
  t.equal(junk.tokens, 3, "negative and non-finite counts are nothing; fractions are rounded");
});

const ctx = (includeUsage: boolean): TranslateContext => ({ model: "m", upstreamModel: "up", id: "x", created: 0, stream: true, includeUsage });

t.test("OpenAI passthrough: usage asked of the upstream on every stream; a client that did not ask sees none of it", async (t) => {
  const tr = passthrough("openai");
  const asked = tr.request({ model: "m", stream: true, messages: [] }, ctx(false)).body as { stream_options: unknown };
  t.same(asked.stream_options, { include_usage: true });
  const kept = tr.request({ model: "m", stream: true, stream_options: { include_usage: false, other: 1 }, messages: [] }, ctx(false)).body;
  t.same((kept as { stream_options: unknown }).stream_options, { include_usage: true, other: 1 }, "the client's other options kept");
  t.notOk("stream_options" in (tr.request({ model: "m", messages: [] }, { ...ctx(false), stream: false }).body as object), "a plain answer has usage anyway");

  const events = [
    { data: '{"id":"c","model":"up","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}],"usage":null}' },
    { data: '{"id":"c","model":"up","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}' },
    { data: '{"id":"c","model":"up","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}' },
    { data: "[DONE]" },
  ];
  const run = (include: boolean) => {
    const st = tr.stream(ctx(include));
    return [...events.flatMap((e) => st.push(e)), ...st.end()].map((e) => e.data as Record<string, unknown>);
  };
  const quiet = run(false);
  t.equal(quiet.length, 2, "the usage chunk is not passed on");
  t.ok(
    quiet.every((d) => !("usage" in d)),
    "nor usage: null on the others",
  );
  t.equal(quiet[0]?.model, "m");
  const told = run(true);
  t.equal(told.length, 3, "a client that asked gets it");
  t.match(told[2], { usage: { total_tokens: 3 } });
});
