// responses client, google upstream: through the neutral form.
import { googleBackend } from "./codec_google.js";
import { responsesClient } from "./codec_responses.js";
import type { Translator } from "./types.js";
import { viaIr } from "./via_ir.js";

export const translator: Translator = viaIr(responsesClient, googleBackend);
