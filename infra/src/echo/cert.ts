// The echo upstreams' TLS key and self-signed certificate (127.0.0.1 and
// localhost), made once with the openssl CLI and kept in a directory; whoever
// talks to the echo servers trusts `certFile` as a CA.
import { execFileSync } from "node:child_process";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";

export interface EchoCert {
  /** PEM private key */
  key: string;
  /** PEM certificate */
  cert: string;
  /** the certificate's file: the CA to trust */
  certFile: string;
}

const SUBDIR = "echo-tls";
/** renew this long before expiry */
const RENEW_BEFORE_MS = 7 * 86_400_000;

function load(dir: string): EchoCert | undefined {
  const certFile = join(dir, "cert.pem");
  try {
    const key = readFileSync(join(dir, "key.pem"), "utf8");
    const cert = readFileSync(certFile, "utf8");
    const x = new X509Certificate(cert);
    const usable =
      x.checkPrivateKey(createPrivateKey(key)) &&
      Date.parse(x.validTo) - Date.now() > RENEW_BEFORE_MS &&
      x.checkIP("127.0.0.1") !== undefined &&
      x.checkHost("localhost") !== undefined;
    return usable ? { key, cert, certFile } : undefined;
  } catch {
    return undefined; // absent or damaged: made again
  }
}

/** The key and certificate kept in `dir` (made there when absent, damaged or about to expire). */
export function selfSignedCert(dir: string): EchoCert {
  const home = join(dir, SUBDIR);
  const kept = load(home);
  if (kept) return kept;
  mkdirSync(dir, { recursive: true });
  // made aside, then renamed into place whole: concurrent callers never read half of a pair
  const tmp = mkdtempSync(join(dir, `${SUBDIR}.tmp-`));
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-sha256",
        "-days",
        "3650",
        "-subj",
        "/CN=radiant-echo",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "-keyout",
        join(tmp, "key.pem"),
        "-out",
        join(tmp, "cert.pem"),
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    try {
      renameSync(tmp, home);
    } catch {
      // another caller got there first (or an old pair is in the way): keep theirs if it is good
      const theirs = load(home);
      if (theirs) return theirs;
      rmSync(home, { recursive: true, force: true });
      renameSync(tmp, home);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const made = load(home);
  if (!made) throw new Error(`openssl made no usable certificate in ${home}`);
  return made;
}
