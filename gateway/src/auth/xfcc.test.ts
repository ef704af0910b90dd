import t from "tap";
import fc from "fast-check";
import { deepStrictEqual } from "node:assert/strict";
import { fuzzOptions, noThrow } from "@radiant/infra/fuzz-settings";
import { isPrincipal } from "@radiant/wire";
import { type ForwardedCert, parseXfcc, principalOfCert } from "./xfcc.js";

const HASH = "468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688";
const CERT = "-----BEGIN%20CERTIFICATE-----%0aMIIDdTCCAl2gAwIBAgIJAKVC%2F%3D%3D%0a-----END%20CERTIFICATE-----%0a";
const principal = (h: string) => {
  const c = parseXfcc(h);
  return c && principalOfCert(c);
};

t.test("Envoy's documented shapes", async (t) => {
  t.same(parseXfcc(`By=http://frontend.lyft.com;Hash=${HASH};Subject="CN=Test Client,OU=Lyft,L=San Francisco,ST=CA,C=US";URI=spiffe://lyft.com/backend-team`), {
    hash: HASH,
    subject: "CN=Test Client,OU=Lyft,L=San Francisco,ST=CA,C=US",
    cn: "Test Client",
    uris: ["spiffe://lyft.com/backend-team"],
    dns: [],
  });
  t.same(parseXfcc(`By=http://frontend.lyft.com;Hash=${HASH};URI=spiffe://lyft.com/frontend-team;DNS=lyft.com;DNS=www.lyft.com`), {
    hash: HASH,
    uris: ["spiffe://lyft.com/frontend-team"],
    dns: ["lyft.com", "www.lyft.com"],
  });
  // Cert and Chain are URL-encoded PEM, quoted; ignored
  t.same(parseXfcc(`By=http://frontend.lyft.com;Hash=${HASH};Cert="${CERT}";Chain="${CERT}${CERT}";Subject="";URI=`), {
    hash: HASH,
    subject: "",
    uris: [],
    dns: [],
  });
  // the older docs' OpenSSL one-line subject is not an RFC 4514 DN: no CN, so the URI names the client
  const legacy = parseXfcc(
    `By=http://frontend.lyft.com;Hash=${HASH};Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=spiffe://lyft.com/backend-team`,
  );
  t.equal(legacy?.cn, undefined);
  t.equal(legacy && principalOfCert(legacy), "spiffe://lyft.com/backend-team");
});

t.test("several elements: the last one, appended by the proxy we trust", async (t) => {
  const h =
    `By=http://frontend.lyft.com;Hash=${HASH};Subject="CN=mallory,O=Evil";URI=spiffe://lyft.com/frontend-team,` +
    `By=http://backend.lyft.com;Hash=${HASH.replace(/4/g, "5")};Subject="CN=Test Client,OU=Lyft";URI=spiffe://lyft.com/backend-team`;
  const c = parseXfcc(h);
  t.equal(c?.cn, "Test Client");
  t.same(c?.uris, ["spiffe://lyft.com/backend-team"]);
  t.equal(c?.hash, HASH.replace(/4/g, "5"));
  t.equal(principal(h), "Test Client");
  // an earlier element cannot smuggle an element boundary in through quotes
  t.equal(principal(`Subject="CN=x,By=y;Subject=\\"CN=admin\\"",Subject="CN=bob"`), "bob");
  t.equal(
    principal(`Subject="CN=bob",Subject="CN=x,By=y;Subject=\\"CN=admin\\""`),
    undefined,
    "the last element's DN has a bare `;`: no CN, and no falling back to an earlier element",
  );
  // optional whitespace, as header folding or other proxies leave it
  t.equal(principal(`By=a;Subject="CN=carol" , By=b ; Subject="CN=dave"`), "dave");
});

t.test('quoted values: `,` `;` `=` literal, `\\"` a quote, keys any case, unknown keys ignored', async (t) => {
  const c = parseXfcc(`bY="http://a,b;c=d";HASH=abc;X-Future="ignored;,=\\"";uri="spiffe://td/ns/a,b;c=\\"d\\"";dNs="x.example"`);
  t.same(c, { hash: "abc", uris: ['spiffe://td/ns/a,b;c="d"'], dns: ["x.example"] });
  // Envoy writes the Subject unescaped: the DN's own escapes reach the DN parser intact
  t.same(parseXfcc(`Subject="CN=a\\"b\\\\,OU=x"`), { subject: 'CN=a\\"b\\\\,OU=x', cn: 'a"b\\', uris: [], dns: [] });
  t.equal(parseXfcc(`Subject="CN=a\\\\,OU=x"`)?.cn, "a\\", "`\\\\,` is an escaped backslash then a separator, not an escaped comma");
  t.equal(parseXfcc(`Subject="CN=a\\,OU=x"`)?.cn, "a,OU=x");
  t.equal(parseXfcc(`Subject="CN=a\\\\"`)?.cn, "a\\", "a DN ending in an escaped backslash still closes its quote");
  t.equal(parseXfcc("URI=spiffe://td/x?a=b")?.uris[0], "spiffe://td/x?a=b", "`=` in a bare value");
});

t.test("the CN of an RFC 4514 subject", async (t) => {
  const cn = (subject: string) => parseXfcc(`Subject="${subject}"`)?.cn;
  const cases: [string, string | undefined][] = [
    ["CN=alice,OU=eng,O=Example", "alice"],
    ["cn=alice", "alice"],
    ["commonName=alice", "alice"],
    ["2.5.4.3=alice", "alice"],
    ["UID=u1,CN=alice,O=Example", "alice"],
    ["CN=most,OU=eng,CN=least", "most"],
    ["UID=u1+CN=alice,O=Example", "alice"],
    ["CN=alice+UID=u1,O=Example", "alice"],
    ["CN=Sm\\c3\\a9th\\2c J\\2B,O=Ex", "Sméth, J+"],
    ["CN=Sméth,O=Ex", "Sméth"],
    ["CN=\\ lead\\,\\+\\;\\<\\>\\=\\#\\\\ trail\\ ", " lead,+;<>=#\\ trail "],
    ["CN=\\#hash", "#hash"],
    ["CN=alice, OU=eng", "alice"],
    ["CN=", ""],
    ["O=Example,OU=eng", undefined],
    ["", undefined],
    // a BER-encoded CN is not decoded, and a later CN does not stand in for it
    ["CN=#0c05616c696365,CN=bob", undefined],
    // malformed DNs: no CN at all rather than a guess
    ["CN=alice,", undefined],
    ["CN=alice,OU", undefined],
    ["CN=a\\x", undefined],
    ["CN=a\\", undefined],
    ["CN=a\\c3", undefined],
    ["CN=a\\ff\\fe", undefined],
    ["CN=a;OU=b", undefined],
    ["CN=#zz", undefined],
    ["C N=alice", undefined],
    ["CN =alice", undefined],
    ["=alice", undefined],
    ["CN=alice,=x", undefined],
  ];
  for (const [subject, want] of cases) t.equal(cn(subject), want, subject);
});

t.test("principal: CN, else the first URI SAN (SPIFFE), else the first DNS SAN, each only if a valid principal", async (t) => {
  t.equal(principal(`Subject="CN=alice";URI=spiffe://td/a;DNS=a.example`), "alice");
  t.equal(principal(`Subject="O=Example";URI=spiffe://example.org/ns/prod/sa/api;URI=spiffe://other/x;DNS=a.example`), "spiffe://example.org/ns/prod/sa/api");
  t.equal(principal(`Subject="";URI=;DNS=db.internal.example;DNS=other.example`), "db.internal.example");
  t.equal(principal(`Subject="CN=\\ padded\\ ";URI=spiffe://td/a`), "spiffe://td/a", "a CN that is not a principal falls through");
  t.equal(principal(`Subject="CN=caf\\c3\\a9";DNS=cafe.example`), "cafe.example", "non-ASCII is not a principal");
  t.equal(principal(`Subject="CN=${"x".repeat(257)}";DNS=long.example`), "long.example");
  t.equal(principal(`Subject="CN=nul\\00";URI=spiffe://td/nul`), "spiffe://td/nul");
  t.equal(principal(`By=x;Hash=${HASH}`), undefined);
  const bare: ForwardedCert = { uris: [], dns: [] };
  t.equal(principalOfCert(bare), undefined);
  t.equal(principalOfCert({ cn: "", uris: [" spaced"], dns: ["ok.example"] }), "ok.example");
});

t.test("malformed headers are refused whole", async (t) => {
  const bad = [
    "",
    "   ",
    ",",
    "Subject",
    'Subject="CN=alice',
    'Subject="CN=alice\\"',
    'Subject="CN=alice"x',
    'Subject="CN=alice" "x"',
    'URI=a"b',
    "=x",
    "By=a;;Hash=b",
    "By=a;",
    "By=a,",
    ",By=a",
    "By=a,,By=b",
    "B y=a",
    "By=a;Hash",
    'Subject="CN=a";Subject="CN=b"',
    "Hash=a;hash=b",
    'By=a,Subject="CN=bob',
    'Subject="CN=x",Subject="CN=alice',
    `Subject="CN=alice"\nURI=x`,
    'Subject="CN=al\u0000ice"',
    "URI=spiffe://td/\u007f",
    "URI=spiffe://td/\ud800",
    `URI=spiffe://td/${"a".repeat(16 * 1024)}`,
  ];
  for (const h of bad) t.equal(parseXfcc(h), undefined, JSON.stringify(h.slice(0, 60)));
  t.ok(parseXfcc(`URI=spiffe://td/${"a".repeat(16 * 1024 - 16)}`), "16 KiB exactly is fine");
  // uWS's getHeader hands raw UTF-8 over one char per byte: 日 arrives as \u00e6\u0097\u00a5
  const latin1 = parseXfcc(`Subject="CN=${Buffer.from("日本", "utf8").toString("latin1")}";URI=spiffe://td/jp`);
  t.equal(latin1?.cn, "\u00e6\u0097\u00a5\u00e6\u009c\u00ac");
  t.equal(latin1 && principalOfCert(latin1), "spiffe://td/jp", "which is not a principal, but does not spoil the rest of the header");
  t.same(parseXfcc('Subject="CN=tab\tbed"'), { subject: "CN=tab\tbed", cn: "tab\tbed", uris: [], dns: [] }, "a tab is whitespace, not a control character");
});

// ---- properties -----------------------------------------------------------------

const XFCC_CHARS = [",", ";", "=", '"', "\\", " ", "\t", "+", "#", "C", "N", "U", "R", "I", "S", "a", "é", "\u0000", "\n", "\ud800"];
const hostile = (maxLength: number) => fc.string({ unit: fc.constantFrom(...XFCC_CHARS, "CN=", "\\2c", "\\c3\\a9", '\\"', "spiffe://"), maxLength });
// mostly well-formed, so that parsing gets deep before something hostile trips it
const often = <T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<T>) => fc.oneof({ weight: 6, arbitrary: good }, { weight: 1, arbitrary: bad });
const dnish = fc
  .array(
    fc.tuple(
      often(fc.constantFrom("CN", "cn", "OU", "O", "2.5.4.3"), fc.constantFrom("C N", "", "CN ")),
      often(fc.stringMatching(/^[a-z0-9 .-]{0,8}$/), hostile(6)),
      often(fc.constantFrom(",", "+"), fc.constantFrom(", ", ";", ",,")),
    ),
    { minLength: 1, maxLength: 4 },
  )
  .map((rdns) => rdns.map(([type, v, sep], i) => `${i ? sep : ""}${type}=${v}`).join(""));
const xfccish = fc.oneof(
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 200 }) },
  { weight: 1, arbitrary: hostile(80) },
  {
    weight: 4,
    arbitrary: fc
      .array(
        fc.tuple(
          often(fc.constantFrom("By", "Hash", "Subject", "subject", "URI", "uri", "DNS", "Cert", "X"), fc.constantFrom("B y", "", "URI ")),
          often(fc.oneof(dnish, fc.stringMatching(/^[a-z0-9:/.-]{0,12}$/)), hostile(12)),
          often(fc.constant(true), fc.constant(false)),
          often(fc.constantFrom(";", ","), fc.constantFrom("; ", " , ", ";;", "")),
        ),
        { minLength: 1, maxLength: 6 },
      )
      .map((pairs) => pairs.map(([k, v, quoted, sep], i) => `${i ? sep : ""}${k}=${quoted ? `"${v}"` : v}`).join("")),
  },
);

t.test("property: any string is parsed without throwing, and any principal it yields is a valid one", async (t) => {
  fc.assert(
    fc.property(xfccish, (h) => {
      const c = noThrow(() => parseXfcc(h));
      if (c === undefined) return true;
      const p = noThrow(() => principalOfCert(c));
      return p === undefined || isPrincipal(p);
    }),
    fuzzOptions(),
  );
  t.pass();
});

// OpenSSL's RFC 2253 escaping (XN_FLAG_RFC2253 without ESC_MSB), as Envoy writes the Subject
function escapeDn(value: string, hexAll: boolean, hexMsb: boolean): string {
  const chars = [...value];
  return chars
    .map((ch, i) => {
      const code = ch.codePointAt(0)!;
      const hex = () => [...Buffer.from(ch)].map((b) => `\\${b.toString(16).padStart(2, "0")}`).join("");
      if (code < 0x20 || code === 0x7f) return hex();
      if (code > 0x7f) return hexMsb ? hex() : ch;
      if (hexAll && i % 3 === 0) return hex();
      if (',+"\\<>;'.includes(ch)) return `\\${ch}`;
      if ((i === 0 && (ch === "#" || ch === " ")) || (i === chars.length - 1 && ch === " ")) return `\\${ch}`;
      return ch;
    })
    .join("");
}

// a value the way a proxy would write it: bare when it can be, otherwise quoted with `"` as `\"`
const xfccValue = (v: string, forceQuote: boolean) => (forceQuote || /[,;="\s]/.test(v) ? `"${v.replace(/"/g, '\\"')}"` : v);

const DN_SPECIALS = [" ", '"', "#", "+", ",", ";", "<", "=", ">", "\\", "\u0000", "\u001f", "\u007f", "é", "日", "😀"];
const dnText = fc.string({ unit: fc.oneof(fc.constantFrom(...DN_SPECIALS), fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 })), maxLength: 24 });
const uriText = fc
  .string({ unit: fc.constantFrom(..."abcxyz019-._~:/?#[]@!$&'()*+,;=%\" ".split("")), minLength: 1, maxLength: 30 })
  .filter((u) => u.trim() === u && u.trim() !== "");
const otherRdn = fc.tuple(fc.constantFrom("OU", "O", "L", "ST", "C", "UID", "emailAddress", "0.9.2342.19200300.100.1.1"), dnText);

t.test("property: a Subject and SANs written as Envoy writes them parse back to themselves", async (t) => {
  const element = fc.record({
    cn: dnText,
    before: fc.array(otherRdn, { maxLength: 2 }),
    plus: fc.option(otherRdn, { nil: undefined }),
    after: fc.array(
      fc.oneof(
        otherRdn,
        dnText.map((v) => ["CN", v] as [string, string]),
      ),
      { maxLength: 3 },
    ),
    uris: fc.array(uriText, { maxLength: 3 }),
    dns: fc.array(fc.domain(), { maxLength: 2 }),
    hexAll: fc.boolean(),
    hexMsb: fc.boolean(),
    quoteAll: fc.boolean(),
    earlier: fc.array(fc.tuple(dnText, uriText), { maxLength: 2 }),
  });
  fc.assert(
    fc.property(element, (e) => {
      const esc = (v: string) => escapeDn(v, e.hexAll, e.hexMsb);
      const rdn = ([type, v]: [string, string]) => `${type}=${esc(v)}`;
      const cnRdn = `CN=${esc(e.cn)}${e.plus ? `+${rdn(e.plus)}` : ""}`;
      const dn = [...e.before.map(rdn), cnRdn, ...e.after.map(rdn)].join(",");
      const earlier = e.earlier.map(([cn, uri]) => `By=spiffe://hop;Subject="CN=${esc(cn)}";URI=${xfccValue(uri, e.quoteAll)}`);
      const last = [
        "By=spiffe://proxy",
        `Hash=${HASH}`,
        `Subject="${dn}"`,
        ...e.uris.map((u) => `URI=${xfccValue(u, e.quoteAll)}`),
        ...e.dns.map((d) => `DNS=${xfccValue(d, e.quoteAll)}`),
      ].join(";");
      const header = [...earlier, last].join(",");
      const got = parseXfcc(header);
      const want = { hash: HASH, subject: dn, cn: e.cn, uris: e.uris, dns: e.dns };
      deepStrictEqual(got, want, header);
      const p = principalOfCert(got!);
      const expected = [e.cn, e.uris[0], e.dns[0]].find(isPrincipal);
      return p === expected;
    }),
    fuzzOptions(),
  );
  t.pass();
});
