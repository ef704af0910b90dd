// google client, anthropic upstream: through the neutral form.
import { googleClient } from "./codec_google.js";
import { anthropicBackend } from "./codec_anthropic.js";
import type { Translator } from "./types.js";
import { viaIr } from "./via_ir.js";

export const translator: Translator = viaIr(googleClient, anthropicBackend);
