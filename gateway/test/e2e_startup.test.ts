// Starting the gateway: configuration validated with one-line errors, a loud
// warning for the dev secret, and a refusal to run on uWS's JS fallback.
import t from "tap";
import { execFile } from "node:child_process";
import { once } from "node:events";
import { createServer, type AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { entries } from "@radiant/infra/stack";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const SECRET = "a-long-random-production-secret-0123456789";
const BASE_ENV = {
  PATH: process.env.PATH!,
  NATS_URL: "nats://127.0.0.1:1",
  GATEWAY_LISTEN_ADDR: "127.0.0.1:0",
  GATEWAY_HEALTH_ADDR: "127.0.0.1:0",
  RESUME_TOKEN_SECRET: SECRET,
};

function run(env: Record<string, string>, nodeArgs: string[] = [], ms = 4000): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [...nodeArgs, entries.gateway],
      {
        env: { ...BASE_ENV, ...env },
        timeout: ms,
        killSignal: "SIGTERM",
      },
      (err, stdout, stderr) => resolve({ code: child.exitCode ?? (err ? 1 : 0), stdout, stderr }),
    );
  });
}

t.test("a bad value: one line naming the variable, exit non-zero", async (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ GATEWAY_LISTEN_ADDR: "8443" }, /^gateway: invalid configuration: GATEWAY_LISTEN_ADDR: "8443" is not a listen address/],
    [{ GATEWAY_HEALTH_ADDR: "localhost:99999" }, /^gateway: invalid configuration: GATEWAY_HEALTH_ADDR:/],
    [{ NATS_URL: "http://localhost:4222" }, /^gateway: invalid configuration: NATS_URL: "http:\/\/localhost:4222" must use nats:\/\/ or tls:\/\//],
    [{ EGRESS_PROXY_URL: "not a url" }, /^gateway: invalid configuration: EGRESS_PROXY_URL: "not a url" is not a URL/],
    [{ GATEWAY_DEV: "maybe" }, /^gateway: invalid configuration: GATEWAY_DEV: "maybe" is not a boolean/],
    [{ RESUME_TOKEN_SECRET: "   " }, /^gateway: invalid configuration: RESUME_TOKEN_SECRET: must not be empty/],
    [{ GATEWAY_PROCESSES: "0" }, /^gateway: invalid configuration: GATEWAY_PROCESSES:/],
    [{ GATEWAY_IDLE_TIMEOUT: "3" }, /^gateway: invalid configuration: GATEWAY_IDLE_TIMEOUT:/],
  ];
  for (const [env, want] of cases) {
    const r = await run(env);
    t.equal(r.code, 2, `${Object.keys(env)[0]}: exit 2`);
    t.match(r.stderr, want);
    t.equal(r.stderr.trim().split("\n").length, 1, "one line");
  }
});

t.test("outside development mode the gateway refuses the default or a short RESUME_TOKEN_SECRET: one line, exit 2", async (t) => {
  const { RESUME_TOKEN_SECRET: _, ...unset } = BASE_ENV;
  const cases: [string, Record<string, string>, RegExp][] = [
    ["unset", unset, /RESUME_TOKEN_SECRET: is the public default 'dev-secret': set a random secret of at least 32 characters/],
    ["dev-secret", { RESUME_TOKEN_SECRET: "dev-secret" }, /RESUME_TOKEN_SECRET: is the public default 'dev-secret'/],
    ["31 characters", { RESUME_TOKEN_SECRET: "x".repeat(31) }, /RESUME_TOKEN_SECRET: is 31 characters: use a random secret of at least 32/],
  ];
  for (const [what, env, want] of cases) {
    const child = execFile(process.execPath, [entries.gateway], { env: what === "unset" ? env : { ...BASE_ENV, ...env }, timeout: 4000 });
    let stderr = "";
    child.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
    const [code] = (await once(child, "exit")) as [number | null];
    t.equal(code, 2, `${what}: exit 2`);
    t.match(stderr, want, what);
    t.equal(stderr.trim().split("\n").length, 1, `${what}: one line`);
  }
});

t.test("GATEWAY_DEV=true allows dev-secret, with a loud warning; a good secret starts without one", async (t) => {
  const dev = await run({ GATEWAY_DEV: "true", LOG_LEVEL: "info", RESUME_TOKEN_SECRET: "dev-secret" }, [], 2500);
  t.match(dev.stdout, /RESUME_TOKEN_SECRET is the default 'dev-secret' \(allowed because GATEWAY_DEV=true\)/);
  const quiet = await run({}, [], 2500);
  // it did start and log (so the absence below means something)
  t.match(quiet.stdout, /"msg":"gateway supervisor started"/);
  t.notMatch(quiet.stdout, /dev-secret/);
  t.notMatch(quiet.stdout + quiet.stderr, new RegExp(SECRET), "the secret itself is never logged");
});

t.test("authentication settings: each mistake is one line naming its variable, exit 2", async (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ GATEWAY_AUTH_REQUIRED: "sometimes" }, /GATEWAY_AUTH_REQUIRED: "sometimes" is not a boolean/],
    [{ OIDC_ISSUER_URL: "https://issuer.example" }, /OIDC_AUDIENCE: must be set with OIDC_ISSUER_URL/],
    [{ OIDC_AUDIENCE: "radiant" }, /OIDC_AUDIENCE: is set but OIDC_ISSUER_URL is not/],
    [{ OIDC_ISSUER_URL: "ftp://issuer.example", OIDC_AUDIENCE: "r" }, /OIDC_ISSUER_URL: .* must use https:\/\/ or http:\/\//],
    [{ GATEWAY_TRUSTED_PROXIES: "10.0.0.0/8, not-an-address" }, /GATEWAY_TRUSTED_PROXIES: .*not-an-address/],
    [{ GATEWAY_ADMIN_TOKEN: "short" }, /GATEWAY_ADMIN_TOKEN: is 5 characters: use a random token of at least 32/],
    [{ GATEWAY_TLS_CERT: "/nonexistent/cert.pem" }, /GATEWAY_TLS_CERT: cannot read "\/nonexistent\/cert.pem": ENOENT/],
    [{ GATEWAY_TLS_CLIENT_CA: "/etc/hostname" }, /GATEWAY_TLS_CLIENT_CA: "\/etc\/hostname" is not a usable PEM file/],
    [{ GATEWAY_PRINCIPAL_RPM: "-1" }, /GATEWAY_PRINCIPAL_RPM:/],
  ];
  for (const [env, want] of cases) {
    const r = await run(env);
    t.equal(r.code, 2, `${Object.keys(env).join(", ")}: exit 2`);
    t.match(r.stderr, want);
    t.equal(r.stderr.trim().split("\n").length, 1, "one line");
  }
});

t.test("outside development mode, no credential required is a warning at start; GATEWAY_AUTH_REQUIRED=true has none", async (t) => {
  const open = await run({}, [], 2500);
  t.match(open.stdout, /GATEWAY_AUTH_REQUIRED is false: clients without a credential are let in as the principal 'anonymous'/);
  const closed = await run({ GATEWAY_AUTH_REQUIRED: "true" }, [], 2500);
  t.match(closed.stdout, /"msg":"gateway supervisor started"/);
  t.notMatch(closed.stdout, /GATEWAY_AUTH_REQUIRED is false/);
  const dev = await run({ GATEWAY_DEV: "true" }, [], 2500);
  t.notMatch(dev.stdout, /GATEWAY_AUTH_REQUIRED is false/, "development mode: no warning");
});

t.test("the gateway refuses to start when uWS falls back to its JS shim", async (t) => {
  const preload = fileURLToPath(new URL("./break-uws-binary.cjs", import.meta.url));
  const r = await run({}, ["--require", preload]);
  t.equal(r.code, 4);
  t.match(r.stdout, /uWebSockets\.js did not load its native binary .* refusing to start/);
  const flagged = await run({ UWS_USE_FALLBACK: "1" });
  t.equal(flagged.code, 4);
  t.match(flagged.stdout, /UWS_USE_FALLBACK is set/);
});

t.test("a port somebody already listens on is refused, not silently shared (SO_REUSEPORT)", async (t) => {
  const squatter = createServer().listen(0, "127.0.0.1");
  await once(squatter, "listening");
  const port = (squatter.address() as AddressInfo).port;
  const r = await run({ GATEWAY_LISTEN_ADDR: `127.0.0.1:${port}` });
  squatter.close();
  t.equal(r.code, 3);
  t.match(r.stdout, /GATEWAY_LISTEN_ADDR: the port is already in use/);
});

t.test("a gateway process whose supervisor dies while it waits for NATS exits too", async (t) => {
  const { spawn } = await import("node:child_process");
  const { descendants } = await import("@radiant/infra/proc");
  const sup = spawn(process.execPath, [entries.gateway], {
    env: BASE_ENV,
    stdio: "ignore",
  });
  const until = Date.now() + 20_000;
  while (descendants(sup.pid!).length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  const [child] = descendants(sup.pid!);
  t.ok(child, "its process started (and waits: nothing listens on the NATS port)");
  sup.kill("SIGKILL");
  const alive = () => {
    try {
      process.kill(child!, 0);
      return true;
    } catch {
      return false;
    }
  };
  const gone = Date.now() + 10_000;
  while (alive() && Date.now() < gone) await new Promise((r) => setTimeout(r, 50));
  t.notOk(alive(), "the orphan stopped by itself");
  if (alive()) process.kill(child!, "SIGKILL");
});
