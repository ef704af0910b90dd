// The HTTP+JSON binding's paths as the JSON-RPC methods they stand for, and
// paths that are none (a 404): ids that are not names never reach a body.
import t from "tap";
import type { HttpRequest } from "uWebSockets.js";
import { restCall } from "./rest.js";

const req = (query: Record<string, string> = {}) => ({ getQuery: (k: string) => query[k] }) as unknown as HttpRequest;
const made = (method: string, rest: string, body = "{}", query: Record<string, string> = {}) => {
  const c = restCall(method, rest, req(query));
  return c && (JSON.parse(c.body(Buffer.from(body)).toString()) as { method: string; params: unknown });
};

t.test("each path, its method and params", async (t) => {
  t.same(made("post", "/message:send", '{"message":{"x":1}}'), { method: "SendMessage", params: { message: { x: 1 } } });
  t.same(made("post", "/message:stream", "{}"), { method: "SendStreamingMessage", params: {} });
  t.same(made("get", "/tasks/t-1", "", { historyLength: "3" }), { method: "GetTask", params: { id: "t-1", historyLength: 3 } });
  t.same(made("get", "/tasks", "", { pageSize: "5", status: "TASK_STATE_WORKING", junk: "x" }), {
    method: "ListTasks",
    params: { pageSize: 5, status: "TASK_STATE_WORKING" },
  });
  t.same(made("post", "/tasks/t-1:cancel"), { method: "CancelTask", params: { id: "t-1" } });
  t.same(made("get", "/tasks/t-1:subscribe"), { method: "SubscribeToTask", params: { id: "t-1" } });
  t.same(made("post", "/tasks/t-1/pushNotificationConfigs", '{"url":"http://h/"}'), {
    method: "CreateTaskPushNotificationConfig",
    params: { url: "http://h/", taskId: "t-1" },
  });
  t.same(
    made("post", "/tasks/t-1/pushNotificationConfigs", '{"url":"http://h/","taskId":"other"}')?.params,
    { url: "http://h/", taskId: "t-1" },
    "the path's task wins",
  );
  t.same(made("delete", "/tasks/t-1/pushNotificationConfigs/c1"), { method: "DeleteTaskPushNotificationConfig", params: { taskId: "t-1", id: "c1" } });
  t.equal(restCall("post", "/tasks/t-1:cancel", req())?.bodyless, true, "made of the URL alone");
});

t.test("not a call: 404", async (t) => {
  for (const [m, p] of [
    ["get", "/message:send"],
    ["delete", "/tasks/t-1"],
    ["post", "/tasks/a%22b:cancel"],
    ["get", "/tasks/%ZZ"],
    ["get", "/tasks/../x"],
    ["get", `/tasks/${"x".repeat(65)}`],
    ["get", "/tasks/t/pushNotificationConfigs/a b"],
    ["post", "/nope"],
  ] as const)
    t.equal(restCall(m, p, req()), undefined, `${m} ${p}`);
});
