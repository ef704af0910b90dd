import t from "tap";
import {
  availableBytes,
  cpuSecondsMeter,
  parseAvailableBytes,
  parseCpuSeconds,
  parseSlabBytes,
  parseSockStat,
  slabBytes,
  sockStat,
  treeCpuSeconds,
} from "./system.js";

t.test("sockstat: TCP sockets and their memory in bytes", async (t) => {
  const s = parseSockStat("sockets: used 1234\nTCP: inuse 100 orphan 0 tw 5 alloc 120 mem 37\nUDP: inuse 2 mem 1\n");
  t.same(s, { tcpInUse: 100, tcpMemBytes: 37 * 4096, socketsUsed: 1234 });
  t.ok(sockStat().socketsUsed > 0, "this machine's");
});

t.test("CPU seconds from a stat line, a name with spaces included", async (t) => {
  const line = "42 (node (bench) x) S 1 42 42 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 11 0 1 0 0";
  t.equal(parseCpuSeconds(line), 3);
  const spin = Date.now() + 200;
  while (Date.now() < spin);
  t.ok(treeCpuSeconds(process.pid) > 0.1, "this process's own time counts");
});

t.test("CPU meter: each component's seconds since it started, this process as bench", async (t) => {
  const since = cpuSecondsMeter({ self: [process.pid], none: [] });
  const spin = Date.now() + 200;
  while (Date.now() < spin);
  const cpu = since();
  t.same(Object.keys(cpu), ["self", "none", "bench"], "the components in order, then bench");
  t.ok(cpu.self > 0.1 && cpu.bench > 0.1, JSON.stringify(cpu));
  t.equal(cpu.none, 0);
});

t.test("slab memory from /proc/meminfo", async (t) => {
  t.equal(parseSlabBytes("MemTotal: 1 kB\nSlab:             123456 kB\nSReclaimable: 1 kB\n"), 123456 * 1024);
  t.ok(slabBytes() > 0, "this machine's");
});

t.test("available memory from /proc/meminfo (the soak's floor)", async (t) => {
  t.equal(parseAvailableBytes("MemTotal: 9 kB\nMemFree: 1 kB\nMemAvailable:    2048 kB\n"), 2048 * 1024);
  t.ok(Number.isNaN(parseAvailableBytes("MemTotal: 9 kB\n")), "not there: NaN (the guard never fires on it)");
  t.ok(availableBytes() > 0, "this machine's");
});
