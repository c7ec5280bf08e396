import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Files makeCertificates writes into its directory. */
export interface TestCertificates {
  /** The CA that signed the server certificate. */
  ca: string;
  /** A CA that signed nothing. */
  otherCa: string;
  /** For 127.0.0.1 and localhost. */
  serverCert: string;
  serverKey: string;
}

/** A CA, a server certificate for 127.0.0.1 (and localhost) signed by it, and another CA that signed nothing. */
export async function makeCertificates(dir: string): Promise<TestCertificates> {
  const openssl = (...args: string[]) => run("openssl", args, { cwd: dir });
  for (const ca of ["ca", "other-ca"]) {
    await openssl(
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "2",
      "-subj",
      `/CN=${ca}`,
      "-keyout",
      `${ca}-key.pem`,
      "-out",
      `${ca}.pem`,
    );
  }
  await openssl(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=127.0.0.1",
    "-keyout",
    "server-key.pem",
    "-out",
    "server.csr",
  );
  await writeFile(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  await openssl(
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca-key.pem",
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    "san.ext",
    "-out",
    "server.pem",
  );
  return {
    ca: join(dir, "ca.pem"),
    otherCa: join(dir, "other-ca.pem"),
    serverCert: join(dir, "server.pem"),
    serverKey: join(dir, "server-key.pem"),
  };
}
