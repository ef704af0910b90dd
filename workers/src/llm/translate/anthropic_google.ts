// anthropic client, google upstream: through the neutral form.
import { anthropicClient } from "./codec_anthropic.js";
import { googleBackend } from "./codec_google.js";
import type { Translator } from "./types.js";
import { viaIr } from "./via_ir.js";

export const translator: Translator = viaIr(anthropicClient, googleBackend);
