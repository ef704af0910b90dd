// A2A v1.0's HTTP+JSON binding, made the JSON-RPC method it stands for: the
// path and query say the method and the ids, the body (if any) is its params,
// untouched but for the task id spliced in. The worker answers in the binding's
// shape (workers/src/a2a/handler_a2a.ts, operation `rest`).
import type { HttpRequest } from "uWebSockets.js";
import { A2A_TASK_ID_RE } from "@radiant/wire";
import { withMember } from "../llm_http/post.js";

/** What a REST call is: the method, and how its INBOX body is made of the request's body. */
export interface RestCall {
  method: string;
  /** the INBOX body: `{"method": …, "params": …}` */
  body(b: Buffer): Buffer;
  /** made of the URL alone: any body the request has is not read */
  bodyless?: boolean;
}

const envelope = (method: string, params: Buffer): Buffer =>
  Buffer.concat([Buffer.from(`{"method":${JSON.stringify(method)},"params":`), params, Buffer.from("}")]);
const fixed = (method: string, params: Record<string, unknown>): RestCall => ({
  method,
  body: () => envelope(method, Buffer.from(JSON.stringify(params))),
  bodyless: true,
});

const LIST_QUERY = ["pageSize", "pageToken", "contextId", "status", "historyLength"] as const;
const INTEGER = /^\d{1,9}$/;

/** The call `rest` (the path after `/a2a/<name>`) makes with this HTTP method, or undefined (404). */
export function restCall(method: string, rest: string, req: HttpRequest): RestCall | undefined {
  const m = method.toUpperCase();
  if (m === "POST" && rest === "/message:send") return { method: "SendMessage", body: (b) => envelope("SendMessage", b) };
  if (m === "POST" && rest === "/message:stream") return { method: "SendStreamingMessage", body: (b) => envelope("SendStreamingMessage", b) };
  if (m === "GET" && rest === "/tasks") {
    const params: Record<string, unknown> = {};
    for (const k of LIST_QUERY) {
      const v = req.getQuery(k);
      if (v !== undefined && v !== "") params[k] = (k === "pageSize" || k === "historyLength") && INTEGER.test(v) ? Number(v) : v;
    }
    return fixed("ListTasks", params);
  }
  const t = /^\/tasks\/([^/:]+)(:cancel|:subscribe|\/pushNotificationConfigs(?:\/([^/]+))?)?$/.exec(rest);
  if (!t) return undefined;
  let id: string;
  let cfg: string | undefined;
  try {
    id = decodeURIComponent(t[1]!);
    cfg = t[3] === undefined ? undefined : decodeURIComponent(t[3]);
  } catch {
    return undefined;
  }
  // ids the worker will check again; here they only have to be names, never JSON to splice
  if (!A2A_TASK_ID_RE.test(id) || (cfg !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(cfg))) return undefined;
  const what = t[2];
  if (what === undefined && m === "GET") {
    const h = req.getQuery("historyLength");
    return fixed("GetTask", { id, ...(h !== undefined && INTEGER.test(h) ? { historyLength: Number(h) } : {}) });
  }
  if (what === ":cancel" && m === "POST") return fixed("CancelTask", { id });
  if (what === ":subscribe" && (m === "POST" || m === "GET")) return fixed("SubscribeToTask", { id });
  if (what?.startsWith("/pushNotificationConfigs")) {
    if (cfg === undefined && m === "POST")
      return { method: "CreateTaskPushNotificationConfig", body: (b) => envelope("CreateTaskPushNotificationConfig", withMember(b, "taskId", id)) };
    if (cfg === undefined && m === "GET") return fixed("ListTaskPushNotificationConfigs", { taskId: id });
    if (cfg !== undefined && m === "GET") return fixed("GetTaskPushNotificationConfig", { taskId: id, id: cfg });
    if (cfg !== undefined && m === "DELETE") return fixed("DeleteTaskPushNotificationConfig", { taskId: id, id: cfg });
  }
  return undefined;
}
