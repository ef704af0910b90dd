// Closed-loop load: K slots each send one request, wait for its answer, send
// the next, until the time is up. Latencies go into an HdrHistogram (µs).
import * as hdr from "hdr-histogram-js";

export interface LoopResult {
  msgsPerS: number;
  count: number;
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number };
}

export type Histogram = ReturnType<typeof hdr.build>;

export function newHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

/** Percentiles of a µs histogram, in ms. */
export function percentilesMs(h: Histogram): LoopResult["latencyMs"] {
  // a percentile reads its bucket's upper edge, which can lie a hair above the largest value recorded
  const ms = (p: number) => Number((Math.min(h.getValueAtPercentile(p), h.maxValue) / 1000).toFixed(3));
  return { p50: ms(50), p90: ms(90), p99: ms(99), p999: ms(99.9), max: Number((h.maxValue / 1000).toFixed(3)) };
}

/** Records a time in ms into a µs histogram (at least 1 µs: the histogram takes nothing lower). */
export const recordMs = (h: Histogram, ms: number) => h.recordValue(Math.max(1, Math.round(ms * 1000)));

/** The median and p99 of a µs histogram, in ms. */
export const p50p99 = (h: Histogram) => {
  const { p50, p99 } = percentilesMs(h);
  return { p50, p99 };
};

/** Round trips in µs gathered by several load processes, into one histogram. */
export function mergeSamples(lists: number[][]): { latencyMs: LoopResult["latencyMs"]; count: number } {
  const h = newHistogram();
  for (const list of lists) for (const us of list) h.recordValue(Math.max(1, Math.round(us)));
  return { latencyMs: percentilesMs(h), count: h.totalCount };
}

/** `send(slot, done)`: issue one request for `slot`; call `done()` when its answer arrives. */
export async function closedLoop(k: number, durationMs: number, send: (slot: number, done: () => void) => void): Promise<LoopResult> {
  const h = newHistogram();
  const until = Date.now() + durationMs;
  const t0 = process.hrtime.bigint();
  let count = 0;
  await Promise.all(
    Array.from(
      { length: k },
      (_, slot) =>
        new Promise<void>((resolve) => {
          const next = () => {
            if (Date.now() >= until) return resolve();
            const start = process.hrtime.bigint();
            send(slot, () => {
              h.recordValue(Number((process.hrtime.bigint() - start) / 1000n));
              count++;
              next();
            });
          };
          next();
        }),
    ),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { msgsPerS: Math.round(count / seconds), count, latencyMs: percentilesMs(h) };
}
