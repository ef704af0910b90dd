// Bad input on the socket: each case gets a clear answer in the caller's
// protocol (or a documented close code), loses nothing, and leaves the
// gateway healthy for everyone else.
import t from "tap";
import type { Socket } from "node:net";
import { Client, eventually, openSession, rpc, startStack, treeRssBytes } from "./harness.js";

const MAX_PAYLOAD = 64 * 1024;
const stack = await startStack(t, { gatewayEnv: { GATEWAY_MAX_PAYLOAD: String(MAX_PAYLOAD) } });

t.test("text that is not JSON → -32700 with id null; the socket stays usable", async (t) => {
  const { c } = await openSession(stack.wsUrl);
  for (const bad of ["hello", "{", '{"jsonrpc":"2.0","id":1', "[1,2", "  ", "{} {}"]) {
    c.send(bad);
    const f = await c.next();
    t.match(f, { jsonrpc: "2.0", id: null, error: { code: -32700 } }, JSON.stringify(bad));
  }
  // JSON the quick scan lets through but the worker cannot parse: the same error, from the worker
  c.send('{"jsonrpc":"2.0","id":5,"method":"ping","x":tru}');
  t.match(await c.next(), { id: null, error: { code: -32700 } });
  t.same((await c.call(rpc(9, "ping"))).result, {}, "still usable");
  await c.close();
});

t.test("JSON that matches no protocol → -32600, naming the id when there is one", async (t) => {
  const { c } = await openSession(stack.wsUrl);
  c.send({ hello: "world" });
  t.match(await c.next(), { jsonrpc: "2.0", id: null, error: { code: -32600, message: /matches no protocol/ } });
  c.send({ id: 42, foo: 1 });
  t.match(await c.next(), { id: 42, error: { code: -32600 } });
  c.send('"just a string"');
  t.match(await c.next(), { id: null, error: { code: -32600, message: /must be a JSON object/ } }, "valid JSON, but no object");
  c.send({ jsonrpc: "2.0", id: 3, method: 12 });
  t.match(await c.next(), { id: 3, error: { code: -32600, message: /method/ } }, "a malformed JSON-RPC request is the worker's -32600");
  c.send([]);
  t.match(await c.next(), { id: null, error: { code: -32600, message: /empty batch/ } });
  t.same((await c.call(rpc(10, "ping"))).result, {});
  await c.close();
});

t.test("a binary frame → closed with 1003 and a reason", async (t) => {
  const { c } = await openSession(stack.wsUrl);
  c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  const { code, reason } = await c.closed;
  t.equal(code, 1003);
  t.match(reason, /binary frames are not supported/);
});

t.test("a frame over the maximum payload → closed with 1009; others unaffected", async (t) => {
  const other = await openSession(stack.wsUrl);
  const { c } = await openSession(stack.wsUrl);
  c.send(JSON.stringify(rpc(1, "radiant.test/echo", { pad: "x".repeat(MAX_PAYLOAD) })));
  const { code, reason } = await c.closed;
  t.equal(code, 1009);
  t.equal(reason, `frame too big: the limit is ${MAX_PAYLOAD} bytes`);
  t.same((await other.c.call(rpc(2, "ping"))).result, {}, "another session still served");
  const just = await openSession(stack.wsUrl);
  const under = JSON.stringify(rpc(3, "radiant.test/echo", { pad: "" }));
  const fits = JSON.stringify(rpc(3, "radiant.test/echo", { pad: "y".repeat(MAX_PAYLOAD - under.length) }));
  t.equal(Buffer.byteLength(fits), MAX_PAYLOAD);
  just.c.send(fits);
  t.equal(((await just.c.next()).result as { pad: string }).pad.length, MAX_PAYLOAD - under.length, "a frame of exactly the limit passes");
  t.equal((await stack.health()).body.status, "ok");
  await Promise.all([other.c.close(), just.c.close()]);
});

t.test("10,000 frames flooded without reading replies: memory bounded, every frame answered once", async (t) => {
  const { c } = await openSession(stack.wsUrl);
  const gw = stack.gateway!.child.pid!;
  const before = treeRssBytes(gw);
  const sock = (c.ws as unknown as { _socket: Socket })._socket;
  sock.pause(); // read nothing: replies pile up towards the gateway
  const n = 10_000;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, treeRssBytes(gw))), 50);
  for (let i = 0; i < n; i++) c.send(rpc(i, "ping"));
  await new Promise((r) => setTimeout(r, 3000));
  sock.resume();
  const answered = new Map<number, number>();
  await eventually(
    "an answer to every frame",
    () => {
      for (const f of c.frames) if (typeof f.id === "number") answered.set(f.id, (answered.get(f.id) ?? 0) + 1);
      const done = answered.size === n || c.closeCode !== undefined;
      if (!done) answered.clear();
      return done;
    },
    60_000,
  );
  clearInterval(sampler);
  const growth = peak - before;
  t.comment(`gateway RSS growth at peak: ${(growth / 1024 / 1024).toFixed(1)} MiB; close: ${c.closeCode ?? "none"}`);
  t.ok(growth < 128 * 1024 * 1024, "gateway memory stays within 128 MiB of where it started");
  t.ok(
    [...answered.values()].every((k) => k === 1),
    "no frame answered twice",
  );
  t.equal(c.closeCode, undefined, "the socket stays open");
  t.equal(answered.size, n, "every frame answered");
  const overloaded = c.frames.filter((f) => (f.error as { code?: number } | undefined)?.code === -32000).length;
  t.comment(`${n - overloaded} pongs, ${overloaded} 'too many in flight' errors`);
  const fresh = await Client.connect(stack.wsUrl);
  await fresh.next();
  t.same((await fresh.call(rpc(1, "ping"))).result, {}, "the gateway still serves others");
  await fresh.close();
  await c.close();
});
