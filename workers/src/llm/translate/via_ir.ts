// A cross-format pair: the client's half decodes into the neutral form, the
// backend's half encodes it for the upstream, and back.
import type { BackendCodec, ClientCodec, Translator } from "./types.js";

export function viaIr(client: ClientCodec, backend: BackendCodec): Translator {
  return {
    client: client.api,
    backend: backend.format,
    request: (body, c) => backend.toUpstream(client.fromClient(body, c), c),
    response: (upstream, c) => client.toClient(backend.fromUpstream(upstream), c),
    stream(c) {
      const decode = backend.upstreamStream();
      const out = client.clientStream(c);
      return {
        push: (ev) => decode(ev).flatMap((e) => out.push(e)),
        end: () => out.end(),
      };
    },
    error(status, body, retryAfter) {
      const e = backend.upstreamError(status, body);
      return client.clientError(e.status, e.message, retryAfter);
    },
  };
}
