// What the parts of MCP's HTTP transport share: the session core, and the
// ledger of POST answers.
import type { Delivery } from "../../delivery.js";
import type { EndedSessions } from "../../ended.js";
import type { History } from "../../history.js";
import type { Hub } from "../../hub.js";
import type { Ingress } from "../../ingress.js";
import type { PostLedger } from "./post_ledger.js";

export interface McpHttpOptions {
  maxPayload: number;
  /** a POST waits this long for its replies; then an SSE answer ends (the client resumes with GET), a JSON one gets 504 */
  responseTimeoutMs: number;
  /** the position just past the newest HISTORY message known: a POST stream's first event id (a safe place to resume from) */
  newestSeq: () => number;
}

export interface McpHttp {
  hub: Hub;
  ingress: Ingress;
  delivery: Delivery;
  history: History;
  ended: EndedSessions;
  posts: PostLedger;
  o: McpHttpOptions;
}

export const SESSION_HEADER = "Mcp-Session-Id";
/** clients of this revision and later understand an event with an id and no data (a resume point) */
export const PRIMING_SINCE = "2025-11-25";
