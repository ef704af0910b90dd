// Who is connecting: one synchronous decision per request or upgrade, from
// whichever credential the client shows (credentials.ts) — a gateway API key
// (api_keys.ts), an OIDC token (oidc.ts), or a client certificate vouched for
// by a trusted front proxy (xfcc.ts; this uWS build cannot show JavaScript a
// certificate of its own handshake).
// Synchronous because this uWS build must finish a WebSocket upgrade inside
// its own callback; every check here is a lookup or a signature check in
// memory.
import { ANONYMOUS } from "@radiant/wire";
import { metrics } from "../metrics.js";
import { type ApiKeyRecord, type ApiKeys, KEY_PREFIX } from "./api_keys.js";
import { type CredentialSource, credentialOf, MAX_CREDENTIAL } from "./credentials.js";
import { looksLikeJwt } from "./jwt.js";
import type { OidcVerifier } from "./oidc.js";
import type { TrustedProxies } from "./trusted_proxies.js";
import { parseXfcc, principalOfCert } from "./xfcc.js";

export type Via = "anonymous" | "key" | "jwt" | "cert";

/** Who a request or a session belongs to. */
export interface Identity {
  principal: string;
  tenant?: string;
  /** the API key it came with: its models and limits */
  key?: ApiKeyRecord;
  via: Via;
}

export const ANONYMOUS_IDENTITY: Identity = { principal: ANONYMOUS, via: "anonymous" };

export interface AuthRequest extends CredentialSource {
  /** the TCP peer's address, as text (read only when a forwarded certificate needs it) */
  peer(): string;
}

export type AuthResult =
  | { ok: true; who: Identity }
  | {
      ok: false;
      /** 401: the credential is missing or wrong; 503: what would check it is not loaded yet (retry) */
      status: "401 Unauthorized" | "503 Service Unavailable";
      /** a sentence for the client */
      reason: string;
      /** a short label for metrics and logs */
      code: string;
    };

export interface AuthOptions {
  /** GATEWAY_AUTH_REQUIRED: a request without a credential is refused */
  required: boolean;
  keys: ApiKeys;
  oidc?: OidcVerifier;
  trustedProxies: TrustedProxies;
}

const refuse = (code: string, reason: string, status: "401 Unauthorized" | "503 Service Unavailable" = "401 Unauthorized"): AuthResult => {
  metrics.authRefused.inc({ code });
  return { ok: false, status, reason, code };
};

const accept = (who: Identity): AuthResult => {
  metrics.authAccepted.inc({ via: who.via });
  return { ok: true, who };
};

export class Authenticator {
  constructor(private readonly o: AuthOptions) {}

  get required(): boolean {
    return this.o.required;
  }

  authenticate(r: AuthRequest): AuthResult {
    const cred = credentialOf(r);
    if (cred !== undefined) {
      if (cred.value.length > MAX_CREDENTIAL) return refuse("too_long", `credential longer than ${MAX_CREDENTIAL} characters`);
      if (cred.value.startsWith(KEY_PREFIX)) return this.byKey(cred.value);
      if (this.o.oidc && looksLikeJwt(cred.value)) return this.byJwt(this.o.oidc, cred.value);
      // not one of ours: the placeholder key an SDK insists on, when nothing is required
      if (this.o.required) return refuse("unrecognised", "the credential is neither a RADIANT API key nor an OIDC token of the configured issuer");
    }
    const xfcc = r.header("x-forwarded-client-cert");
    if (xfcc !== "" && !this.o.trustedProxies.empty && this.o.trustedProxies.has(r.peer())) return this.byForwardedCert(xfcc);
    if (this.o.required) {
      return refuse(
        "missing",
        "a credential is required: an API key (Authorization: Bearer, x-api-key, x-goog-api-key, ?key=), an OIDC token (Authorization: Bearer, ?token=) or a client certificate",
      );
    }
    return accept(ANONYMOUS_IDENTITY);
  }

  private byKey(value: string): AuthResult {
    const c = this.o.keys.check(value);
    if (c.ok) {
      const r = c.record;
      return accept(r.tenant === undefined ? { principal: r.principal, key: r, via: "key" } : { principal: r.principal, tenant: r.tenant, key: r, via: "key" });
    }
    return c.why === "not_ready"
      ? refuse("keys_loading", "API keys are still loading: retry in a moment", "503 Service Unavailable")
      : refuse("bad_key", "unknown or revoked API key");
  }

  private byJwt(oidc: OidcVerifier, token: string): AuthResult {
    const v = oidc.verify(token);
    if (v.ok) return accept(v.tenant === undefined ? { principal: v.principal, via: "jwt" } : { principal: v.principal, tenant: v.tenant, via: "jwt" });
    if (v.code === "no_keys") return refuse("jwt_no_keys", "the OIDC issuer's signing keys are not loaded yet: retry in a moment", "503 Service Unavailable");
    return refuse(`jwt_${v.code}`, `invalid token: ${v.reason}`);
  }

  private byForwardedCert(xfcc: string): AuthResult {
    const cert = parseXfcc(xfcc);
    const principal = cert && principalOfCert(cert);
    if (principal === undefined) return refuse("bad_xfcc", "the front proxy's X-Forwarded-Client-Cert names no usable subject (CN, URI or DNS)");
    return accept({ principal, via: "cert" });
  }
}
