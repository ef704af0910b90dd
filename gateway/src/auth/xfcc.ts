// The client certificate a trusted front proxy (Envoy) forwards in
// X-Forwarded-Client-Cert: uWebSockets.js cannot hand the TLS peer certificate
// to JavaScript, so with mTLS terminated in front of us this header is the
// only source of a client's certificate identity. The caller must already
// know the request came from a trusted proxy (trusted_proxies.ts); even then
// every byte is treated as hostile, and anything ambiguous parses to nothing
// rather than to a guess.
//
// Quoting as Envoy really does it (conn_manager_utility.cc): the Subject is
// wrapped in quotes with nothing inside escaped, and the DN inside is
// OpenSSL's RFC 2253 form, where every backslash starts an escape pair (its
// `"` is always `\"`). So a quoted value ends at the first `"` not after a
// backslash pair; the Subject is kept verbatim for the DN parser, and in other
// values only `\"` becomes `"`. Decoding `\\` to `\` would let
// `CN=a\\,OU=x` (CN `a\`) read as CN `a,OU=x`.
import { isCredentialPrincipal } from "@radiant/wire";

export interface ForwardedCert {
  hash?: string;
  subject?: string;
  cn?: string;
  uris: string[];
  dns: string[];
}

// uWS's req.getHeader gives one char per byte (latin1; only req.forEach decodes UTF-8), so this counts bytes
const MAX_HEADER = 16 * 1024;
// C0 controls (bar tab) and DEL would end up in logs; lone surrogates cannot have come from bytes. C1 controls stay:
// they are how getHeader hands over the continuation bytes of raw UTF-8 (non-ASCII never makes a principal anyway)
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const FORBIDDEN = /[\x00-\x08\x0a-\x1f\x7f]|\p{Cs}/u;
const KEY = /^[A-Za-z][A-Za-z0-9_-]*$/;
// keys that appear once per element: two Subjects (or Hashes) leave no way to tell which one the proxy meant
const SINGLE = new Set(["by", "hash", "cert", "chain", "subject"]);

type Pair = [key: string, value: string];

/**
 * The certificate the trusted proxy itself vouches for: the LAST element of the header (a proxy appends its own client's cert; earlier elements
 * came from hops we do not trust). undefined when the header is empty, malformed, or over 16 KiB. Never throws.
 */
export function parseXfcc(header: string): ForwardedCert | undefined {
  try {
    if (typeof header !== "string" || header.length > MAX_HEADER || FORBIDDEN.test(header)) return undefined;
    // every element must parse: a stray quote in an earlier one would move where the last one starts
    const elements = splitElements(header);
    const last = elements?.at(-1);
    if (!last) return undefined;
    const cert: ForwardedCert = { uris: [], dns: [] };
    for (const [key, value] of last) {
      if (key === "hash") cert.hash = value;
      else if (key === "subject") {
        cert.subject = value;
        const cn = cnOf(value);
        if (cn !== undefined) cert.cn = cn;
      }
      // Envoy writes `URI=` when the certificate has none
      else if (key === "uri" && value !== "") cert.uris.push(value);
      else if (key === "dns" && value !== "") cert.dns.push(value);
    }
    return cert;
  } catch {
    return undefined;
  }
}

/** The principal a certificate names: the subject's CN, else the first URI SAN, else the first DNS SAN; undefined if none passes `isPrincipal`. */
export function principalOfCert(c: ForwardedCert): string | undefined {
  for (const candidate of [c.cn, c.uris[0], c.dns[0]]) if (isCredentialPrincipal(candidate)) return candidate;
  return undefined;
}

const isOws = (ch: string | undefined) => ch === " " || ch === "\t";

/** The whole header as elements of (lower-cased key, value) pairs; undefined if any of it is malformed. */
function splitElements(s: string): Pair[][] | undefined {
  const elements: Pair[][] = [];
  let pairs: Pair[] = [];
  let seen = new Set<string>();
  let i = 0;
  for (;;) {
    while (isOws(s[i])) i++;
    const eq = s.indexOf("=", i);
    if (eq < 0) return undefined;
    const key = s.slice(i, eq).toLowerCase();
    if (!KEY.test(key)) return undefined;
    if (SINGLE.has(key)) {
      if (seen.has(key)) return undefined;
      seen.add(key);
    }
    i = eq + 1;
    let value = "";
    if (s[i] === '"') {
      const start = ++i;
      for (;;) {
        const ch = s[i];
        if (ch === undefined) return undefined; // unterminated
        if (ch === '"') break;
        if (ch === "\\") {
          if (i + 1 >= s.length) return undefined;
          i += 2;
        } else i++;
      }
      const raw = s.slice(start, i);
      // the Subject stays exactly the DN OpenSSL wrote, its own `\"` included
      value = key === "subject" ? raw : raw.replace(/\\([\s\S])/g, (pair, c: string) => (c === '"' ? '"' : pair));
      i++;
      while (isOws(s[i])) i++;
    } else {
      let end = i;
      while (end < s.length && s[end] !== ";" && s[end] !== ",") end++;
      value = s.slice(i, end).replace(/[ \t]+$/, "");
      // a quote in the middle of a bare value means the quoting went wrong somewhere
      if (value.includes('"')) return undefined;
      i = end;
    }
    pairs.push([key, value]);
    const sep = s[i];
    if (sep === undefined) {
      elements.push(pairs);
      return elements;
    }
    if (sep === ",") {
      elements.push(pairs);
      pairs = [];
      seen = new Set();
    } else if (sep !== ";") return undefined; // text after a closing quote
    i++;
  }
}

// RFC 4514 §2.4: the characters a backslash may escape as themselves
const DN_ESCAPABLE = new Set([" ", '"', "#", "+", ",", ";", "<", "=", ">", "\\"]);
const DN_TYPE = /^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)*)$/;
const HEX2 = /^[0-9A-Fa-f]{2}$/;
const CN_TYPES = new Set(["cn", "commonname", "2.5.4.3"]);
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The first CN of an RFC 4514 DN string (the first is the most specific RDN), or undefined: no CN, a DN that does not parse, or a CN
 * given as a BER #hexstring (we do not decode BER; a later CN is less specific, so it is no substitute).
 */
function cnOf(dn: string): string | undefined {
  try {
    return firstCn(dn) ?? undefined;
  } catch {
    return undefined; // hex escapes that are not UTF-8
  }
}

/** null: the first CN was a #hexstring */
function firstCn(dn: string): string | null | undefined {
  let cn: string | null | undefined;
  let i = 0;
  if (dn === "") return undefined;
  for (;;) {
    // leniency for "CN=a, OU=b" from RFC 2253-era producers: a type never starts with a space
    while (dn[i] === " ") i++;
    const eq = dn.indexOf("=", i);
    if (eq < 0) return undefined;
    const type = dn.slice(i, eq);
    if (!DN_TYPE.test(type)) return undefined;
    i = eq + 1;
    let value: string | null = null;
    if (dn[i] === "#") {
      let end = i + 1;
      while (end < dn.length && dn[end] !== "," && dn[end] !== "+") end++;
      if (!/^#(?:[0-9A-Fa-f]{2})+$/.test(dn.slice(i, end))) return undefined;
      i = end;
    } else {
      let text = "";
      let bytes: number[] = [];
      // a run of \XX escapes is the UTF-8 of one or more characters
      const flush = () => {
        if (bytes.length) text += utf8.decode(Uint8Array.from(bytes));
        bytes = [];
      };
      for (; i < dn.length; i++) {
        const ch = dn[i]!;
        if (ch === "," || ch === "+") break;
        // RFC 2253's alternative separator: OpenSSL escapes it, so a bare one is not a DN we know how to read
        if (ch === ";") return undefined;
        if (ch === "\\") {
          const pair = dn.slice(i + 1, i + 3);
          if (HEX2.test(pair)) {
            bytes.push(Number.parseInt(pair, 16));
            i += 2;
            continue;
          }
          const next = dn[i + 1];
          if (next === undefined || !DN_ESCAPABLE.has(next)) return undefined;
          flush();
          text += next;
          i++;
          continue;
        }
        // RFC 4514 wants it escaped; inside a quoted Subject it could not even be there
        if (ch === '"') return undefined;
        flush();
        text += ch;
      }
      flush();
      value = text;
    }
    if (cn === undefined && CN_TYPES.has(type.toLowerCase())) cn = value;
    if (i >= dn.length) return cn;
    i++; // past `,` or `+`
    if (i >= dn.length) return undefined; // trailing separator
  }
}
