// The agent RADIANT runs itself, so `make run` has one: every message gets a
// task — `working`, then one artifact update per word of the message's text
// (appended to one artifact), then `completed`; the artifact's text is the
// message's text. `wait <seconds>` stays `working` that long, and can be
// cancelled.
import type { Message, TaskEvent, TaskStatus } from "./shapes.js";
import { textOf } from "./shapes.js";

/** the longest `wait` honoured: less than a worker's handler timeout (5 minutes by default), so a blocking send gets its task */
const MAX_WAIT_S = 240;
const WAIT_RE = /^\s*wait\s+(\d+(?:\.\d+)?)\s*$/;

const status = (state: TaskStatus["state"]): TaskStatus => ({ state, timestamp: new Date().toISOString() });

/** the most artifact updates one task gets: past it, words come several to an update (each update rewrites the stored task) */
export const MAX_UPDATES = 100;

/** The text's words, each with the spaces after it (the first with those before it too), at most MAX_UPDATES pieces: joined, the text itself. */
export function wordsOf(text: string): string[] {
  const words = text.match(/\S+\s*/g) ?? [];
  const lead = /^\s*/.exec(text)![0];
  if (words.length === 0) return [text];
  words[0] = lead + words[0];
  if (words.length <= MAX_UPDATES) return words;
  const per = Math.ceil(words.length / MAX_UPDATES);
  const out: string[] = [];
  for (let i = 0; i < words.length; i += per) out.push(words.slice(i, i + per).join(""));
  return out;
}

/**
 * The task's events. `cancelled` resolves when the task is to stop (a CancelTask): the agent ends
 * it `canceled`. `signal` stops it without a word (the request is over, or the worker stops).
 */
export async function* echoAgent(m: Message, cancelled: Promise<void>, signal: AbortSignal): AsyncIterable<TaskEvent> {
  yield { kind: "status", status: status("working") };
  const text = textOf(m);
  const wait = WAIT_RE.exec(text);
  if (wait) {
    const ms = Math.min(Number(wait[1]), MAX_WAIT_S) * 1000;
    let timer: NodeJS.Timeout | undefined;
    const stop = await Promise.race([
      new Promise<"done">((r) => {
        timer = setTimeout(() => r("done"), ms);
      }),
      cancelled.then(() => "cancelled" as const),
      new Promise<"aborted">((r) => signal.addEventListener("abort", () => r("aborted"), { once: true })),
    ]);
    clearTimeout(timer);
    if (stop === "cancelled") {
      yield { kind: "status", status: status("canceled") };
      return;
    }
    if (stop === "aborted") return;
  }
  const words = wordsOf(text);
  for (const [i, w] of words.entries()) {
    yield {
      kind: "artifact",
      artifact: { artifactId: "echo", name: "echo", parts: [{ text: w, mediaType: "text/plain" }] },
      append: i > 0,
      lastChunk: i === words.length - 1,
    };
  }
  yield { kind: "status", status: status("completed") };
}
