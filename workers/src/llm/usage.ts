// LLM tokens an answer used, as its upstream reported them: what per-principal
// and per-key token limits count (the gateway hears a report per answer).
// Read beside the translation, from the upstream's own format: a plain body
// once, and only the stream events that carry usage (a cheap substring test
// first, so a text delta is never parsed twice).
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { NatsConnection } from "@nats-io/nats-core";
import { encodeUsage, homeOf, keyScope, principalScope, USAGE_SUBJECT, type UsageEntry } from "@radiant/wire";
import type { Request } from "../handler.js";
import type { Backend } from "./translate/types.js";

const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? Math.min(Math.round(v), 1e12) : 0);
const obj = (v: unknown): Record<string, unknown> | undefined => (typeof v === "object" && v !== null ? (v as Record<string, unknown>) : undefined);

export class UsageMeter {
  private input = 0;
  private output = 0;
  private total = 0;

  constructor(private readonly format: Backend) {}

  /** the tokens counted so far */
  get tokens(): number {
    return this.total > 0 ? this.total : this.input + this.output;
  }

  /** A whole (not streamed) answer. */
  body(json: unknown): void {
    this.read(obj(json));
  }

  /** One streamed event's data. */
  event(data: string): void {
    if (!data.includes(this.format === "google" ? '"usageMetadata"' : '"usage"')) return;
    try {
      this.read(obj(JSON.parse(data)));
    } catch {
      // the translator reports a broken event; there is no usage in it
    }
  }

  private read(v: Record<string, unknown> | undefined): void {
    if (!v) return;
    switch (this.format) {
      case "openai": {
        // chat completions (usage.total_tokens) and a Responses-style usage alike
        const u = obj(v.usage);
        if (u) this.total = num(u.total_tokens) || num(u.prompt_tokens) + num(u.completion_tokens);
        break;
      }
      case "anthropic": {
        // message_start carries the input, each message_delta the output so far
        const u = obj(v.usage) ?? obj(obj(v.message)?.usage);
        if (!u) break;
        const input = num(u.input_tokens) + num(u.cache_creation_input_tokens) + num(u.cache_read_input_tokens);
        if (input > 0) this.input = input;
        if (num(u.output_tokens) > 0) this.output = num(u.output_tokens);
        break;
      }
      case "google": {
        // every chunk repeats the counts so far
        const u = obj(v.usageMetadata);
        if (u) this.total = num(u.totalTokenCount) || num(u.promptTokenCount) + num(u.candidatesTokenCount);
        break;
      }
    }
  }
}

// hostname:pid can repeat (pods on the host network, a sidecar): random bits make it this process's own
const reporter = `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;

/** Tell the gateways what an answer used: they count it against the principal's and the key's token limits. */
export function reportUsage(nc: NatsConnection, req: Request, tokens: number): void {
  const entries: UsageEntry[] = [{ scope: principalScope(req.principal), requests: 0, tokens }];
  if (req.key !== undefined) entries.push({ scope: keyScope(req.key), requests: 0, tokens });
  try {
    nc.publish(USAGE_SUBJECT, encodeUsage({ from: reporter, home: homeOf(req.sid), entries }));
  } catch {
    // not connected: a limit counts a little less, the answer is not held up for it
  }
}
