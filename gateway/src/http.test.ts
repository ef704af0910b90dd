import t from "tap";
import { accepts, isJson, OriginPolicy } from "./http.js";

t.test("Accept: listed types, wildcards, parameters", async (t) => {
  t.ok(accepts("application/json, text/event-stream", "text/event-stream"));
  t.ok(accepts("text/event-stream;q=0.9", "text/event-stream"));
  t.ok(accepts("*/*", "application/json"));
  t.ok(accepts("application/*", "application/json"));
  t.notOk(accepts("text/html", "application/json"));
  t.notOk(accepts("", "application/json"), "no Accept header: nothing listed");
});

t.test("Content-Type: JSON with or without parameters", async (t) => {
  t.ok(isJson("application/json"));
  t.ok(isJson("Application/JSON; charset=utf-8"));
  t.notOk(isJson("text/plain"));
  t.notOk(isJson(""));
});

t.test("Origin: absent passes, listed passes, others refused, * lets all in", async (t) => {
  const p = new OriginPolicy(["https://app.example"]);
  t.ok(p.allows(""), "not from a page");
  t.ok(p.allows("https://app.example"));
  t.notOk(p.allows("https://evil.example"));
  t.notOk(new OriginPolicy([]).allows("https://app.example"), "nothing listed: no page may call");
  t.ok(new OriginPolicy(["*"]).allows("https://anything.example"));
});
