// The client library against a real gateway: dedupe, automatic resume, and a
// clear signal when a resume is refused.
import t from "tap";
import WebSocket from "ws";
import { RadiantClient, type Frame, type WebSocketCtor } from "@radiant/client";
import { eventually, rpc, startStack } from "./harness.js";

const stack = await startStack(t);
const open = () => new RadiantClient({ url: stack.wsUrl, WebSocket: WebSocket as unknown as WebSocketCtor, backoffMs: 20 });
const rawSocket = (c: RadiantClient) => (c as unknown as { ws: WebSocket }).ws;

t.test("resumes by itself after a drop; the async iterator sees each frame once", async (t) => {
  const c = open();
  const refused: string[] = [];
  c.on("resumeRefused", (r) => refused.push(r));
  await eventually("session", () => c.sid !== undefined);
  const sid = c.sid;
  c.send(rpc("s", "radiant.test/stream", { count: 1000 }));
  await eventually("some frames", () => c.lastSeq > 0);
  rawSocket(c).terminate();
  const got: Frame[] = [];
  for await (const f of c) {
    got.push(f);
    if (f.id === "s") break;
  }
  t.same(
    got.filter((f) => f.method).map((f) => (f.params as { i: number }).i),
    Array.from({ length: 1000 }, (_, i) => i),
  );
  t.equal(c.sid, sid, "the same session");
  t.same(refused, []);
  c.close();
});

t.test("a refused resume is signalled, and the client carries on in a fresh session", async (t) => {
  const c = open();
  await eventually("session", () => c.sid !== undefined);
  const sid = c.sid;
  const refused: string[] = [];
  c.on("resumeRefused", (r) => refused.push(r));
  c.token = "not.a.token"; // as if it had been tampered with
  rawSocket(c).terminate();
  await eventually("the refusal", () => refused.length === 1);
  t.match(refused[0], /resume token invalid/);
  await eventually("a fresh session", () => c.sid !== sid && c.sid !== undefined);
  const pong = new Promise<Frame>((resolve) => c.on("message", (f) => f.id === "p" && resolve(f)));
  c.send(rpc("p", "ping"));
  t.same((await pong).result, {});
  c.close();
});

t.test("taken over: the older client stops instead of fighting back", async (t) => {
  const a = open();
  await eventually("session", () => a.sid !== undefined);
  let takenOver = false;
  a.on("takenOver", () => (takenOver = true));
  const b = new WebSocket(`${stack.wsUrl}?resume=${encodeURIComponent(a.token!)}&last_seq=${a.lastSeq}`);
  await eventually("a told", () => takenOver);
  t.pass("the older client was told and stopped");
  b.close();
});
