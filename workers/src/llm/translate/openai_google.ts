// openai client, google upstream: through the neutral form.
import { openaiClient } from "./codec_openai.js";
import { googleBackend } from "./codec_google.js";
import type { Translator } from "./types.js";
import { viaIr } from "./via_ir.js";

export const translator: Translator = viaIr(openaiClient, googleBackend);
