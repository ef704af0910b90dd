// POST /mcp: one message or a batch into INBOX. Requests are answered on this
// POST's own response — an SSE stream (answer_stream.ts) or, when the client
// accepts only JSON, one JSON body (answer_json.ts); notifications and
// responses alone get 202. Delivery routes the request's replies here by its
// request id; a request re-sent with an id JetStream had seen is not run
// again: its replies are read back from HISTORY.
import type { Identity } from "../../auth/authenticator.js";
import type { HttpRequest } from "uWebSockets.js";
import { inboxPolicy, rpcRequestId, type SessionId } from "@radiant/wire";
import { settle } from "../../guard.js";
import { notQueued, type RequestOf } from "../../ingress.js";
import { accepts, isJson, type Exchange } from "../http.js";
import type { Answer } from "../answer.js";
import { JsonAnswer } from "./answer_json.js";
import { StreamAnswer } from "./answer_stream.js";
import { NOT_JSON, readBody } from "./body.js";
import { PRIMING_SINCE, SESSION_HEADER, type McpHttp } from "./context.js";
import { sessionOf } from "./session_header.js";

export function post(c: McpHttp, x: Exchange, req: HttpRequest): void {
  const accept = req.getHeader("accept");
  const token = req.getHeader("mcp-session-id");
  const version = req.getHeader("mcp-protocol-version");
  const contentType = req.getHeader("content-type");
  const declared = req.getHeader("content-length");
  const who = x.who;
  // an explicit text/event-stream picks the stream; a client that accepts only JSON gets JSON
  const streaming = accept.toLowerCase().includes("text/event-stream");
  if (!streaming && !accepts(accept, "application/json")) {
    x.fail("406 Not Acceptable", "Not Acceptable: the client must accept application/json and/or text/event-stream");
    return;
  }
  if (!isJson(contentType)) {
    x.fail("415 Unsupported Media Type", "Unsupported Media Type: the body must be application/json");
    return;
  }
  const claims = token === "" ? undefined : sessionOf(c, x, token, who.principal);
  if (token !== "" && !claims) return;
  const answered = x.body(c.o.maxPayload, declared).then(async (b) => {
    if (!b) return;
    let body: ReturnType<typeof readBody>;
    try {
      body = readBody(b);
    } catch {
      body = { status: "400 Bad Request", error: NOT_JSON };
    }
    if ("error" in body) return x.reply(body.status, body.error);
    let sid: SessionId;
    const extra: [string, string][] = [];
    if (claims) sid = claims.sid;
    else if (body.initialize) {
      const fresh = c.hub.newSession(who.principal);
      sid = fresh.sid;
      extra.push([SESSION_HEADER, fresh.token]);
    } else {
      sessionOf(c, x, "", who.principal);
      return;
    }
    const forward = body.forward;
    if (body.requests.length === 0 || !forward) {
      // nothing to wait for: notifications, responses (and errors for items refused here)
      try {
        if (forward) await c.ingress.submit(sid, who, "mcp", { rid: c.ingress.newRequestId(), op: "rpc", dedupe: false }, forward, 0);
        if (body.rejected.length > 0) x.reply("200 OK", `[${body.rejected.join(",")}]`, { headers: extra });
        else x.reply("202 Accepted", "", { headers: extra });
      } catch (e) {
        notQueued(x, e, "mcp", body.idJson);
      }
      return;
    }
    // one request: its id names it (a re-sent one is found); a batch: a request id of its own
    const r: RequestOf =
      body.batch || body.idJson === "null"
        ? { rid: c.ingress.newRequestId(), op: "rpc", dedupe: false }
        : { rid: rpcRequestId(body.idJson), op: "rpc", dedupe: true };
    const answer: Answer = streaming
      ? new StreamAnswer(x, extra, version >= PRIMING_SINCE ? c.o.newestSeq() : -1, body.rejected)
      : new JsonAnswer(x, extra, body.batch, body.rejected);
    await answerRequest(c, x, answer, sid, who, r, forward, streaming, body.batch ? "null" : body.idJson, body.requests.length);
  });
  settle("POST /mcp", answered, () => x.fail("500 Internal Server Error", "Internal error"));
}

async function answerRequest(
  c: McpHttp,
  x: Exchange,
  answer: Answer,
  sid: SessionId,
  who: Identity,
  r: RequestOf,
  body: Buffer,
  streaming: boolean,
  idJson: string,
  /** the requests it carries (a batch: several), for the limits */
  cost: number,
): Promise<void> {
  c.posts.opened(sid, r.rid, answer, streaming ? "stream" : "json");
  const over = () => {
    clearTimeout(timer);
    c.delivery.closeRequest(sid, r.rid, answer);
    c.posts.closed(sid, r.rid, answer, !answer.completed);
  };
  const timer = setTimeout(() => answer.timeout(c.o.responseTimeoutMs), c.o.responseTimeoutMs);
  answer.onOver = over;
  // a client gone is not a cancellation (MCP): the reply waits in HISTORY for its GET
  x.onAbort = () => answer.abandon();
  try {
    // a JSON answer has no room for what the handler sends while working: the session's GET stream takes that
    await c.delivery.openRequest(sid, r.rid, answer, { share: !streaming });
  } catch {
    answer.onOver = () => {};
    over();
    return x.fail("503 Service Unavailable", "Service unavailable: the session's history cannot be read; retry", { headers: [["Retry-After", "1"]] });
  }
  let duplicate: boolean;
  try {
    duplicate = (await c.ingress.submit(sid, who, "mcp", r, body, cost)).duplicate;
  } catch (e) {
    answer.onOver = () => {};
    over();
    return notQueued(x, e, "mcp", idJson);
  }
  if (duplicate) {
    // it ran (or runs) already: what it stored since is in HISTORY (within the de-duplication window)
    const since = Date.now() - inboxPolicy.duplicateWindowMs - 5000;
    void answer.replay(c.history.since(sid, since), r.rid).catch(() => {}); // unreadable now: the timeout answers
  }
  answer.start();
}
