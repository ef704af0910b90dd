// google client, openai upstream: through the neutral form.
import { googleClient } from "./codec_google.js";
import { openaiBackend } from "./codec_openai.js";
import type { Translator } from "./types.js";
import { viaIr } from "./via_ir.js";

export const translator: Translator = viaIr(googleClient, openaiBackend);
