// The format matrix: every client API × every backend format, one file each.
import type { Backend, ClientApi, PairName, Translator } from "./types.js";
import { translator as anthropic_anthropic } from "./anthropic_anthropic.js";
import { translator as anthropic_google } from "./anthropic_google.js";
import { translator as anthropic_openai } from "./anthropic_openai.js";
import { translator as google_anthropic } from "./google_anthropic.js";
import { translator as google_google } from "./google_google.js";
import { translator as google_openai } from "./google_openai.js";
import { translator as openai_anthropic } from "./openai_anthropic.js";
import { translator as openai_google } from "./openai_google.js";
import { translator as openai_openai } from "./openai_openai.js";
import { translator as responses_anthropic } from "./responses_anthropic.js";
import { translator as responses_google } from "./responses_google.js";
import { translator as responses_openai } from "./responses_openai.js";

export const translators: Record<PairName, Translator> = {
  openai_openai,
  openai_anthropic,
  openai_google,
  responses_openai,
  responses_anthropic,
  responses_google,
  anthropic_openai,
  anthropic_anthropic,
  anthropic_google,
  google_openai,
  google_anthropic,
  google_google,
};

export function translatorFor(client: ClientApi, backend: Backend): Translator {
  return translators[`${client}_${backend}`];
}
