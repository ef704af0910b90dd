// Resume tokens: standard HS256 JWTs bound to the session id (`sid`) and the
// principal it was issued to (`sub`), with an expiry (`exp`). A token alone
// does not let another principal take a session over.
//
// Signed and verified synchronously with node:crypto, not with jose's async
// API: the WebSocket upgrade must finish inside uWS's upgrade callback. An
// upgrade completed later (res.cork(() => res.upgrade())) makes this uWS build
// close a fresh socket at random (uNetworking/uWebSockets#1928, fixed upstream
// after 20.30). The tests check that jose verifies these tokens unchanged.
import { createHmac, timingSafeEqual } from "node:crypto";
import { asSessionId, type SessionId } from "@radiant/wire";

export interface ResumeClaims {
  sid: SessionId;
  principal: string;
  /** the HISTORY epoch the session's seq_nums belong to */
  epoch: string;
}

export class ResumeTokenError extends Error {}

/** A valid token for a session its client ended (MCP's DELETE): refused like a bad one, and said so. */
export class SessionEnded extends ResumeTokenError {
  constructor() {
    super("the session was ended (by its client or an admin)");
  }
}

const HEADER = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url");

export class ResumeTokens {
  constructor(
    private readonly secret: string,
    private readonly ttlS: number,
  ) {}

  private sign(input: string): string {
    return createHmac("sha256", this.secret).update(input).digest("base64url");
  }

  issue(c: ResumeClaims, nowS = Math.floor(Date.now() / 1000)): string {
    const payload = Buffer.from(JSON.stringify({ sid: c.sid, sub: c.principal, ep: c.epoch, iat: nowS, exp: nowS + this.ttlS })).toString("base64url");
    const input = `${HEADER}.${payload}`;
    // join makes one flat string; a template would make a rope that keeps its pieces (a session holds its token)
    return [input, this.sign(input)].join(".");
  }

  /** The claims of a valid token presented by `principal`; throws ResumeTokenError saying why not. */
  verify(token: string, principal: string, nowS = Math.floor(Date.now() / 1000)): ResumeClaims {
    const parts = token.split(".");
    if (parts.length !== 3) throw new ResumeTokenError("resume token invalid: not a JWT");
    const [h, p, sig] = parts as [string, string, string];
    const want = Buffer.from(this.sign(`${h}.${p}`));
    const got = Buffer.from(sig);
    if (got.length !== want.length || !timingSafeEqual(got, want)) throw new ResumeTokenError("resume token invalid: bad signature");
    let header: { alg?: unknown };
    let claims: { sid?: unknown; sub?: unknown; ep?: unknown; exp?: unknown };
    try {
      header = JSON.parse(Buffer.from(h, "base64url").toString()) as typeof header;
      claims = JSON.parse(Buffer.from(p, "base64url").toString()) as typeof claims;
    } catch {
      throw new ResumeTokenError("resume token invalid: unreadable");
    }
    if (typeof header !== "object" || header === null || typeof claims !== "object" || claims === null) {
      throw new ResumeTokenError("resume token invalid: unreadable");
    }
    if (header.alg !== "HS256") throw new ResumeTokenError("resume token invalid: unexpected algorithm");
    if (typeof claims.sid !== "string" || typeof claims.sub !== "string" || typeof claims.ep !== "string" || typeof claims.exp !== "number") {
      throw new ResumeTokenError("resume token invalid: missing claims");
    }
    // signed by us, yet checked: a leaked or default secret must not let a token name a wildcard or a malformed subject
    const sid = asSessionId(claims.sid);
    if (!sid) throw new ResumeTokenError("resume token invalid: its session id is malformed");
    if (claims.exp <= nowS) throw new ResumeTokenError("resume token expired");
    if (claims.sub !== principal) throw new ResumeTokenError("resume token was issued to another principal");
    return { sid, principal: claims.sub, epoch: claims.ep };
  }
}
