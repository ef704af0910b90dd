// openai client, openai upstream: one format, passed through (passthrough.ts).
import { passthrough } from "./passthrough.js";
import type { Translator } from "./types.js";

export const translator: Translator = passthrough("openai");
