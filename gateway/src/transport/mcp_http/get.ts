// GET /mcp: the session's stream for everything not sent on a POST. Event ids
// are HISTORY sequences, so Last-Event-ID resumes it from HISTORY — and a POST
// stream cut before its reply resumes here too (post_ledger.ts says which
// frames are this stream's).
import type { HttpRequest } from "uWebSockets.js";
import { accepts, type Exchange } from "../http.js";
import { openSessionStream, overConnections } from "../sse.js";
import { SseStream } from "../sse_stream.js";
import { PRIMING_SINCE, type McpHttp } from "./context.js";
import { sessionOf } from "./session_header.js";

/** What an MCP client hears when HISTORY dropped messages its GET had not read: a logging notification (its spec has no close codes). */
const lostNotice = (afterSeq: number) =>
  JSON.stringify({
    jsonrpc: "2.0",
    method: "notifications/message",
    params: {
      level: "error",
      logger: "radiant",
      data: `messages after event ${afterSeq} expired from the session's history before this stream read them; they are lost`,
    },
  });

export function get(c: McpHttp, x: Exchange, req: HttpRequest): void {
  const version = req.getHeader("mcp-protocol-version");
  const lastEventId = req.getHeader("last-event-id");
  if (!accepts(req.getHeader("accept"), "text/event-stream")) {
    x.fail("406 Not Acceptable", "Not Acceptable: GET /mcp answers text/event-stream");
    return;
  }
  const claims = sessionOf(c, x, req.getHeader("mcp-session-id"), x.who.principal);
  if (!claims) return;
  const lastSeq = lastEventId === "" ? "end" : Number(lastEventId);
  if (lastSeq !== "end" && !(Number.isSafeInteger(lastSeq) && lastSeq >= 0)) {
    x.fail("400 Bad Request", "Bad Request: Last-Event-ID must be an event id this server sent (a whole number)");
    return;
  }
  if (overConnections(c.hub, x)) return;
  const sid = claims.sid;
  if (lastSeq !== "end") c.posts.resumedFrom(sid, lastSeq);
  const sse = new SseStream(x, "plain");
  // the standalone stream, or one resuming a cut stream
  sse.accepts = lastSeq === "end" ? c.posts.standalone(sid) : c.posts.resumed(sid);
  sse.prime = version >= PRIMING_SINCE ? (seq) => sse.mark(seq) : () => {};
  // parked: heartbeats only, until its client lets go
  sse.takenOver = () => {};
  sse.historyLost = (afterSeq) => {
    sse.send(lostNotice(afterSeq), 0);
    return true;
  };
  openSessionStream(c.hub, { kind: "resume", sid, lastSeq, epoch: claims.epoch }, x.who, sse);
}
