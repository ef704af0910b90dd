// What the uWebSockets.js build we ship does with TLS client certificates,
// pinned on a bare SSLApp (no gateway) with certificates from ./tls_certs.ts.
// This is the regression test for the binary: a new build that behaves
// differently fails here, not in production.
//
// - ca_file_name makes the server ask for a certificate and check any it is
//   given (issuer, dates, extendedKeyUsage): a bad one is refused at the
//   handshake, before any handler runs.
// - It does NOT require one: a client that sends no certificate is served.
// - No handler can see the peer's certificate: nothing on HttpResponse,
//   HttpRequest or WebSocket exposes it.
// - SSLApp throws "App construction failed" (and says no more) for a key,
//   certificate or CA file that is missing or unreadable as PEM, or a key
//   that does not match; but an absent or empty key_file_name or
//   cert_file_name is taken as "none": it listens and fails every handshake,
//   and an empty ca_file_name silently turns client checks off.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import type { AppOptions, us_listen_socket } from "uWebSockets.js";
import WebSocket from "ws";
import { loadNativeUws } from "../src/uws.js";
import { type ClientCertFiles, makeClientCert, makeTls } from "./tls_certs.js";

const uws = loadNativeUws();
const dir = mkdtempSync(join(tmpdir(), "radiant-tls-"));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const ca = makeTls(dir);
const other = makeTls(dir, "other");
const caPem = readFileSync(ca.caCert);

/** what reached the server's handlers since the last reset */
const reached: string[] = [];
/** the own method names of the prototypes of the objects handlers get */
const methods: Record<string, string[]> = {};
const methodsOf = (o: object) => Object.getOwnPropertyNames(Object.getPrototypeOf(o));

/** A bare SSLApp on 127.0.0.1 with GET /hi and a WebSocket route /ws; closed in teardown. */
function serve(opts: AppOptions): number {
  const app = uws.SSLApp(opts);
  app.get("/hi", (res, req) => {
    methods.HttpResponse ??= methodsOf(res);
    methods.HttpRequest ??= methodsOf(req);
    reached.push("http");
    res.end("hello");
  });
  app.ws("/ws", {
    open: (ws) => {
      methods.WebSocket ??= methodsOf(ws);
      reached.push("ws");
      ws.send("welcome");
    },
  });
  const listen: { socket?: us_listen_socket | false } = {};
  app.listen("127.0.0.1", 0, (ls) => {
    listen.socket = ls;
  });
  const ls = listen.socket;
  if (!ls) throw new Error("SSLApp did not listen on 127.0.0.1:0");
  t.teardown(() => uws.us_listen_socket_close(ls));
  return uws.us_socket_local_port(ls);
}

const tlsOf = (c?: ClientCertFiles) => ({ ca: caPem, ...(c && { cert: readFileSync(c.cert), key: readFileSync(c.key) }) });

/** GET /hi: "200 hello", or the client's error code */
function get(port: number, c?: ClientCertFiles): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: "/hi", agent: false, ...tlsOf(c) }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve(`${res.statusCode} ${body}`));
      res.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    req.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    req.end();
  });
}

/** Open /ws: "open welcome" (opened, first message), or the client's error code */
function openWs(port: number, c?: ClientCertFiles): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`wss://127.0.0.1:${port}/ws`, tlsOf(c));
    let result = "";
    ws.once("message", (m) => {
      result = `open ${m.toString()}`;
      ws.close();
    });
    ws.once("error", (e: NodeJS.ErrnoException) => (result ||= e.code ?? e.message));
    ws.once("close", () => resolve(result || "closed"));
  });
}

const port = serve({ key_file_name: ca.serverKey, cert_file_name: ca.serverCert, ca_file_name: ca.caCert });

t.test("a certificate from the CA: HTTP 200 and a WebSocket that opens", async (t) => {
  const alice = makeClientCert(ca, "alice", { uris: ["spiffe://radiant.test/agent/alice"], dns: ["alice.radiant.test"] });
  reached.length = 0;
  t.equal(await get(port, alice), "200 hello");
  t.equal(await openWs(port, alice), "open welcome");
  t.same(reached, ["http", "ws"], "both handlers ran");
});

t.test("refused at the handshake, before any handler runs", async (t) => {
  const cases: [string, ClientCertFiles, string][] = [
    ["a certificate from another CA", makeClientCert(other, "mallory"), "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA"],
    ["an expired certificate from the CA", makeClientCert(ca, "old", { days: -1 }), "ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED"],
    // the server's own certificate: right CA, but extendedKeyUsage serverAuth only
    ["a certificate without clientAuth", { cert: ca.serverCert, key: ca.serverKey }, "ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE"],
  ];
  for (const [what, cert, code] of cases) {
    reached.length = 0;
    t.equal(await get(port, cert), code, `${what}: HTTP`);
    t.equal(await openWs(port, cert), code, `${what}: WebSocket`);
    t.same(reached, [], `${what}: no handler ran`);
  }
});

t.test("a client without a certificate is NOT refused: ca_file_name checks a certificate only if one is sent", async (t) => {
  // uSockets sets SSL_VERIFY_PEER without SSL_VERIFY_FAIL_IF_NO_PEER_CERT; if
  // this starts failing, the build now requires a certificate
  reached.length = 0;
  t.equal(await get(port), "200 hello");
  t.equal(await openWs(port), "open welcome");
  t.same(reached, ["http", "ws"]);
});

t.test("no handler can see the peer certificate", async (t) => {
  const alice = makeClientCert(ca, "alice");
  t.equal(await get(port, alice), "200 hello");
  t.equal(await openWs(port, alice), "open welcome");
  t.same(Object.keys(methods).sort(), ["HttpRequest", "HttpResponse", "WebSocket"]);
  for (const [what, names] of Object.entries(methods)) {
    t.ok(names.includes("getRemoteAddress") || names.includes("getHeader"), `${what}: its methods were read`);
    t.same(
      names.filter((m) => /cert|peer|x509|tls|ssl|subject/i.test(m)),
      [],
      `${what}: no method about the peer's certificate (${names.join(", ")})`,
    );
  }
});

t.test("bad files: SSLApp throws for most, but takes an empty or absent key or certificate as none", async (t) => {
  const garbage = join(dir, "garbage.pem");
  writeFileSync(garbage, "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n");
  const base = { key_file_name: ca.serverKey, cert_file_name: ca.serverCert };
  const throwing: [string, AppOptions][] = [
    ["a key file that does not exist", { ...base, key_file_name: join(dir, "nope.key") }],
    ["a certificate file that does not exist", { ...base, cert_file_name: join(dir, "nope.crt") }],
    ["a CA file that does not exist", { ...base, ca_file_name: join(dir, "nope-ca.crt") }],
    ["a garbage certificate", { ...base, cert_file_name: garbage }],
    ["a garbage key", { ...base, key_file_name: garbage }],
    ["a garbage CA", { ...base, ca_file_name: garbage }],
    ["a key that is not the certificate's", { ...base, key_file_name: other.serverKey }],
  ];
  for (const [what, opts] of throwing) t.throws(() => uws.SSLApp(opts), { message: "App construction failed" }, what);

  // these construct and listen; every handshake then fails
  for (const [what, opts] of [
    ["no key", { cert_file_name: ca.serverCert }],
    ["an empty key_file_name", { ...base, key_file_name: "" }],
    ["an empty cert_file_name", { ...base, cert_file_name: "" }],
  ] as [string, AppOptions][]) {
    const p = serve(opts);
    t.equal(await get(p), "ECONNRESET", `${what}: SSLApp does not throw, each handshake fails`);
  }

  // an empty ca_file_name is no ca_file_name: another CA's certificate gets in
  const p = serve({ ...base, ca_file_name: "" });
  t.equal(await get(p, makeClientCert(other, "mallory")), "200 hello", "an empty ca_file_name: no client certificate check");
});
