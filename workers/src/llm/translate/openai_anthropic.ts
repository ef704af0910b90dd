// openai client, anthropic upstream: through the neutral form.
import { openaiClient } from "./codec_openai.js";
import { anthropicBackend } from "./codec_anthropic.js";
import type { Translator } from "./types.js";
import { viaIr } from "./via_ir.js";

export const translator: Translator = viaIr(openaiClient, anthropicBackend);
