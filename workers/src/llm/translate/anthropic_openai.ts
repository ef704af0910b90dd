// anthropic client, openai upstream: through the neutral form.
import { anthropicClient } from "./codec_anthropic.js";
import { openaiBackend } from "./codec_openai.js";
import type { Translator } from "./types.js";
import { viaIr } from "./via_ir.js";

export const translator: Translator = viaIr(anthropicClient, openaiBackend);
