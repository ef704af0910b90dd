// The path check and what headers cross the proxy, each way.
import t from "tap";
import { badPath, upstreamHeaders, upstreamPath, workerHeaders } from "./forwarding.js";

t.test("paths the providers use pass", async (t) => {
  for (const p of [
    "/v1/chat/completions",
    "/v1/messages",
    "/v1/models",
    "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
    "/v1/files/file-abc123/content?x=a%20b&y=1.5",
  ]) {
    t.equal(badPath(p), undefined, p);
  }
});

t.test("paths that could leave the base URL, or be read differently, are refused", async (t) => {
  for (const p of [
    "",
    "v1/chat",
    "http://evil.example/v1",
    "/../admin",
    "/v1/../../admin",
    "/v1/%2e%2e/admin",
    "/v1/.%2E/admin",
    "//evil.example/v1",
    "/v1//x",
    "/v1/%2f/x",
    "/https://evil.example/",
    "/v1/x#frag",
    "/v1/a b",
    "/v1/a\tb",
    "/v1/a\u0000b",
    "/v1/a\u007fb",
    "/v1/é",
    "/v1\\..\\x",
    `/${"a".repeat(9000)}`,
  ]) {
    t.type(badPath(p), "string", JSON.stringify(p.slice(0, 40)));
  }
});

t.test("the base URL's own path comes first", async (t) => {
  t.equal(upstreamPath(new URL("https://h.example"), "/v1/x?a=1"), "/v1/x?a=1");
  t.equal(upstreamPath(new URL("https://h.example/openai"), "/v1/x"), "/openai/v1/x");
  t.equal(upstreamPath(new URL("https://h.example/openai/"), "/v1/x"), "/openai/v1/x");
});

t.test("upstream headers: the key per format, no worker credentials, no hop-by-hop, no radiant-*", async (t) => {
  const from = {
    "content-type": "application/json",
    accept: "text/event-stream",
    authorization: "Bearer worker",
    "x-api-key": "worker",
    "x-goog-api-key": "worker",
    "radiant-model": "m",
    "radiant-request-id": "r1",
    connection: "keep-alive, x-hop",
    "x-hop": "1",
    "keep-alive": "timeout=5",
    "transfer-encoding": "chunked",
    host: "proxy:9000",
    "content-length": "12",
    "x-custom": "kept",
  };
  t.same(upstreamHeaders(from, { format: "openai", key: "sk-o", requestId: "r1" }), {
    "content-type": "application/json",
    accept: "text/event-stream",
    "x-custom": "kept",
    authorization: "Bearer sk-o",
    "x-request-id": "r1",
  });
  t.same(upstreamHeaders({ accept: "*/*" }, { format: "anthropic", key: "sk-a", requestId: undefined }), {
    accept: "*/*",
    "x-api-key": "sk-a",
    "anthropic-version": "2023-06-01",
  });
  t.equal(upstreamHeaders({ "anthropic-version": "2024-10-22" }, { format: "anthropic", key: "k", requestId: undefined })["anthropic-version"], "2024-10-22");
  t.same(upstreamHeaders({ authorization: "x" }, { format: "google", key: "g", requestId: undefined }), { "x-goog-api-key": "g" });
  t.same(upstreamHeaders({ authorization: "x", "x-api-key": "y" }, { format: "openai", key: undefined, requestId: undefined }), {}, "no key: none");
});

t.test("worker headers: the upstream's, less hop-by-hop, pseudo and radiant-* ones, plus the request id", async (t) => {
  t.same(
    workerHeaders(
      {
        ":status": "200",
        "content-type": "text/event-stream",
        connection: "close",
        "transfer-encoding": "chunked",
        "radiant-error": "spoofed",
        "retry-after": "3",
        "set-cookie": ["a=1", "b=2"],
        "x-bad": "a\nb",
      },
      "r1",
    ),
    { "content-type": "text/event-stream", "retry-after": "3", "set-cookie": ["a=1", "b=2"], "radiant-request-id": "r1" },
  );
});
