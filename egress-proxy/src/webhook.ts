// Webhooks (A2A push notifications): a worker asks the proxy to POST a body to
// a URL a client registered. Clients choose these URLs, so by default none
// that reaches this network's own addresses (loopback, private, link-local —
// a cloud's metadata service): EGRESS_WEBHOOK_PRIVATE=true lets them (a
// gateway whose webhooks live inside, and the tests).
import { lookup } from "node:dns/promises";
import { lookup as lookupCb, type LookupAddress } from "node:dns";
import { BlockList, isIP } from "node:net";
import { Agent, request } from "undici";

export { WEBHOOK_PATH, WEBHOOK_URL_HEADER } from "@radiant/infra/egress-contract";
const TIMEOUT_MS = 10_000;
const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** This network's own addresses (and forms that can reach them: IPv4-mapped, NAT64, IPv4-compatible). Two lists: BlockList checks an IPv4 address against IPv6 rules as IPv4-mapped. */
const PRIVATE_V4 = new BlockList();
const PRIVATE_V6 = new BlockList();
for (const [net, bits] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 3],
] as const)
  PRIVATE_V4.addSubnet(net, bits, "ipv4");
for (const [net, bits] of [
  ["::", 96],
  ["::ffff:0:0", 96],
  ["64:ff9b::", 96],
  ["fc00::", 7],
  ["fe80::", 10],
  ["fec0::", 10],
  ["ff00::", 8],
] as const)
  PRIVATE_V6.addSubnet(net, bits, "ipv6");

/** Whether an IP address is one of the network's own (not the public internet's); not an address at all counts as one. */
export function isPrivateAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 0) return true;
  return family === 4 ? PRIVATE_V4.check(ip, "ipv4") : PRIVATE_V6.check(ip, "ipv6");
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

/**
 * Connections that check the address they are about to use (not the one a check resolved earlier: a
 * name may answer differently the second time), and follow no redirect.
 */
function webhookAgent(allowPrivate: boolean): Agent {
  return new Agent({
    connect: {
      lookup: (hostname, options, cb) => {
        lookupCb(hostname, { ...options, all: true }, (err, addresses) => {
          if (err) return cb(err, "", 4);
          const list = addresses as LookupAddress[];
          // IPv4 first, as the OS's resolver order would not always give it (a server on 127.0.0.1, not ::1)
          const ok = (allowPrivate ? list : list.filter((a) => !isPrivateAddress(a.address))).sort((x, y) => x.family - y.family);
          if (ok.length === 0) return cb(new Error(`${hostname} reaches only private addresses`), "", 4);
          // a connect that tries every family (Node's autoSelectFamily) asks for them all
          if ((options as { all?: boolean }).all) (cb as unknown as (e: null, a: LookupAddress[]) => void)(null, ok);
          else cb(null, ok[0]!.address, ok[0]!.family);
        });
      },
    },
  });
}
const agents = new Map<boolean, Agent>();

/** POST the body; the webhook's status (0: it could not be reached). */
export async function postWebhook(url: string, headers: Record<string, string>, body: Buffer, allowPrivate = false): Promise<number> {
  if (body.byteLength > MAX_BODY_BYTES) return 413;
  let agent = agents.get(allowPrivate);
  if (!agent) {
    agent = webhookAgent(allowPrivate);
    agents.set(allowPrivate, agent);
  }
  try {
    const r = await request(url, { method: "POST", headers, body, dispatcher: agent, signal: AbortSignal.timeout(TIMEOUT_MS) });
    await r.body.dump();
    return r.statusCode;
  } catch {
    return 0;
  }
}
