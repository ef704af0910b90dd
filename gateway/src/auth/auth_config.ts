// The authentication settings (README: Authentication), checked at start:
// a certificate that does not load, a trusted-proxy list that does not parse
// or an OIDC issuer without an audience stop the gateway with one clear line
// rather than failing each handshake later.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { bool, ConfigError, int, url } from "@radiant/infra/env";
import { TrustedProxies } from "./trusted_proxies.js";

type Env = Record<string, string | undefined>;

export interface TlsFiles {
  cert: string;
  key: string;
  /**
   * GATEWAY_TLS_CLIENT_CA: uWS asks for a client certificate and refuses one
   * of another CA, expired, or not for client auth. This uWS build can neither
   * require one (a client that sends none gets through) nor show it to
   * JavaScript, so it is not a credential by itself (README: mTLS).
   */
  clientCa?: string;
}

export interface PrincipalLimits {
  /** connections at once (WebSockets and event streams); 0: no limit */
  connections: number;
  /** requests per minute; 0: no limit */
  rpm: number;
  /** LLM tokens per minute (from the providers' usage); 0: no limit */
  tpm: number;
}

export interface AuthConfig {
  required: boolean;
  tls?: TlsFiles;
  /** GATEWAY_TRUSTED_PROXIES, as given (parsed by TrustedProxies) */
  trustedProxies: string;
  oidc?: { issuerUrl: string; audience: string; tenantClaim?: string };
  /** GATEWAY_ADMIN_TOKEN; absent: the admin API is off */
  adminToken?: string;
  /** every principal's limits (GATEWAY_PRINCIPAL_*); a key's own limits apply besides */
  limits: PrincipalLimits;
}

/** shortest admin token accepted outside development mode */
export const MIN_ADMIN_TOKEN = 32;

function pemFile(env: Env, name: string, check: (pem: string) => void): string | undefined {
  const path = env[name];
  if (path === undefined || path === "") return undefined;
  let pem: string;
  try {
    pem = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(name, `cannot read "${path}": ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    check(pem);
  } catch (e) {
    throw new ConfigError(name, `"${path}" is not a usable PEM file: ${(e as Error).message}`);
  }
  return path;
}

function tlsFiles(env: Env): TlsFiles | undefined {
  const cert = pemFile(env, "GATEWAY_TLS_CERT", (pem) => new X509Certificate(pem));
  const key = pemFile(env, "GATEWAY_TLS_KEY", (pem) => createPrivateKey(pem));
  const clientCa = pemFile(env, "GATEWAY_TLS_CLIENT_CA", (pem) => new X509Certificate(pem));
  if ((cert === undefined) !== (key === undefined)) {
    throw new ConfigError(cert === undefined ? "GATEWAY_TLS_CERT" : "GATEWAY_TLS_KEY", "GATEWAY_TLS_CERT and GATEWAY_TLS_KEY go together: set both or neither");
  }
  if (cert === undefined || key === undefined) {
    if (clientCa !== undefined) throw new ConfigError("GATEWAY_TLS_CLIENT_CA", "needs TLS on the client port: set GATEWAY_TLS_CERT and GATEWAY_TLS_KEY too");
    return undefined;
  }
  if (!new X509Certificate(readFileSync(cert, "utf8")).checkPrivateKey(createPrivateKey(readFileSync(key, "utf8")))) {
    throw new ConfigError("GATEWAY_TLS_KEY", "is not the private key of GATEWAY_TLS_CERT");
  }
  return clientCa === undefined ? { cert, key } : { cert, key, clientCa };
}

function oidcOf(env: Env): AuthConfig["oidc"] {
  const issuer = env.OIDC_ISSUER_URL ?? "";
  const audience = env.OIDC_AUDIENCE ?? "";
  if (issuer === "") {
    if (audience !== "") throw new ConfigError("OIDC_AUDIENCE", "is set but OIDC_ISSUER_URL is not");
    return undefined;
  }
  const issuerUrl = url(env, "OIDC_ISSUER_URL", "", ["https", "http"]);
  if (audience.trim() === "")
    throw new ConfigError("OIDC_AUDIENCE", "must be set with OIDC_ISSUER_URL: tokens meant for another service must not be accepted here");
  const claim = env.OIDC_TENANT_CLAIM ?? "";
  if (claim !== "" && !/^[A-Za-z0-9_.:/-]{1,128}$/.test(claim)) throw new ConfigError("OIDC_TENANT_CLAIM", `"${claim}" is not a claim name`);
  return claim === "" ? { issuerUrl, audience } : { issuerUrl, audience, tenantClaim: claim };
}

export function loadAuthConfig(env: Env, dev: boolean): AuthConfig {
  const trustedProxies = env.GATEWAY_TRUSTED_PROXIES ?? "";
  try {
    new TrustedProxies(trustedProxies);
  } catch (e) {
    throw new ConfigError("GATEWAY_TRUSTED_PROXIES", (e as Error).message);
  }
  const adminToken = env.GATEWAY_ADMIN_TOKEN ?? "";
  if (adminToken !== "" && !dev && adminToken.length < MIN_ADMIN_TOKEN) {
    throw new ConfigError(
      "GATEWAY_ADMIN_TOKEN",
      `is ${adminToken.length} characters: use a random token of at least ${MIN_ADMIN_TOKEN} (GATEWAY_DEV=true allows a short one)`,
    );
  }
  const tls = tlsFiles(env);
  const oidc = oidcOf(env);
  return {
    required: bool(env, "GATEWAY_AUTH_REQUIRED", false),
    ...(tls ? { tls } : {}),
    trustedProxies,
    ...(oidc ? { oidc } : {}),
    ...(adminToken !== "" ? { adminToken } : {}),
    limits: {
      connections: int(env, "GATEWAY_PRINCIPAL_MAX_CONNECTIONS", 0, 0, 100_000_000),
      rpm: int(env, "GATEWAY_PRINCIPAL_RPM", 0, 0, 1e12),
      tpm: int(env, "GATEWAY_PRINCIPAL_TPM", 0, 0, 1e15),
    },
  };
}
