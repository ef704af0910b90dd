import t from "tap";
import { accepts, allowedHeaders, isJson, OriginPolicy } from "./http.js";

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

t.test("Origin: absent passes, same-origin passes, listed passes, others refused (null too), * lets all in", async (t) => {
  const p = new OriginPolicy(["https://app.example"]);
  const host = "gateway.example:8443";
  t.ok(p.allows("", host), "not from a page");
  t.ok(p.allows("https://app.example", host));
  t.ok(p.allows("HTTPS://APP.EXAMPLE", host), "origins compare without case");
  t.notOk(p.allows("https://evil.example", host));
  t.notOk(p.allows("null", host), "Origin: null is another origin");
  t.notOk(new OriginPolicy([]).allows("https://app.example", host), "nothing listed: no other page may call");
  t.ok(new OriginPolicy([]).allows("http://gateway.example:8443", host), "a page of the gateway's own origin");
  t.ok(new OriginPolicy([]).allows("https://gateway.example", "gateway.example"), "default port");
  t.ok(new OriginPolicy([]).allows("https://gateway.example", "gateway.example:443"), "default port spelled out");
  t.notOk(new OriginPolicy([]).allows("https://gateway.example", "gateway.example:8443"), "another port is another origin");
  t.notOk(new OriginPolicy([]).allows("http://gateway.example:8443", ""), "no Host: no same origin");
  t.notOk(new OriginPolicy([]).allows("ftp://gateway.example:8443", host));
  t.notOk(new OriginPolicy([]).allows("not a url", host));
  t.ok(new OriginPolicy(["*"]).allows("https://anything.example", host));
  t.ok(new OriginPolicy(["*"]).allows("null", host));
});

t.test("a preflight allows the header names a page asks for (the SDKs' own), and nothing that is not a header name", async (t) => {
  t.equal(
    allowedHeaders("content-type,x-stainless-os, anthropic-dangerous-direct-browser-access"),
    "content-type,x-stainless-os, anthropic-dangerous-direct-browser-access",
  );
  for (const bad of ["", "a\r\nSet-Cookie: x", "a b", "x:y", "a,".repeat(80)])
    t.match(allowedHeaders(bad), /^Content-Type, Authorization/, JSON.stringify(bad).slice(0, 30));
});
