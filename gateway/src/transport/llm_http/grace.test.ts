// Who reads a plain HTTP answer: a resume supersedes earlier readers (here, or
// elsewhere by notice); only the newest reader leaving starts the cancel.
import t from "tap";
import { makeSessionId } from "@radiant/wire";
import { Grace, type Reader } from "./grace.js";

const sid = makeSessionId("gtest1", Buffer.alloc(16, 1));
/** A reader that counts how often it was superseded. */
const reader = () => {
  const r = { superseded: 0 };
  const it: Reader = { superseded: () => void r.superseded++ };
  return { r, reader: it };
};
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test("the newest reader leaving cancels after the grace period; a resume meanwhile keeps the request", async (t) => {
  const g = new Grace(50);
  const a = reader();
  let cancelled = 0;
  let released = 0;
  g.opened(sid, a.reader);
  g.over(
    sid,
    a.reader,
    true,
    () => cancelled++,
    () => released++,
  );
  t.equal(g.size, 1);
  await wait(120);
  t.equal(cancelled, 1, "nobody came back: cancelled");
  t.equal(released, 1);

  const b = reader();
  g.opened(sid, b.reader);
  g.over(
    sid,
    b.reader,
    true,
    () => cancelled++,
    () => released++,
  );
  const c = reader();
  g.opened(sid, c.reader); // the resume, within the grace period
  await wait(120);
  t.equal(cancelled, 1, "resumed in time: not cancelled");
  t.equal(released, 2, "the line of the one that left is let go");
});

t.test("a resume supersedes an earlier reader still connected: it leaving later cancels nothing", async (t) => {
  const g = new Grace(30);
  const first = reader();
  const resumed = reader();
  let cancelled = 0;
  g.opened(sid, first.reader);
  g.opened(sid, resumed.reader);
  t.equal(first.r.superseded, 1, "told at once");
  g.over(
    sid,
    first.reader,
    true,
    () => cancelled++,
    () => {},
  );
  await wait(80);
  t.equal(cancelled, 0);
  t.equal(g.size, 0);
});

t.test("a resume on another process (its notice) supersedes the reader here; this process's own notice does not", async (t) => {
  const g = new Grace(30);
  const here = reader();
  g.opened(sid, here.reader);
  const own = g.noticeId();
  g.notice(sid, own);
  t.equal(here.r.superseded, 0, "our own notice, come back through NATS");
  g.notice(sid, own + 1);
  t.equal(here.r.superseded, 1, "another process's");
  let cancelled = 0;
  g.over(
    sid,
    here.reader,
    true,
    () => cancelled++,
    () => {},
  );
  await wait(80);
  t.equal(cancelled, 0, "it leaving cancels nothing");
  // a reader that left and waits to cancel: a notice from elsewhere stops the cancel
  const later = reader();
  g.opened(sid, later.reader);
  g.over(
    sid,
    later.reader,
    true,
    () => cancelled++,
    () => {},
  );
  g.notice(sid, 12345);
  await wait(80);
  t.equal(cancelled, 0);
});
