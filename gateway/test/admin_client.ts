// The admin API as tests use it: on the stack's health port, with the token
// the stack's gateway was given.
import type { Stack } from "@radiant/infra/stack";
import { request } from "./sse_client.js";

/** GATEWAY_ADMIN_TOKEN of the test stacks that turn the admin API on */
export const ADMIN_TOKEN = "admin-token-0123456789-abcdefghijklmnopqrstuvwxyz";

export function adminClient(stack: Stack) {
  const call = (path: string, o: { method?: string; body?: unknown; token?: string } = {}) =>
    request(`${stack.healthUrl}${path}`, {
      method: o.method ?? "GET",
      headers: { authorization: `Bearer ${o.token ?? ADMIN_TOKEN}`, ...(o.body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
    });
  /** a new gateway API key (POST /admin/keys), or a throw saying why not */
  const newKey = async (grant: Record<string, unknown>): Promise<{ key: string; id: string }> => {
    const r = await call("/admin/keys", { method: "POST", body: grant });
    if (r.status !== 201) throw new Error(`POST /admin/keys: ${r.status} ${r.body}`);
    return JSON.parse(r.body) as { key: string; id: string };
  };
  return { call, newKey };
}
