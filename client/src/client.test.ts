// The client's state machine against a fake WebSocket (no network): which
// closes it retries and how, the resume URL, dedupe after a resume, and the
// events for refused resumes, takeovers, ended sessions and lost history.
import t from "tap";
import { RadiantClient, type Frame, type WebSocketLike } from "./client.js";

const BASE = "ws://gw.test/ws";

/** A socket the test drives: the test plays the gateway. */
class FakeSocket implements WebSocketLike {
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  readonly sent: string[] = [];
  closedWith: { code?: number; reason?: string } | undefined;
  constructor(readonly url: string) {}
  send(data: string): void {
    if (this.readyState !== 1) throw new Error("send on a socket that is not open");
    this.sent.push(data);
  }
  /** the client closes: onclose follows asynchronously, as in a browser */
  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    if (this.readyState === 3) return;
    this.readyState = 3;
    setImmediate(() => this.onclose?.({ code: code ?? 1005, reason: reason ?? "" }));
  }
  // the gateway's side
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  frame(f: Frame): void {
    this.onmessage?.({ data: JSON.stringify(f) });
  }
  session(sid: string, token: string, extra: Frame = {}): void {
    this.open();
    this.frame({ type: "session", sid, resume_token: token, seq_num: 0, ...extra });
  }
  drop(code: number, reason = ""): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

/** A WebSocket constructor that records every socket it makes. */
function fakeWs() {
  const sockets: FakeSocket[] = [];
  class Ctor extends FakeSocket {
    constructor(url: string) {
      super(url);
      sockets.push(this);
    }
  }
  return { Ctor, sockets, last: () => sockets[sockets.length - 1]! };
}

/** A client on a fake socket, with every event it emits recorded in order. */
function setup(t: { teardown(f: () => unknown): void }, opts: { url?: string; backoffMs?: number; maxBackoffMs?: number } = {}) {
  const ws = fakeWs();
  const c = new RadiantClient({ url: opts.url ?? BASE, WebSocket: ws.Ctor, backoffMs: opts.backoffMs ?? 2, maxBackoffMs: opts.maxBackoffMs ?? 10_000 });
  const events: string[] = [];
  const messages: Frame[] = [];
  const sessions: { sid: string; resumed: boolean }[] = [];
  const refused: string[] = [];
  const delays: number[] = [];
  const lost: { afterSeq: number; reason: string }[] = [];
  const closes: [number, string][] = [];
  const endedReasons: string[] = [];
  c.on("message", (f) => {
    events.push("message");
    messages.push(f);
  });
  c.on("session", (s) => {
    events.push("session");
    sessions.push(s);
  });
  c.on("resumeRefused", (r) => {
    events.push("resumeRefused");
    refused.push(r);
  });
  c.on("reconnecting", (attempt, delay) => {
    events.push(`reconnecting ${attempt}`);
    delays.push(delay);
  });
  c.on("takenOver", () => events.push("takenOver"));
  c.on("ended", (r) => {
    events.push("ended");
    endedReasons.push(r);
  });
  c.on("historyLost", (l) => {
    events.push("historyLost");
    lost.push(l);
  });
  c.on("close", (code, reason) => {
    events.push(`close ${code}`);
    closes.push([code, reason]);
  });
  t.teardown(() => c.close());
  return { c, ws, events, messages, sessions, refused, delays, lost, closes, endedReasons };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(1);
  }
}
const resumeUrl = (token: string, lastSeq: number, base = BASE) =>
  `${base}${base.includes("?") ? "&" : "?"}resume=${encodeURIComponent(token)}&last_seq=${lastSeq}`;
const seqs = (fs: Frame[]) => fs.map((f) => f.seq_num);

/** Whether the client's async iterator ends (it does when the client stops) once the frames it holds are read. */
async function iteratorEnded(c: RadiantClient): Promise<boolean> {
  const it = c[Symbol.asyncIterator]();
  for (;;) {
    const r = await Promise.race([it.next(), sleep(30).then(() => "pending" as const)]);
    if (r === "pending") return false;
    if (r.done) return true;
  }
}

t.test("first connect: the plain URL; sends queued until the session frame", async (t) => {
  const { c, ws, events, sessions, messages } = setup(t);
  t.equal(ws.sockets.length, 1);
  t.equal(ws.last().url, BASE, "no resume parameters on a first connect");
  c.send({ jsonrpc: "2.0", id: 1, method: "ping" });
  ws.last().open();
  t.same(ws.last().sent, [], "nothing sent before the session frame");
  ws.last().frame({ type: "session", sid: "S1", resume_token: "T1", seq_num: 0 });
  t.same(sessions, [{ sid: "S1", resumed: false }]);
  t.same(ws.last().sent, ['{"jsonrpc":"2.0","id":1,"method":"ping"}']);
  ws.last().frame({ seq_num: 5, resume_token: "T2", id: 1, result: {} });
  t.same(seqs(messages), [5]);
  t.equal(c.lastSeq, 5);
  t.equal(c.token, "T2", "the token of the latest frame is kept");
  t.same(events, ["session", "message"]);
});

for (const code of [1006, 1012]) {
  t.test(`${code}: reconnects after the backoff and resumes with token and last_seq; frames seen are dropped`, async (t) => {
    const { c, ws, events, messages, sessions, refused, delays } = setup(t, { backoffMs: 20 });
    ws.last().session("S1", "T1");
    ws.last().frame({ seq_num: 3, resume_token: "tok/3+=", n: "a" });
    ws.last().frame({ seq_num: 7, resume_token: "tok/7+=", n: "b" });
    const droppedAt = Date.now();
    ws.last().drop(code, code === 1012 ? "server restart: reconnect and resume" : "");
    t.equal(ws.sockets.length, 1, "no new socket before the backoff");
    t.equal(delays.length, 1);
    t.ok(delays[0]! >= 10 && delays[0]! <= 20, `first delay within backoffMs·[0.5, 1]: ${delays[0]}`);
    await until("the reconnect", () => ws.sockets.length === 2);
    t.ok(Date.now() - droppedAt >= Math.floor(delays[0]!) - 1, "waited out the delay");
    t.equal(ws.last().url, `${BASE}?resume=tok%2F7%2B%3D&last_seq=7`, "resume URL: the latest token (encoded) and the last seq");
    ws.last().session("S1", "tok/7+=", { resumed: true });
    // the gateway replays after last_seq; anything at or below it is a duplicate
    ws.last().frame({ seq_num: 3, resume_token: "x", n: "a again" });
    ws.last().frame({ seq_num: 7, resume_token: "x", n: "b again" });
    ws.last().frame({ seq_num: 9, resume_token: "tok/9", n: "c" });
    ws.last().frame({ seq_num: 0, resume_token: "tok/9", error: { code: -32000 } }); // unstored: always delivered
    t.same(
      messages.map((f) => f.n ?? "error"),
      ["a", "b", "c", "error"],
    );
    t.same(sessions, [
      { sid: "S1", resumed: false },
      { sid: "S1", resumed: true },
    ]);
    t.same(refused, []);
    t.equal(c.lastSeq, 9);
    t.same(events, ["session", "message", "message", `close ${code}`, "reconnecting 1", "session", "message", "message"]);
    t.equal(ws.sockets.length, 2, "exactly one reconnect");
  });
}

t.test("a URL with a query gets the resume parameters appended with &", async (t) => {
  const base = `${BASE}?tenant=a`;
  const { ws } = setup(t, { url: base });
  ws.last().session("S1", "T1");
  ws.last().frame({ seq_num: 4, resume_token: "T4" });
  ws.last().drop(1006);
  await until("the reconnect", () => ws.sockets.length === 2);
  t.equal(ws.last().url, `${base}&resume=T4&last_seq=4`);
});

t.test("backoff doubles per failed attempt, is capped, and starts over after a session frame", async (t) => {
  const random = Math.random;
  Math.random = () => 0; // jitter factor 0.5
  t.teardown(() => void (Math.random = random));
  const { ws, delays, events } = setup(t, { backoffMs: 4, maxBackoffMs: 16 });
  ws.last().session("S1", "T1");
  for (let i = 1; i <= 5; i++) {
    ws.last().drop(1006);
    await until(`reconnect ${i}`, () => ws.sockets.length === i + 1);
  }
  t.same(delays, [2, 4, 8, 8, 8], "4·2^n, capped at 16, times 0.5");
  t.same(
    events.filter((e) => e.startsWith("reconnecting")),
    [1, 2, 3, 4, 5].map((n) => `reconnecting ${n}`),
  );
  for (const s of ws.sockets.slice(1)) t.equal(s.url, resumeUrl("T1", 0), "every attempt resumes with the same token");
  ws.last().session("S1", "T1", { resumed: true });
  ws.last().drop(1012);
  await until("reconnect after the session", () => ws.sockets.length === 7);
  t.same(delays.slice(5), [2], "the attempt count starts over once a session frame arrived");
});

t.test("1013 (history unavailable): resumed again with the same token and last_seq", async (t) => {
  const { c, ws, refused, sessions } = setup(t);
  ws.last().session("S1", "T1");
  ws.last().frame({ seq_num: 11, resume_token: "T11" });
  ws.last().drop(1006);
  await until("reconnect 1", () => ws.sockets.length === 2);
  ws.last().open();
  ws.last().drop(1013, "history unavailable: resume again shortly");
  await until("reconnect 2", () => ws.sockets.length === 3);
  ws.last().open();
  ws.last().drop(1013, "history unavailable: resume again shortly");
  await until("reconnect 3", () => ws.sockets.length === 4);
  t.same(
    ws.sockets.map((s) => s.url),
    [BASE, resumeUrl("T11", 11), resumeUrl("T11", 11), resumeUrl("T11", 11)],
  );
  t.equal(c.token, "T11", "the token is kept");
  ws.last().session("S1", "T11", { resumed: true });
  t.same(sessions.at(-1), { sid: "S1", resumed: true });
  t.same(refused, []);
});

t.test("a refused resume is surfaced; the client carries on in the fresh session", async (t) => {
  const { c, ws, events, messages, sessions, refused } = setup(t);
  ws.last().session("S1", "T1");
  ws.last().frame({ seq_num: 50, resume_token: "T50", n: 1 });
  ws.last().drop(1006);
  await until("the reconnect", () => ws.sockets.length === 2);
  t.equal(ws.last().url, resumeUrl("T50", 50));
  c.send({ id: "q" });
  ws.last().session("S2", "U1", { resumed: false, reason: "resume token invalid: signature" });
  t.same(refused, ["resume token invalid: signature"]);
  t.same(sessions.at(-1), { sid: "S2", resumed: false });
  t.equal(c.sid, "S2");
  t.equal(c.token, "U1");
  t.equal(c.lastSeq, 0, "nothing of the fresh session seen yet");
  t.same(ws.last().sent, ['{"id":"q"}'], "queued frames go to the fresh session");
  ws.last().frame({ seq_num: 2, resume_token: "U2", n: 2 });
  t.same(
    messages.map((f) => f.n),
    [1, 2],
    "a low seq_num of the fresh session is not mistaken for a duplicate",
  );
  t.same(events.slice(-4), ["reconnecting 1", "resumeRefused", "session", "message"]);
  ws.last().drop(1006);
  await until("the next reconnect", () => ws.sockets.length === 3);
  t.equal(ws.last().url, resumeUrl("U2", 2), "the next resume uses the fresh session's token");
});

t.test("4001 (taken over): takenOver, then close; never retried", async (t) => {
  const { c, ws, events, delays } = setup(t, { backoffMs: 1 });
  ws.last().session("S1", "T1");
  ws.last().drop(4001, "session taken over by a newer connection");
  await sleep(50);
  t.equal(ws.sockets.length, 1, "no new socket");
  t.same(delays, []);
  t.same(events, ["session", "takenOver", "close 4001"]);
  t.ok(await iteratorEnded(c), "the async iterator ends");
});

t.test("4002 (session ended by its client): ended, then close; no reconnect, no resume", async (t) => {
  const { c, ws, events, delays, endedReasons, closes } = setup(t, { backoffMs: 1 });
  ws.last().session("S1", "T1");
  ws.last().frame({ seq_num: 8, resume_token: "T8" });
  ws.last().drop(4002, "the session was ended by its client");
  await sleep(50);
  t.equal(ws.sockets.length, 1, "no new socket");
  t.same(delays, []);
  t.same(events, ["session", "message", "ended", "close 4002"]);
  t.same(endedReasons, ["the session was ended by its client"]);
  t.same(closes, [[4002, "the session was ended by its client"]]);
  t.ok(await iteratorEnded(c), "the async iterator ends");
});

for (const code of [1003, 1009]) {
  t.test(`${code}: final, no reconnect`, async (t) => {
    const { ws, events } = setup(t, { backoffMs: 1 });
    ws.last().session("S1", "T1");
    ws.last().drop(code, "x");
    await sleep(30);
    t.equal(ws.sockets.length, 1);
    t.same(events, ["session", `close ${code}`]);
  });
}

t.test("4003 (history lost): historyLost with afterSeq, token forgotten, a fresh session; nothing replayed", async (t) => {
  const { c, ws, events, messages, sessions, refused, lost } = setup(t);
  ws.last().session("S1", "T1");
  ws.last().frame({ seq_num: 40, resume_token: "T40", n: "a" });
  ws.last().frame({ seq_num: 42, resume_token: "T42", n: "b" });
  const reason = "history lost: messages after seq_num 42 expired before delivery";
  let tokenWhenTold: string | undefined = "unset";
  c.on("historyLost", () => (tokenWhenTold = c.token));
  ws.last().drop(4003, reason);
  t.same(lost, [{ afterSeq: 42, reason }]);
  t.equal(tokenWhenTold, undefined, "the old token is forgotten before listeners hear of it");
  t.equal(c.sid, undefined);
  t.same(events.slice(-3), ["historyLost", "close 4003", "reconnecting 1"]);
  await until("the reconnect", () => ws.sockets.length === 2);
  t.equal(ws.last().url, BASE, "a fresh session: no resume parameter");
  ws.last().session("S2", "U1");
  t.same(sessions, [
    { sid: "S1", resumed: false },
    { sid: "S2", resumed: false },
  ]);
  t.same(refused, [], "no resume was tried, so none was refused");
  ws.last().frame({ seq_num: 61, resume_token: "U61", n: "c" });
  t.same(
    messages.map((f) => f.n),
    ["a", "b", "c"],
    "delivered frames stay delivered, once",
  );
  t.equal(ws.sockets.length, 2);
  ws.last().drop(1006);
  await until("the next reconnect", () => ws.sockets.length === 3);
  t.equal(ws.last().url, resumeUrl("U61", 61), "later resumes use the fresh session's token");
});

t.test("4003 with a reason it cannot parse: afterSeq is the last seq_num received", async (t) => {
  const { ws, lost } = setup(t);
  ws.last().session("S1", "T1");
  ws.last().frame({ seq_num: 17, resume_token: "T17" });
  ws.last().drop(4003, "history lost");
  t.same(lost, [{ afterSeq: 17, reason: "history lost" }]);
  await until("the reconnect", () => ws.sockets.length === 2);
  t.equal(ws.last().url, BASE);
});

t.test("closing the client from a historyLost listener stops it", async (t) => {
  const { c, ws, events } = setup(t, { backoffMs: 1 });
  ws.last().session("S1", "T1");
  c.on("historyLost", () => c.close());
  ws.last().drop(4003, "history lost: messages after seq_num 0 expired before delivery");
  await sleep(30);
  t.equal(ws.sockets.length, 1);
  t.notOk(events.some((e) => e.startsWith("reconnecting")));
});

t.test("closing the client from a reconnecting listener cancels that reconnect", async (t) => {
  const { c, ws, events } = setup(t, { backoffMs: 1 });
  ws.last().session("S1", "T1");
  c.on("reconnecting", () => c.close());
  ws.last().drop(1006);
  await sleep(30);
  t.equal(ws.sockets.length, 1);
  t.same(events, ["session", "close 1006", "reconnecting 1"]);
  t.ok(await iteratorEnded(c));
});

t.test("close(): closes with 1000 and does not reconnect", async (t) => {
  const { c, ws, events } = setup(t, { backoffMs: 1 });
  ws.last().session("S1", "T1");
  c.close();
  t.same(ws.last().closedWith, { code: 1000, reason: "client closed" });
  await sleep(30);
  t.equal(ws.sockets.length, 1);
  t.same(events, ["session", "close 1000"]);
  t.ok(await iteratorEnded(c));
});

t.test("close() while waiting to reconnect cancels the reconnect", async (t) => {
  const { c, ws } = setup(t, { backoffMs: 20 });
  ws.last().session("S1", "T1");
  ws.last().drop(1006);
  c.close();
  await sleep(60);
  t.equal(ws.sockets.length, 1);
});

t.test("requests unanswered when the socket went are sent again after the resume; answered ones and notifications are not", async (t) => {
  const { c, ws } = setup(t);
  ws.last().session("S1", "T1");
  c.send({ jsonrpc: "2.0", id: 1, method: "a" });
  c.send({ jsonrpc: "2.0", id: "two", method: "b" });
  c.send({ jsonrpc: "2.0", method: "notifications/x" });
  c.send('{"jsonrpc":"2.0","id":3,"method":"c"}');
  c.send({ jsonrpc: "2.0", id: 4, method: "d" });
  ws.last().frame({ seq_num: 1000, resume_token: "T2", jsonrpc: "2.0", id: 1, result: {} });
  ws.last().frame({ seq_num: 2000, resume_token: "T3", jsonrpc: "2.0", id: 4, error: { code: -32000, message: "x" } });
  // a request of the gateway's (an id and a method) is not an answer to ours
  ws.last().frame({ seq_num: 3000, resume_token: "T4", jsonrpc: "2.0", id: "two", method: "sampling/createMessage" });
  ws.last().drop(1006);
  await until("the reconnect", () => ws.sockets.length === 2);
  c.send({ jsonrpc: "2.0", id: 5, method: "e" });
  ws.last().session("S1", "T4", { resumed: true });
  t.same(
    ws.last().sent.map((s) => JSON.parse(s).id),
    ["two", 3, 5],
    "the unanswered ones again, in the order sent, then what was queued",
  );
  ws.last().frame({ seq_num: 4000, resume_token: "T5", jsonrpc: "2.0", id: "two", result: {} });
  ws.last().drop(1012);
  await until("the next reconnect", () => ws.sockets.length === 3);
  ws.last().session("S1", "T5", { resumed: true });
  t.same(
    ws.last().sent.map((s) => JSON.parse(s).id),
    [3, 5],
    "each until answered",
  );
});

t.test("a fresh session (resume refused) gets none of the old session's requests; none past resendWithinMs either", async (t) => {
  const { c, ws } = setup(t);
  ws.last().session("S1", "T1");
  c.send({ jsonrpc: "2.0", id: 1, method: "a" });
  ws.last().drop(1006);
  await until("the reconnect", () => ws.sockets.length === 2);
  ws.last().session("S2", "U1", { resumed: false, reason: "expired" });
  t.same(ws.last().sent, [], "the old session's request is not run in the new one");
  ws.last().drop(1006);
  await until("the next reconnect", () => ws.sockets.length === 3);
  ws.last().session("S2", "U1", { resumed: true });
  t.same(ws.last().sent, [], "and forgotten");

  const old = new RadiantClient({ url: BASE, WebSocket: ws.Ctor, backoffMs: 2, resendWithinMs: 50 });
  t.teardown(() => old.close());
  ws.last().session("S3", "V1");
  old.send({ jsonrpc: "2.0", id: 9, method: "slow" });
  await sleep(80);
  ws.last().drop(1006);
  await until("its reconnect", () => ws.sockets.length === 5);
  ws.last().session("S3", "V1", { resumed: true });
  t.same(ws.last().sent, [], "sent longer ago than resendWithinMs: past the gateway's de-duplication, not sent again");
});

t.test("a copy sent again and refused by the gateway (its own error, saying retry) is tried again, the refusal kept from the app", async (t) => {
  const { c, ws, messages } = setup(t);
  ws.last().session("S1", "T1");
  c.send({ jsonrpc: "2.0", id: 7, method: "long" });
  ws.last().frame({ seq_num: 1000, resume_token: "T2", jsonrpc: "2.0", method: "notifications/progress" });
  ws.last().drop(1006);
  await until("the reconnect", () => ws.sockets.length === 2);
  ws.last().session("S1", "T2", { resumed: true });
  t.equal(ws.last().sent.length, 1, "sent again");
  ws.last().frame({ seq_num: 0, resume_token: "T2", jsonrpc: "2.0", id: 7, error: { code: -32000, message: "Service unavailable: no responders; retry" } });
  await until("tried again", () => ws.last().sent.length === 2);
  ws.last().frame({ seq_num: 2000, resume_token: "T3", jsonrpc: "2.0", id: 7, result: { done: true } });
  t.same(
    messages.filter((m) => m.id === 7),
    [{ seq_num: 2000, resume_token: "T3", jsonrpc: "2.0", id: 7, result: { done: true } }],
    "the app sees the answer only",
  );
  // the gateway's refusal of a copy that comes after the answer: dropped
  ws.last().frame({ seq_num: 0, resume_token: "T3", jsonrpc: "2.0", id: 7, error: { code: -32000, message: "Service unavailable: not confirmed; retry" } });
  t.equal(messages.filter((m) => m.id === 7).length, 1, "a late refusal of a copy is not the app's");
  // an error for a request never sent again is the app's
  c.send({ jsonrpc: "2.0", id: 8, method: "x" });
  ws.last().frame({ seq_num: 0, resume_token: "T3", jsonrpc: "2.0", id: 8, error: { code: -32000, message: "Service unavailable; retry" } });
  t.equal(messages.filter((m) => m.id === 8).length, 1, "delivered");
});

t.test("a copy sent again and refused for another reason (a rate limit) is the app's to see", async (t) => {
  const { c, ws, messages } = setup(t);
  ws.last().session("S1", "T1");
  c.send({ jsonrpc: "2.0", id: 1, method: "a" });
  ws.last().drop(1006);
  await until("the reconnect", () => ws.sockets.length === 2);
  ws.last().session("S1", "T1", { resumed: true });
  ws.last().frame({
    seq_num: 0,
    resume_token: "T1",
    jsonrpc: "2.0",
    id: 1,
    error: { code: -32029, message: "Too Many Requests: 60 per minute; retry after 3 s" },
  });
  await sleep(20);
  t.equal(messages.filter((m) => m.id === 1).length, 1, "delivered");
  t.equal(ws.last().sent.length, 1, "not sent a third time");
});
