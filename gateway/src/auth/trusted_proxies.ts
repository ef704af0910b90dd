// GATEWAY_TRUSTED_PROXIES: the TCP peers whose X-Forwarded-Client-Cert we
// believe (xfcc.ts). A peer not listed here gets its forwarded headers ignored,
// so a typo must stop the start rather than quietly trust less, or more.
//
// Peer addresses as this uWebSockets.js build gives them
// (Buffer.from(res.getRemoteAddressAsText()).toString(), probed with an IPv4
// client on 127.0.0.1): a listener bound to 127.0.0.1 or 0.0.0.0 gives
// "127.0.0.1"; one bound to "::" (or to no host) gives the v4-mapped address
// fully expanded, "0000:0000:0000:0000:0000:ffff:7f00:0001"; an IPv6 client
// gives "0000:0000:0000:0000:0000:0000:0000:0001". node:net's BlockList (probed
// on Node 20) already matches v4-mapped IPv6 addresses, in any spelling,
// against IPv4 rules and IPv4 addresses against ::ffff:0:0/96 rules, so both
// shapes need no rewriting here.
import { BlockList, isIP } from "node:net";

export class TrustedProxies {
  readonly #list = new BlockList();
  readonly #size: number;

  /** throws Error("<entry>: why") on a bad entry; empty string → trusts nobody */
  constructor(list: string) {
    let size = 0;
    // a trailing or doubled comma is a harmless slip; every non-empty entry must be right
    for (const raw of list.split(",")) {
      const entry = raw.trim();
      if (entry === "") continue;
      this.#add(entry);
      size++;
    }
    this.#size = size;
  }

  get empty(): boolean {
    return this.#size === 0;
  }

  /** whether a peer address (as uWS's res.getRemoteAddressAsText() gives it, decoded to a string) is trusted; never throws */
  has(address: string): boolean {
    if (this.#size === 0 || typeof address !== "string") return false;
    const family = isIP(address);
    // isIP accepts a zone (fe80::1%eth0) that BlockList would drop; uWS never reports one
    if (family === 0 || address.includes("%")) return false;
    try {
      return this.#list.check(address, family === 4 ? "ipv4" : "ipv6");
    } catch {
      return false;
    }
  }

  #add(entry: string): void {
    const slash = entry.indexOf("/");
    const address = slash < 0 ? entry : entry.slice(0, slash);
    const family = isIP(address);
    if (family === 0) throw new Error(`${entry}: not an IPv4 or IPv6 address`);
    // BlockList ignores the zone, which would trust that address on every interface
    if (address.includes("%")) throw new Error(`${entry}: an IPv6 zone (%…) is not supported`);
    const type = family === 4 ? "ipv4" : "ipv6";
    if (slash < 0) {
      this.#list.addAddress(address, type);
      return;
    }
    const bits = family === 4 ? 32 : 128;
    const prefixText = entry.slice(slash + 1);
    const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
    if (!(prefix >= 0 && prefix <= bits)) throw new Error(`${entry}: the prefix length must be a number from 0 to ${bits}`);
    // 10.1.2.3/8 is more likely a mistyped /32 than a wish to trust all of 10/8
    const network = maskedNetwork(address, family, prefix);
    if (network !== undefined) throw new Error(`${entry}: has bits set past the /${prefix}; did you mean ${network}/${prefix}?`);
    this.#list.addSubnet(address, prefix, type);
  }
}

/** The network address of address/prefix when it differs from address (host bits set), else undefined. */
function maskedNetwork(address: string, family: number, prefix: number): string | undefined {
  const bytes = family === 4 ? v4Bytes(address) : v6Bytes(address);
  let changed = false;
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    const mask = keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
    if ((bytes[i]! & mask) !== bytes[i]) changed = true;
    bytes[i] = bytes[i]! & mask;
  }
  if (!changed) return undefined;
  if (family === 4) return bytes.join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(":").replace(/(^|:)0(:0)+(:|$)/, "::");
}

function v4Bytes(address: string): number[] {
  return address.split(".").map(Number);
}

/** the 16 bytes of an address isIP has already accepted as IPv6 (zone refused before) */
function v6Bytes(address: string): number[] {
  let text = address;
  const tail: number[] = [];
  // a dotted IPv4 tail (::ffff:1.2.3.4) is the last two groups
  const dot = /(?:^|:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dot) {
    tail.push(...v4Bytes(dot[1]!));
    text = text.slice(0, text.length - dot[1]!.length);
    if (text.endsWith(":") && !text.endsWith("::")) text = text.slice(0, -1);
  }
  const groupsNeeded = (16 - tail.length) / 2;
  const [head = "", rest] = text.split("::");
  const parse = (s: string) => (s === "" ? [] : s.split(":").map((g) => Number.parseInt(g, 16)));
  const left = parse(head);
  const right = rest === undefined ? [] : parse(rest);
  const groups = [...left, ...new Array<number>(groupsNeeded - left.length - right.length).fill(0), ...right];
  return [...groups.flatMap((g) => [g >> 8, g & 0xff]), ...tail];
}
