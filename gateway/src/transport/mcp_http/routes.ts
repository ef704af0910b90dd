// MCP Streamable HTTP (spec 2025-03-26; 2025-06-18's header tolerated) at
// /mcp, on the same session core as the WebSocket: POST (post.ts), GET and
// DELETE (get.ts, delete.ts). See this folder's README.
import type { NatsConnection } from "@nats-io/nats-core";
import type { Delivery } from "../../delivery.js";
import type { EndedSessions } from "../../ended.js";
import type { History } from "../../history.js";
import type { Hub } from "../../hub.js";
import type { Ingress } from "../../ingress.js";
import type { HttpRoute } from "../http.js";
import type { McpHttp, McpHttpOptions } from "./context.js";
import { end } from "./delete.js";
import { get } from "./get.js";
import { post } from "./post.js";
import { PostLedger } from "./post_ledger.js";
import { errorBody } from "./session_header.js";

export function mcpHttpRoutes(
  nc: NatsConnection,
  hub: Hub,
  ingress: Ingress,
  delivery: Delivery,
  history: History,
  ended: EndedSessions,
  o: McpHttpOptions,
): HttpRoute[] {
  const c: McpHttp = { hub, ingress, delivery, history, ended, posts: new PostLedger(nc), o };
  hub.onNotice((sid, n) => {
    if (n.kind === "resumedFrom") c.posts.abandonSent(sid, n.eventId);
    else if (n.kind === "ended") c.posts.sessionEnded(sid);
  });
  return [
    {
      path: "/mcp",
      protocol: "mcp",
      methods: { post: (x, req) => post(c, x, req), get: (x, req) => get(c, x, req), delete: (x, req) => end(c, x, req) },
      errorBody,
    },
  ];
}
