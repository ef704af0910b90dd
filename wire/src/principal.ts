// Who a request belongs to. A principal (and a tenant) comes from a verified
// credential — an OIDC token's `sub`, a gateway API key, a client
// certificate — and rides in every INBOX envelope to the workers, which keep
// tasks and sessions apart by it. Whatever its source, it is checked here
// first: printable ASCII, no leading or trailing space, at most 256
// characters, so it is safe in logs, envelopes, metrics labels and KV values.

/** the principal of a client that presented no credential (GATEWAY_AUTH_REQUIRED=false) */
export const ANONYMOUS = "anonymous";

const PRINCIPAL_RE = /^[\x21-\x7e](?:[\x20-\x7e]{0,254}[\x21-\x7e])?$/;

/** Whether `s` may name a principal or a tenant. */
export function isPrincipal(s: unknown): s is string {
  return typeof s === "string" && PRINCIPAL_RE.test(s);
}

/** Whether a credential may name `s` as its principal: any principal but ANONYMOUS (else it would own every uncredentialed client's sessions and tasks). */
export function isCredentialPrincipal(s: unknown): s is string {
  return isPrincipal(s) && s !== ANONYMOUS;
}

/** the id of a gateway API key (base32, made by the admin API): what may name one in an envelope or a KV key */
export const KEY_ID_RE = /^[a-z2-7]{16}$/;

const MODEL_PATTERN_RE = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}\*?$/;

/** A key's model allowlist: model names, or prefixes ending in `*`. */
export function isModelList(v: unknown): v is string[] {
  return Array.isArray(v) && v.length <= 1000 && v.every((m) => typeof m === "string" && MODEL_PATTERN_RE.test(m));
}

/** Whether an allowlist (absent: anything) lets `model` through. */
export function modelAllowed(models: readonly string[] | undefined, model: string): boolean {
  return models === undefined || models.some((m) => (m.endsWith("*") ? model.startsWith(m.slice(0, -1)) : model === m));
}
