// Load uWebSockets.js and make sure it is the native binary. The package we
// install (docs/design.md) silently falls back to a pure-JS `ws` shim when its
// binary does not load; we would rather not start than run on that.
import { createRequire } from "node:module";
import type * as UWS from "uWebSockets.js";

const require = createRequire(import.meta.url);

export class NativeUwsError extends Error {}

export function loadNativeUws(): typeof UWS {
  if (process.env.UWS_USE_FALLBACK) {
    throw new NativeUwsError("UWS_USE_FALLBACK is set: refusing to run on the JS fallback of uWebSockets.js; unset it");
  }
  const entry = require.resolve("uWebSockets.js");
  // the package logs its own warning on fallback; ours is the one that stops the start
  const uws = require("uWebSockets.js") as typeof UWS;
  const loadedNative = Object.keys(require.cache).some((k) => k.endsWith(".node") && k.includes("uws_"));
  const fallback = Object.keys(require.cache).some((k) => k.startsWith(entry.replace(/src\/uws\.js$/, "dist/")));
  if (!loadedNative || fallback) {
    throw new NativeUwsError(
      `uWebSockets.js did not load its native binary for ${process.platform}-${process.arch} (Node ABI ${process.versions.modules}) and fell back to the JS shim; refusing to start`,
    );
  }
  return uws;
}
