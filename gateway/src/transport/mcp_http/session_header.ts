// Mcp-Session-Id is the session's resume token: issued with the initialize
// result, checked by any gateway process without shared state. Missing → 400,
// unknown, expired or ended → 404 (the client initializes again).
import { type ErrorKind, protocolErrorJson } from "@radiant/wire";
import { ResumeTokenError, type ResumeClaims } from "../../resume_token.js";
import type { Exchange } from "../http.js";
import { SESSION_HEADER, type McpHttp } from "./context.js";

export const errorBody = (message: string, kind: ErrorKind = "refused") => protocolErrorJson("mcp", kind, message);

/** The session a request names, or undefined after answering 400/404. */
export function sessionOf(c: McpHttp, x: Exchange, token: string, principal: string): ResumeClaims | undefined {
  if (token === "") {
    x.fail("400 Bad Request", `Bad Request: the ${SESSION_HEADER} header is required (initialize first)`);
    return undefined;
  }
  try {
    return c.hub.claimsOf(token, principal);
  } catch (e) {
    if (!(e instanceof ResumeTokenError)) throw e;
    x.fail("404 Not Found", `Session not found: ${e.message}; initialize a new session`);
    return undefined;
  }
}
