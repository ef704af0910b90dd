// The three echo upstreams in one process, for `make run` and the stack: prints
// one JSON line with their URLs and the certificate to trust once they listen,
// and stops on SIGTERM/SIGINT or when its parent is gone.
import { fileURLToPath } from "node:url";
import { int, loadOrExit, str } from "../env.js";
import { stopWithParent } from "../proc.js";
import { selfSignedCert } from "./cert.js";
import { type EchoFormatName, type EchoServer, startEcho } from "./echo_server.js";

const env = process.env;
const cfg = loadOrExit("echo", () => ({
  host: str(env, "ECHO_HOST", "127.0.0.1"),
  ports: {
    openai: int(env, "ECHO_OPENAI_PORT", 0, 0, 65535),
    anthropic: int(env, "ECHO_ANTHROPIC_PORT", 0, 0, 65535),
    google: int(env, "ECHO_GOOGLE_PORT", 0, 0, 65535),
  } satisfies Record<EchoFormatName, number>,
  certDir: str(env, "ECHO_CERT_DIR", env.RADIANT_DATA_DIR || fileURLToPath(new URL("../../../.data/", import.meta.url))),
  chunkDelayMs: int(env, "ECHO_CHUNK_DELAY_MS", 0, 0, 3_600_000),
}));

function fail(what: string, e: unknown): never {
  process.stderr.write(`echo: ${what}: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}

let cert: ReturnType<typeof selfSignedCert>;
try {
  cert = selfSignedCert(cfg.certDir);
} catch (e) {
  fail(`cannot make the TLS certificate in ${cfg.certDir}`, e);
}

const servers: EchoServer[] = [];
const start = (format: EchoFormatName) =>
  startEcho({ format, cert, host: cfg.host, port: cfg.ports[format], chunkDelayMs: cfg.chunkDelayMs }).then((s) => {
    servers.push(s);
    return s;
  });

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(0), 5000).unref();
  void Promise.allSettled(servers.map((s) => s.close())).then(() => process.exit(0));
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
stopWithParent(stop);
// whoever read the line may be gone: that must not end the servers
process.stdout.on("error", () => {});

try {
  const [openai, anthropic, google] = await Promise.all([start("openai"), start("anthropic"), start("google")]);
  process.stdout.write(`${JSON.stringify({ echo: { openai: openai.url, anthropic: anthropic.url, google: google.url }, certFile: cert.certFile })}\n`);
} catch (e) {
  await Promise.allSettled(servers.map((s) => s.close()));
  fail("cannot listen", e);
}
