// The API key set every gateway process keeps, against a real nats-server:
// a key written to the bucket works at once, a deleted one stops at once
// (its sessions are told), a process that starts later reads the whole set —
// also when the bucket's newest entry is gone (a purged delete marker) — and
// what an admin may grant is checked member by member.
import { natsForTest } from "@radiant/infra/nats-server";
import { pino } from "pino";
import t from "tap";
import { ApiKeys, grantOf, KeyGrantError, makeKey, openKeyBucket, parseKey } from "./api_keys.js";

const { nc } = await natsForTest("keys", t.teardown);
const silent = pino({ level: "silent" });
const until = async (what: string, f: () => boolean) => {
  for (let i = 0; i < 400 && !f(); i++) await new Promise((r) => setTimeout(r, 25));
  if (!f()) throw new Error(`timed out: ${what}`);
};
const follow = (t: { teardown(f: () => unknown): void }, revoked: string[] = []) => {
  const keys = new ApiKeys(nc, silent, (id) => revoked.push(id));
  void keys.watch();
  t.teardown(() => keys.stop());
  return keys;
};

t.test("made, checked, revoked at once; a process started later reads the whole set", async (t) => {
  const kv = await openKeyBucket(nc);
  const revoked: string[] = [];
  const keys = follow(t, revoked);
  const a = makeKey({ principal: "alice", rpm: 5 });
  const b = makeKey({ principal: "bob" });
  await kv.create(a.record.id, JSON.stringify(a.record));
  await kv.create(b.record.id, JSON.stringify(b.record));
  await until("both keys seen", () => keys.check(a.key).ok && keys.check(b.key).ok);
  t.match(keys.check(a.key), { ok: true, record: { principal: "alice", rpm: 5 } });
  t.match(keys.check(`${a.key.slice(0, -1)}${a.key.endsWith("A") ? "B" : "A"}`), { ok: false, why: "unknown" }, "one character off");
  await kv.put("zzzzzzzzzzzzzzzz", "not a record");
  await kv.delete(a.record.id);
  await until("alice's key revoked", () => !keys.check(a.key).ok);
  t.same(revoked, [a.record.id], "its sessions are told");
  // the newest entry of the bucket is a delete marker; purging it leaves the stream's last sequence behind
  await (kv as unknown as { purgeDeletes(olderMillis: number): Promise<unknown> }).purgeDeletes(0);
  const later = follow(t);
  await until("a later process ready", () => later.check(b.key).ok);
  t.notOk(later.check(a.key).ok, "the revoked key stays revoked");
  t.equal(later.size, 1, "a record that is not a key is ignored");
});

t.test("what an admin may grant, and what a key looks like", async (t) => {
  const bad: unknown[] = [
    null,
    [],
    {},
    { principal: "anonymous" },
    { principal: " padded" },
    { principal: "a", tenant: "" },
    { principal: "a", models: ["ok", "not ok"] },
    { principal: "a", rpm: 0 },
    { principal: "a", tpm: 1.5 },
    { principal: "a", connections: "3" },
    { principal: "a", admin: true },
  ];
  const refusal = (b: unknown) => {
    try {
      grantOf(b);
      return undefined;
    } catch (e) {
      return e;
    }
  };
  for (const b of bad) t.ok(refusal(b) instanceof KeyGrantError, `refused: ${JSON.stringify(b)}`);
  t.same(grantOf({ principal: "a", models: ["gpt-4o", "claude-*", "gpt-4o"], tpm: 1000 }), { principal: "a", models: ["gpt-4o", "claude-*"], tpm: 1000 });
  const { key } = makeKey({ principal: "a" });
  t.ok(parseKey(key));
  for (const s of ["", "rad_", `${key}x`, key.replace("rad_", "rak_"), key.toUpperCase()]) t.equal(parseKey(s), undefined, s.slice(0, 30));
});
