// The forwarding notices come off NATS: whatever the bytes, decoding never
// throws, accepts only what encoding makes, and nothing it returns could put
// a wildcard or a dot into a subject.
import t from "tap";
import fc from "fast-check";
import { decodeAlive, decodeHold, encodeHold } from "./forwarding.js";
import { makeSessionId } from "./session_id.js";
import { subjects } from "./subjects.js";

const SID = makeSessionId("homeAA", new Uint8Array(16).fill(9));

t.test("a hold notice round-trips; a release too", async (t) => {
  const at = Date.now();
  t.same(decodeHold(encodeHold({ op: "hold", sid: SID, holder: "holdBB", at })), { op: "hold", sid: SID, holder: "holdBB", at });
  t.same(decodeHold(encodeHold({ op: "release", sid: SID, holder: "hold-_", at: 0 })), { op: "release", sid: SID, holder: "hold-_", at: 0 });
  t.throws(() => encodeHold({ op: "hold", sid: SID, holder: "a.b.c*", at }), "a holder that is no home id is never sent");
  t.throws(() => encodeHold({ op: "hold", sid: SID, holder: "holdBB", at: 1.5 }), "nor a claim time that is not whole ms");
  t.throws(() => subjects.forwarded("*", SID), "nor becomes a subject");
  t.throws(() => subjects.hold(">"));
});

t.test("anything else is no notice", async (t) => {
  for (const s of [
    "",
    "hold",
    `hold ${SID}`,
    `hold ${SID} holdBB`,
    `hold ${SID} holdBB x`,
    `hold ${SID} holdBB -1`,
    `hold ${SID} holdBB 1e9`,
    `hold ${SID} holdBB 1 2`,
    `hold ${SID} holdBB ${"9".repeat(16)}`,
    `HOLD ${SID} holdBB`,
    `hold ${SID}x holdBB`,
    `hold ${SID} hold.B`,
    `hold  ${SID} holdBB`,
    `drop ${SID} holdBB`,
  ]) {
    t.equal(decodeHold(Buffer.from(s)), undefined, JSON.stringify(s));
  }
  for (const s of ["", "UP", "up ", "gone\n", "x".repeat(9)]) t.equal(decodeAlive(Buffer.from(s)), undefined, JSON.stringify(s));
  t.equal(decodeAlive(Buffer.from("back")), "back");
});

t.test("fuzz: random bytes never throw, and whatever decodes builds a valid subject", async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 90 }), (b) => {
      const n = decodeHold(b);
      if (n) subjects.forwarded(n.holder, n.sid);
      decodeAlive(b);
    }),
    { numRuns: 5000 },
  );
  fc.assert(
    fc.property(
      fc.constantFrom("hold", "release", "x"),
      fc.string({ maxLength: 30 }),
      fc.string({ maxLength: 8 }),
      fc.string({ maxLength: 16 }),
      (op, sid, holder, at) => {
        const n = decodeHold(Buffer.from(`${op} ${sid} ${holder} ${at}`));
        if (n) t.ok(/^fwd\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{28}$/.test(subjects.forwarded(n.holder, n.sid)) && Number.isSafeInteger(n.at));
      },
    ),
    { numRuns: 5000 },
  );
  t.pass("no throw");
});
