// Resume tokens: a JWT (HS256, jose) bound to the session id and to the
// principal it was issued to, with an expiry. A token alone does not let
// another principal take a session over.
import { SignJWT, jwtVerify, errors } from "jose";

export interface ResumeClaims {
  sid: string;
  principal: string;
}

export class ResumeTokenError extends Error {}

export class ResumeTokens {
  private readonly key: Uint8Array;

  constructor(
    secret: string,
    private readonly ttlS: number,
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  async issue(c: ResumeClaims): Promise<string> {
    return new SignJWT({ sid: c.sid })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(c.principal)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + this.ttlS)
      .sign(this.key);
  }

  /** The claims of a valid token presented by `principal`; throws ResumeTokenError saying why not. */
  async verify(token: string, principal: string): Promise<ResumeClaims> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.key, { algorithms: ["HS256"] }));
    } catch (e) {
      if (e instanceof errors.JWTExpired) throw new ResumeTokenError("resume token expired");
      throw new ResumeTokenError("resume token invalid");
    }
    if (typeof payload.sid !== "string" || typeof payload.sub !== "string") throw new ResumeTokenError("resume token invalid");
    if (payload.sub !== principal) throw new ResumeTokenError("resume token was issued to another principal");
    return { sid: payload.sid, principal: payload.sub };
  }
}
