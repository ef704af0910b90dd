// Webhooks (A2A push notifications): a worker asks the proxy to POST a body to
// a URL a client registered. Clients choose these URLs, so by default none
// that reaches this network's own addresses (loopback, private, link-local —
// a cloud's metadata service): EGRESS_WEBHOOK_PRIVATE=true lets them (a
// gateway whose webhooks live inside, and the tests).
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";

export { WEBHOOK_PATH, WEBHOOK_URL_HEADER } from "@radiant/infra/egress-contract";
const TIMEOUT_MS = 10_000;
const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** Whether an IP address is one of the network's own (not the public internet's). */
export function isPrivateAddress(ip: string): boolean {
  const v4 = ip.startsWith("::ffff:") ? ip.slice(7) : ip;
  if (isIP(v4) === 4) {
    const [a, b] = v4.split(".").map(Number) as [number, number];
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 100 && b >= 64 && b <= 127)
    );
  }
  const x = ip.toLowerCase();
  return (
    x === "::" ||
    x === "::1" ||
    x.startsWith("fc") ||
    x.startsWith("fd") ||
    x.startsWith("fe8") ||
    x.startsWith("fe9") ||
    x.startsWith("fea") ||
    x.startsWith("feb")
  );
}

/** Why this URL is not a webhook the proxy calls, or undefined. */
export async function refusedWebhook(raw: string, allowPrivate: boolean): Promise<string | undefined> {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return "not a URL";
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return "not http(s)";
  if (u.username !== "" || u.password !== "") return "credentials in the URL";
  if (allowPrivate) return undefined;
  const host = u.hostname.replace(/^\[(.*)\]$/, "$1");
  const addresses = isIP(host) ? [host] : (await lookup(host, { all: true }).catch(() => [])).map((a) => a.address);
  if (addresses.length === 0) return "its host does not resolve";
  if (addresses.some(isPrivateAddress)) return "it reaches a private address (EGRESS_WEBHOOK_PRIVATE=true allows it)";
  return undefined;
}

/** POST the body; the webhook's status (0: it could not be reached). */
export async function postWebhook(url: string, headers: Record<string, string>, body: Buffer): Promise<number> {
  if (body.byteLength > MAX_BODY_BYTES) return 413;
  try {
    const r = await fetch(url, { method: "POST", headers, body, redirect: "manual", signal: AbortSignal.timeout(TIMEOUT_MS) });
    await r.body?.cancel();
    return r.status;
  } catch {
    return 0;
  }
}
