// The hub's decisions with a fake NATS link and HISTORY: a fresh session, a
// resume that replays, a resume refused (and why), takeover here and from
// another process, an ended session, frames sent while a resume is decided,
// and HISTORY unreadable at a resume.
import { ANONYMOUS_IDENTITY } from "./auth/authenticator.js";
import t from "tap";
import { closeCodes, type controlHeaders, headers, makeSessionId, position, type Control, type SessionId } from "@radiant/wire";
import { FakeNats } from "../test/fake_nats.js";
import { Delivery } from "./delivery.js";
import type { EndedSessions } from "./ended.js";
import { Hub } from "./hub.js";
import type { Ingress } from "./ingress.js";
import { Limits } from "./limits.js";
import { HistoryStateCache } from "./resume.js";
import { ResumeTokens } from "./resume_token.js";
import type { Session, Transport } from "./session.js";

const HOME = "hubHOM";

class FakeTransport implements Transport {
  readonly sent: string[] = [];
  closed: [number, string] | undefined;
  parked = false;
  constructor(
    readonly framing: "json" | "mcp" | "plain" = "json",
    quiet = false,
  ) {
    if (quiet) this.takenOver = () => void (this.parked = true);
  }
  takenOver?: () => void;
  bufferedAmount(): number {
    return 0;
  }
  send(frame: Uint8Array | string): boolean {
    this.sent.push(typeof frame === "string" ? frame : Buffer.from(frame).toString());
    return true;
  }
  close(code: number, reason: string): void {
    if (this.gone) this.usedAfterGone++;
    this.closed ??= [code, reason];
  }
  /** the socket is closed: uWS throws on any use of it */
  gone = false;
  usedAfterGone = 0;
  get frames(): Record<string, unknown>[] {
    return this.sent.map((f) => JSON.parse(f) as Record<string, unknown>);
  }
}

async function setup(o: { historyDown?: boolean } = {}) {
  const nats = new FakeNats();
  const published: { subject: string; control: Control | undefined }[] = [];
  const nc = {
    publish: (subject: string, _d: unknown, opts?: { headers?: ReturnType<typeof controlHeaders> }) =>
      published.push({ subject, control: opts?.headers ? ({ kind: opts.headers.get(headers.control) } as never) : undefined }),
  };
  const ingested: [string, string][] = [];
  const ingress = {
    frame: (s: Session, f: Buffer) => ingested.push([s.sid, f.toString()]),
    refuseOverloaded: () => {},
    limits: new Limits({ connections: 0, rpm: 0, tpm: 0 }, "hubtst"),
  } as unknown as Ingress;
  const created = new Date(1_700_000_000_000).toISOString();
  const jsm = {
    streams: {
      info: async () => {
        if (o.historyDown) throw new Error("down");
        return { created, state: { last_seq: nats.seq } };
      },
    },
  };
  const historyState = new HistoryStateCache(jsm as never, 0);
  const ended = new Set<SessionId>();
  let hub: Hub | undefined;
  const delivery = new Delivery(nats, nats, { home: HOME, maxBackpressure: 1000, gapWaitMs: 20, maxHeld: 100, onControl: (sid, c) => hub?.notice(sid, c) });
  const tokens = new ResumeTokens("hub-test-secret-hub-test-secret-0123", 3600);
  hub = new Hub(nc as never, ingress, delivery, tokens, historyState, { has: (sid: SessionId) => ended.has(sid) } as unknown as EndedSessions);
  if (!o.historyDown) await historyState.get(true); // the epoch new tokens carry
  return { nats, hub, delivery, tokens, published, ingested, historyState, epoch: Date.parse(created).toString(36), ended };
}

const tick = () => new Promise((r) => setTimeout(r, 10));

t.test("a fresh session: the session frame first, then live", async (t) => {
  const { hub, nats } = await setup();
  const tr = new FakeTransport();
  const s = hub.open(hub.prepare("anonymous", {}), ANONYMOUS_IDENTITY, tr);
  t.match(tr.frames[0], { type: "session", sid: s.sid, seq_num: 0 });
  t.equal(hub.sessions.get(s.sid), s);
  nats.deliver(nats.store(s.sid, '{"a":1}'));
  t.match(tr.frames[1], { seq_num: position(1, 0), a: 1 }, "seq_num: the frame's position (message 1, frame 0)");
});

t.test("a resume replays after last_seq, the session frame first (resumed), queued frames after it", async (t) => {
  const { hub, nats, historyState } = await setup();
  const first = new FakeTransport();
  const s = hub.open(hub.prepare("anonymous", {}), ANONYMOUS_IDENTITY, first);
  for (let i = 0; i < 3; i++) nats.store(s.sid, `{"i":${i}}`);
  await historyState.get(true); // its end moved
  const tr = new FakeTransport();
  const again = hub.open(hub.prepare("anonymous", { resume: s.token, lastSeq: String(position(1, 0)) }), ANONYMOUS_IDENTITY, tr);
  hub.frame(again, Buffer.from('{"jsonrpc":"2.0","id":1,"method":"ping"}'));
  await tick();
  t.match(tr.frames[0], { type: "session", sid: s.sid, resumed: true });
  t.same(
    tr.frames.slice(1).map((f) => f.i),
    [1, 2],
    "everything after seq 1, once",
  );
  t.same(first.closed, [closeCodes.takenOver, "session taken over by a newer connection"], "the older socket here is taken over");
});

t.test("a refused resume: a fresh session on the same connection, saying why", async (t) => {
  const { hub, tokens, epoch } = await setup();
  const other = makeSessionId(HOME, new Uint8Array(16).fill(9));
  const cases: [string, string, RegExp][] = [
    [tokens.issue({ sid: other, principal: "anonymous", epoch: "older" }), "0", /epoch changed/],
    [tokens.issue({ sid: other, principal: "anonymous", epoch }), String(position(99, 0)), /beyond the end/],
    ["forged.token.here", "0", /resume token invalid/],
    [tokens.issue({ sid: other, principal: "someone-else", epoch }), "0", /another principal/],
  ];
  for (const [token, lastSeq, why] of cases) {
    const tr = new FakeTransport();
    const s = hub.open(hub.prepare("anonymous", { resume: token, lastSeq }), ANONYMOUS_IDENTITY, tr);
    await tick();
    t.match(tr.frames[0], { type: "session", resumed: false, reason: why }, String(why));
    t.not(s.sid, other, "a new session id");
  }
});

t.test("takeover from another process closes this one (4001); a notice of our own does not; MCP's GET goes quiet", async (t) => {
  const { hub, published } = await setup();
  const tr = new FakeTransport();
  const s = hub.open(hub.prepare("anonymous", {}), ANONYMOUS_IDENTITY, tr);
  hub.notice(s.sid, { kind: "takeover", by: s.connId });
  t.equal(tr.closed, undefined, "our own announcement");
  hub.notice(s.sid, { kind: "takeover", by: "someoneElse" });
  t.same(tr.closed, [4001, "session taken over by a newer connection"]);
  const quiet = new FakeTransport("plain", true);
  const q = hub.open(hub.prepare("anonymous", {}), ANONYMOUS_IDENTITY, quiet);
  hub.notice(q.sid, { kind: "takeover", by: "someoneElse" });
  t.ok(quiet.parked, "parked instead of closed (MCP clients reconnect every GET the server ends)");
  t.equal(quiet.closed, undefined);
  t.equal(hub.sessions.get(q.sid), undefined, "and no longer the session's stream");
  const resumedElsewhere = new FakeTransport();
  hub.open(hub.prepare("anonymous", { resume: s.token, lastSeq: "0" }), ANONYMOUS_IDENTITY, resumedElsewhere);
  t.ok(
    published.some((p) => p.control !== undefined),
    "a resume announces itself to other processes",
  );
});

t.test("an ended session closes with 4002; HISTORY unreadable at a resume closes with 1013", async (t) => {
  const { hub } = await setup();
  const tr = new FakeTransport();
  const s = hub.open(hub.prepare("anonymous", {}), ANONYMOUS_IDENTITY, tr);
  hub.notice(s.sid, { kind: "ended" });
  t.equal(tr.closed?.[0], 4002);

  const down = await setup({ historyDown: true });
  const fresh = down.hub.open(down.hub.prepare("anonymous", {}), ANONYMOUS_IDENTITY, new FakeTransport());
  const tr2 = new FakeTransport();
  down.hub.open(down.hub.prepare("anonymous", { resume: fresh.token, lastSeq: "0" }), ANONYMOUS_IDENTITY, tr2);
  await tick();
  t.same(tr2.closed, [1013, "history unavailable: resume again shortly"]);

  // a client that left while its resume read HISTORY: its socket is gone (uWS throws on any use of it), nothing is done to it
  const tr3 = new FakeTransport();
  const s3 = down.hub.open(down.hub.prepare("anonymous", { resume: fresh.token, lastSeq: "0" }), ANONYMOUS_IDENTITY, tr3);
  tr3.gone = true;
  down.hub.close(s3);
  await tick();
  t.equal(tr3.usedAfterGone, 0, "no close on a closed socket");
});

t.test(
  "admission control: past maxResuming a resume waits its turn, in order; past maxWaiting it is deferred; fresh sessions are never held back",
  async (t) => {
    const { hub, nats, historyState } = await setup();
    hub.maxResuming = 1;
    hub.maxWaiting = 1;
    const olds = [0, 1, 2].map(() => hub.open(hub.prepare("anonymous", {}), ANONYMOUS_IDENTITY, new FakeTransport()));
    for (const s of olds) nats.store(s.sid, '{"i":0}');
    await historyState.get(true);
    const resume = (s: Session) => {
      const tr = new FakeTransport();
      hub.open(hub.prepare("anonymous", { resume: s.token, lastSeq: "0" }), ANONYMOUS_IDENTITY, tr);
      return tr;
    };
    t.ok(hub.mayResume(), "room to run one");
    const first = resume(olds[0]!);
    t.equal(hub.resuming, 1, "one runs");
    t.ok(hub.mayResume(), "room for one to wait");
    const second = resume(olds[1]!);
    t.equal(hub.resuming, 1, "the second waits");
    t.equal(second.sent.length, 0, "nothing sent to it yet");
    t.notOk(hub.mayResume(), "a third is deferred: the client comes back later");
    t.ok(hub.open(hub.prepare("anonymous", {}), ANONYMOUS_IDENTITY, new FakeTransport()), "a fresh session opens regardless");
    for (let i = 0; i < 50 && second.sent.length === 0; i++) await tick();
    t.match(first.frames[0], { type: "session", resumed: true });
    t.match(second.frames[0], { type: "session", resumed: true }, "the waiting one had its turn");
    t.equal(hub.resuming, 0, "all done");
    t.ok(hub.mayResume());
    // one that left while it waited is skipped
    const gone = new FakeTransport();
    resume(olds[2]!);
    const left = hub.open(hub.prepare("anonymous", { resume: olds[0]!.token, lastSeq: "0" }), ANONYMOUS_IDENTITY, gone);
    hub.close(left);
    for (let i = 0; i < 50 && hub.resuming > 0; i++) await tick();
    t.equal(hub.resuming, 0);
    t.equal(gone.sent.length, 0, "nothing for a client that left");
  },
);
