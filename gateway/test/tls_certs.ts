// Test certificates made with the system openssl (3.0): a CA, a server
// certificate for 127.0.0.1 and localhost, and client certificates signed by
// the CA. EC P-256 keys (fast to make), valid for two days, PEM files in the
// given folder; every call writes files of its own, so one folder can hold
// several CAs and many client certificates.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface TlsFiles {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
}

export interface ClientCertFiles {
  cert: string;
  key: string;
}

const OPENSSL = "/usr/bin/openssl";
const DAYS = "2";
const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

function openssl(args: string[]): void {
  try {
    execFileSync(OPENSSL, args, { stdio: ["ignore", "ignore", "pipe"] });
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`openssl ${args[0]} failed: ${stderr || (e as Error).message}`);
  }
}

/** a file name prefix no other call uses */
function unique(dir: string, name: string): string {
  return join(dir, `${name.replace(/[^A-Za-z0-9_.-]/g, "_")}-${randomBytes(4).toString("hex")}`);
}

/** A key and a certificate signed by the CA, with the extensions in `ext` (an openssl extensions section). */
function signed(ca: { caCert: string; caKey: string }, base: string, subject: string, ext: string[], days = DAYS): ClientCertFiles {
  const key = `${base}.key`;
  const csr = `${base}.csr`;
  const cert = `${base}.crt`;
  const extFile = `${base}.ext`;
  openssl(["req", "-new", ...EC, "-keyout", key, "-out", csr, "-subj", subject]);
  writeFileSync(extFile, `${ext.join("\n")}\n`);
  try {
    // no -CAserial: openssl 3.0 then picks a random serial
    openssl(["x509", "-req", "-in", csr, "-CA", ca.caCert, "-CAkey", ca.caKey, "-days", days, "-sha256", "-extfile", extFile, "-out", cert]);
  } finally {
    rmSync(csr, { force: true });
    rmSync(extFile, { force: true });
  }
  return { cert, key };
}

/** A CA and a server certificate for 127.0.0.1 and localhost (SANs IP:127.0.0.1, DNS:localhost), signed by the CA. EC P-256 keys, 2-day validity. */
export function makeTls(dir: string, name = "ca"): TlsFiles {
  const base = unique(dir, name);
  const caKey = `${base}.ca.key`;
  const caCert = `${base}.ca.crt`;
  openssl([
    "req",
    "-x509",
    ...EC,
    "-keyout",
    caKey,
    "-out",
    caCert,
    "-days",
    DAYS,
    "-sha256",
    "-subj",
    `/CN=${name} test CA`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  const server = signed({ caCert, caKey }, `${base}.server`, "/CN=localhost", [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature",
    "extendedKeyUsage=serverAuth",
    "subjectAltName=IP:127.0.0.1,DNS:localhost",
  ]);
  return { dir, caCert, caKey, serverCert: server.cert, serverKey: server.key };
}

/**
 * A client certificate signed by `ca` with subject CN=<cn> (and optional URI/DNS SANs), extendedKeyUsage clientAuth.
 * `days` (default 2) is its validity from now; -1 makes one that has already expired.
 */
export function makeClientCert(ca: TlsFiles, cn: string, o: { uris?: string[]; dns?: string[]; name?: string; days?: number } = {}): ClientCertFiles {
  const sans = [...(o.uris ?? []).map((u) => `URI:${u}`), ...(o.dns ?? []).map((d) => `DNS:${d}`)];
  // a comma or a line break would end the SAN (or the line) in the extensions file
  const bad = sans.find((s) => /[,\r\n]/.test(s));
  if (bad) throw new Error(`makeClientCert: a SAN may not contain a comma or a line break: ${JSON.stringify(bad)}`);
  // "/", "+" and "\" separate or escape fields in -subj
  const subject = `/CN=${cn.replace(/[\\/+]/g, "\\$&")}`;
  return signed(
    ca,
    unique(ca.dir, o.name ?? "client"),
    subject,
    [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=clientAuth",
      ...(sans.length > 0 ? [`subjectAltName=${sans.join(",")}`] : []),
    ],
    String(o.days ?? DAYS),
  );
}
