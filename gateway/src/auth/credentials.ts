// Where each client puts its credential. LLM SDKs send their key in their
// own header (OpenAI `Authorization: Bearer`, Anthropic `x-api-key`, Google
// `x-goog-api-key` or `?key=`); browsers cannot set headers on EventSource or
// WebSocket, so a `?token=` query and a WebSocket subprotocol entry
// `radiant.bearer.<token>` carry one too. The first found, in that order, is
// the request's credential.

/** What a request shows of itself, read synchronously inside the uWS handler. */
export interface CredentialSource {
  header(name: string): string;
  query(name: string): string;
}

/** the subprotocol entry a browser WebSocket carries its token in: `radiant.bearer.<token>` */
export const WS_BEARER_PREFIX = "radiant.bearer.";

/** credentials longer than this are refused unread (a JWT with many claims stays far below) */
export const MAX_CREDENTIAL = 8192;

export type CredentialFrom = "authorization" | "x-api-key" | "x-goog-api-key" | "subprotocol" | "token" | "key";

export interface Credential {
  value: string;
  from: CredentialFrom;
}

const BEARER = /^bearer[ \t]+/i;

/** The request's credential, if it shows one. `Authorization` of another scheme (Basic, …) is not ours. */
export function credentialOf(src: CredentialSource): Credential | undefined {
  const authz = src.header("authorization");
  if (authz !== "" && BEARER.test(authz)) return { value: authz.replace(BEARER, "").trim(), from: "authorization" };
  const apiKey = src.header("x-api-key");
  if (apiKey !== "") return { value: apiKey.trim(), from: "x-api-key" };
  const goog = src.header("x-goog-api-key");
  if (goog !== "") return { value: goog.trim(), from: "x-goog-api-key" };
  const sub = bearerSubprotocol(src.header("sec-websocket-protocol"));
  if (sub !== undefined) return { value: sub, from: "subprotocol" };
  const token = src.query("token");
  if (token !== "") return { value: token, from: "token" };
  const key = src.query("key");
  if (key !== "") return { value: key, from: "key" };
  return undefined;
}

/** The token in a `radiant.bearer.<token>` subprotocol entry, if one is offered. */
export function bearerSubprotocol(offered: string): string | undefined {
  if (!offered.includes(WS_BEARER_PREFIX)) return undefined;
  for (const p of offered.split(",")) {
    const e = p.trim();
    if (e.startsWith(WS_BEARER_PREFIX)) return e.slice(WS_BEARER_PREFIX.length);
  }
  return undefined;
}

/** The offered subprotocols without the credential entry: what the framing is chosen from. */
export function withoutBearer(offered: string): string {
  if (!offered.includes(WS_BEARER_PREFIX)) return offered;
  return offered
    .split(",")
    .filter((p) => !p.trim().startsWith(WS_BEARER_PREFIX))
    .join(",");
}
