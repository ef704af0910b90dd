// DELETE /mcp: the session ends on every gateway (ended.ts): its streams
// close, its requests stop, its history is purged, its id gets 404 from then on.
import type { HttpRequest } from "uWebSockets.js";
import { protocolErrorJson } from "@radiant/wire";
import type { Exchange } from "../http.js";
import type { McpHttp } from "./context.js";
import { sessionOf } from "./session_header.js";

export function end(c: McpHttp, x: Exchange, req: HttpRequest): void {
  const claims = sessionOf(c, x, req.getHeader("mcp-session-id"), x.who.principal);
  if (!claims) return;
  c.ended.end(claims.sid).then(
    () => x.reply("200 OK", ""),
    (e: Error) =>
      x.reply("503 Service Unavailable", protocolErrorJson("mcp", "unavailable", `Service unavailable: the session could not be ended (${e.message}); retry`), {
        headers: [["Retry-After", "1"]],
      }),
  );
}
