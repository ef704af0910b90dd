import t from "tap";
import fc from "fast-check";
import { fuzzOptions, noThrow } from "@radiant/infra/fuzz-settings";
import { TrustedProxies } from "./trusted_proxies.js";

// the two shapes uWS's getRemoteAddressAsText gives for an IPv4 client (see trusted_proxies.ts)
const UWS_V4 = (a: string) => a;
const UWS_MAPPED = (a: string) => {
  const [b0, b1, b2, b3] = a.split(".").map(Number) as [number, number, number, number];
  const hex = (n: number) => n.toString(16).padStart(4, "0");
  return `0000:0000:0000:0000:0000:ffff:${hex((b0 << 8) | b1)}:${hex((b2 << 8) | b3)}`;
};

t.test("an empty list trusts nobody", async (t) => {
  for (const list of ["", " ", ",", " , ,"]) {
    const p = new TrustedProxies(list);
    t.ok(p.empty, JSON.stringify(list));
    t.notOk(p.has("127.0.0.1"));
    t.notOk(p.has("::1"));
  }
  t.notOk(new TrustedProxies("10.0.0.1").empty);
});

t.test("IPv4 addresses and CIDRs, in both of uWS's spellings", async (t) => {
  const p = new TrustedProxies("127.0.0.1, 10.0.0.0/8 ,192.168.1.0/24,");
  for (const spell of [UWS_V4, UWS_MAPPED]) {
    for (const a of ["127.0.0.1", "10.0.0.0", "10.255.255.255", "10.1.2.3", "192.168.1.77"]) t.ok(p.has(spell(a)), spell(a));
    for (const a of ["127.0.0.2", "11.0.0.1", "9.255.255.255", "192.168.2.1", "0.0.0.0"]) t.notOk(p.has(spell(a)), spell(a));
  }
  for (const a of ["::ffff:127.0.0.1", "::ffff:7f00:1", "::FFFF:7F00:0001", "0:0:0:0:0:ffff:a01:203"]) t.ok(p.has(a), a);
  // v4-compatible (deprecated) and other v6 addresses holding the same bits are not v4
  for (const a of ["::127.0.0.1", "::7f00:1", "64:ff9b::7f00:1", "::1"]) t.notOk(p.has(a), a);
  const all = new TrustedProxies("0.0.0.0/0");
  t.ok(all.has("203.0.113.9"));
  t.ok(all.has(UWS_MAPPED("203.0.113.9")));
  t.notOk(all.has("2001:db8::1"), "0.0.0.0/0 is every IPv4 address, not every address");
});

t.test("IPv6 addresses and CIDRs, any spelling", async (t) => {
  const p = new TrustedProxies("::1,2001:db8:aa::/48,fd00::1234");
  for (const a of [
    "::1",
    "0000:0000:0000:0000:0000:0000:0000:0001",
    "0:0:0:0:0:0:0:1",
    "2001:db8:aa::",
    "2001:DB8:AA:ffff::9",
    "2001:0db8:00aa:0001:0000:0000:0000:0001",
    "fd00::1234",
  ]) {
    t.ok(p.has(a), a);
  }
  for (const a of ["::2", "2001:db8:ab::1", "2001:db9:aa::1", "fd00::1235", "127.0.0.1", "0000:0000:0000:0000:0000:ffff:7f00:0001"]) t.notOk(p.has(a), a);
  // a v4-mapped entry is an IPv4 entry
  const mapped = new TrustedProxies("::ffff:10.0.0.0/104,::ffff:192.0.2.1");
  for (const a of ["10.9.8.7", UWS_MAPPED("10.9.8.7"), "192.0.2.1", UWS_MAPPED("192.0.2.1")]) t.ok(mapped.has(a), a);
  t.notOk(mapped.has("11.0.0.1"));
});

t.test("bad entries are refused with a message naming the entry", async (t) => {
  const cases: [string, RegExp][] = [
    ["localhost", /^localhost: not an IPv4 or IPv6 address$/],
    ["10.0.0.1,nope", /^nope: not an IPv4 or IPv6 address$/],
    ["1.2.3", /^1\.2\.3: not an/],
    ["01.2.3.4", /^01\.2\.3\.4: not an/],
    ["256.0.0.1", /^256\.0\.0\.1: not an/],
    ["[::1]", /^\[::1\]: not an/],
    ["::1::2", /^::1::2: not an/],
    ["10.0.0.0/", /^10\.0\.0\.0\/: the prefix length must be a number from 0 to 32$/],
    ["10.0.0.0/33", /^10\.0\.0\.0\/33: the prefix length must be a number from 0 to 32$/],
    ["10.0.0.0/-1", /^10\.0\.0\.0\/-1: the prefix/],
    ["10.0.0.0/8.5", /^10\.0\.0\.0\/8\.5: the prefix/],
    ["10.0.0.0/ 8", /^10\.0\.0\.0\/ 8: the prefix/],
    ["10.0.0.0/0x8", /^10\.0\.0\.0\/0x8: the prefix/],
    ["10.0.0.0/8/8", /^10\.0\.0\.0\/8\/8: the prefix/],
    ["::/129", /^::\/129: the prefix length must be a number from 0 to 128$/],
    ["/8", /^\/8: not an/],
    ["10.1.2.3/8", /^10\.1\.2\.3\/8: has bits set past the \/8; did you mean 10\.0\.0\.0\/8\?$/],
    ["192.168.1.1/24", /did you mean 192\.168\.1\.0\/24\?$/],
    ["2001:db8::1/32", /^2001:db8::1\/32: has bits set past the \/32; did you mean 2001:db8::\/32\?$/],
    ["::ffff:10.1.2.3/104", /did you mean ::ffff:a00:0\/104\?$/],
    ["fe80::1%eth0", /^fe80::1%eth0: an IPv6 zone/],
    ["10.0.0.1 10.0.0.2", /^10\.0\.0\.1 10\.0\.0\.2: not an/],
  ];
  for (const [list, why] of cases) t.throws(() => new TrustedProxies(list), why, list);
});

t.test("garbage addresses are simply not trusted", async (t) => {
  const p = new TrustedProxies("0.0.0.0/0,::/0");
  t.ok(p.has("1.2.3.4") && p.has("2001:db8::1"));
  for (const a of [
    "",
    " ",
    "1.2.3.4 ",
    " 1.2.3.4",
    "1.2.3.4\n",
    "1.2.3",
    "01.2.3.4",
    "localhost",
    "[::1]",
    "::1%lo",
    "fe80::1%eth0",
    "1.2.3.4:443",
    "::ffff:1.2.3.4:80",
  ]) {
    t.notOk(p.has(a), JSON.stringify(a));
  }
  t.notOk(p.has(undefined as unknown as string));
  t.notOk(p.has(42 as unknown as string));
});

t.test("property: has never throws, whatever it is given", async (t) => {
  const p = new TrustedProxies("10.0.0.0/8,::1,2001:db8::/32");
  const addr = fc.oneof(
    fc.string({ unit: "binary", maxLength: 60 }),
    fc.ipV4().map(UWS_MAPPED),
    fc.ipV4(),
    fc.ipV6(),
    fc.string({ unit: fc.constantFrom(..."0123456789abcdefABCDEF:.%/[] ".split("")), maxLength: 45 }),
  );
  fc.assert(
    fc.property(addr, (a) => {
      const r = noThrow(() => p.has(a));
      return typeof r === "boolean";
    }),
    fuzzOptions(),
  );
  t.pass();
});

t.test("property: an IPv4 address is trusted the same in both uWS spellings", async (t) => {
  fc.assert(
    fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), fc.ipV4(), (net, prefix, a) => {
      const num = (ip: string) => ip.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
      const size = 2 ** (32 - prefix);
      // the network address of net/prefix, so that the entry is accepted
      const base = num(net) - (num(net) % size);
      const p = new TrustedProxies(`${[24, 16, 8, 0].map((s) => Math.floor(base / 2 ** s) % 256).join(".")}/${prefix}`);
      const inside = num(a) >= base && num(a) < base + size;
      return p.has(UWS_V4(a)) === inside && p.has(UWS_MAPPED(a)) === inside;
    }),
    fuzzOptions(),
  );
  t.pass();
});
