// Webhook URLs come from clients: by default none that reaches this network's
// own addresses (loopback, private ranges, link-local — a cloud's metadata).
import t from "tap";
import { isPrivateAddress, refusedWebhook } from "./webhook.js";

t.test("private addresses, v4 and v6", async (t) => {
  for (const ip of [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "0.0.0.0",
    "100.64.0.1",
    "::1",
    "::",
    "fd00::1",
    "fe80::1",
    "::ffff:127.0.0.1",
  ])
    t.ok(isPrivateAddress(ip), ip);
  for (const ip of ["8.8.8.8", "172.32.0.1", "192.169.0.1", "1.1.1.1", "2001:4860:4860::8888"]) t.notOk(isPrivateAddress(ip), ip);
});

t.test("refused: private targets (unless allowed), non-http, credentials in the URL", async (t) => {
  t.match(await refusedWebhook("http://127.0.0.1:9/x", false), /private address/);
  t.match(await refusedWebhook("http://[::1]/x", false), /private address/);
  t.match(await refusedWebhook("http://169.254.169.254/latest/meta-data", false), /private address/);
  t.match(await refusedWebhook("http://[::ffff:127.0.0.1]:9/x", false), /private address/, "an IPv4-mapped loopback");
  t.match(await refusedWebhook("http://[::ffff:169.254.169.254]/", false), /private address/, "the metadata service, mapped");
  t.match(await refusedWebhook("http://localhost/x", false), /private address/, "a name that resolves to loopback");
  t.equal(await refusedWebhook("http://127.0.0.1:9/x", true), undefined, "EGRESS_WEBHOOK_PRIVATE=true");
  t.match(await refusedWebhook("file:///etc/passwd", true), /not http/);
  t.match(await refusedWebhook("http://user:pw@example.com/", true), /credentials/);
  t.match(await refusedWebhook("not a url", true), /not a URL/);
});

t.test("the address is checked when connecting (a name may answer differently the second time)", async (t) => {
  const { createServer } = await import("node:http");
  const server = createServer((_req, res) => res.writeHead(204).end());
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as { port: number }).port;
  const { postWebhook } = await import("./webhook.js");
  t.equal(await postWebhook(`http://localhost:${port}/`, {}, Buffer.from("{}"), false), 0, "a name for loopback: refused at connect");
  t.equal(await postWebhook(`http://localhost:${port}/`, {}, Buffer.from("{}"), true), 204, "allowed when private addresses are");
});
