// responses client, anthropic upstream: through the neutral form.
import { anthropicBackend } from "./codec_anthropic.js";
import { responsesClient } from "./codec_responses.js";
import type { Translator } from "./types.js";
import { viaIr } from "./via_ir.js";

export const translator: Translator = viaIr(responsesClient, anthropicBackend);
