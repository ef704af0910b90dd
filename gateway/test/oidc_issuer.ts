// A local OIDC issuer for end-to-end tests: discovery and a JWKS served over
// HTTP on 127.0.0.1 (keys made by jose), and tokens signed with them — or
// with a key it never published, or for another audience, already expired…
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose";

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

export interface SignOptions {
  /** default: the issuer's own URL */
  iss?: string;
  /** default: the audience it was made with */
  aud?: string;
  /** seconds from now; negative: already expired (default 600) */
  expIn?: number;
  /** sign with a key the JWKS does not list */
  unknownKey?: boolean;
  claims?: JWTPayload;
}

export class OidcIssuer {
  private constructor(
    private readonly server: Server,
    readonly url: string,
    readonly audience: string,
    private readonly key: KeyPair,
    private readonly stranger: KeyPair,
  ) {}

  static async start(audience: string): Promise<OidcIssuer> {
    const key = await generateKeyPair("ES256");
    const stranger = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(key.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    let url = "";
    const server = createServer((req, res) => {
      const send = (body: unknown) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
      if (req.url === "/.well-known/openid-configuration") return send({ issuer: url, jwks_uri: `${url}/jwks` });
      if (req.url === "/jwks") return send({ keys: [jwk] });
      res.writeHead(404).end();
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return new OidcIssuer(server, url, audience, key, stranger);
  }

  /** A token for `sub`. */
  sign(sub: string, o: SignOptions = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ ...o.claims })
      .setProtectedHeader({ alg: "ES256", kid: o.unknownKey ? "k-unknown" : "k1" })
      .setSubject(sub)
      .setIssuer(o.iss ?? this.url)
      .setAudience(o.aud ?? this.audience)
      .setIssuedAt(now - 5)
      .setExpirationTime(now + (o.expIn ?? 600))
      .sign(o.unknownKey ? this.stranger.privateKey : this.key.privateKey);
  }

  close(): void {
    this.server.close();
    this.server.closeAllConnections();
  }
}
