// csrchild: runs csr-cli in a short-lived node process — key + CSR for an agent, a CSR's facts for the approver, a signature for the signer.
import { execFile } from 'node:child_process';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CertKey } from './certs.ts';
import type { CsrFacts, KeyAndRequest, RequestOptions } from './csr.ts';

export type { CsrFacts, KeyAndRequest, RequestOptions } from './csr.ts';

/** TIMEOUT_MS bounds one helper: a Node start on a loaded or emulated host (a VM under QEMU's TCG) can take a minute. */
const TIMEOUT_MS = 120_000;

function run<T>(cmd: 'request' | 'read' | 'sign', input: unknown): Promise<T> {
  // .ts when run from source, .js when run from a build
  const script = fileURLToPath(new URL(`./csr-cli${extname(fileURLToPath(import.meta.url))}`, import.meta.url));
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, ['--disable-warning=ExperimentalWarning', script, cmd], { maxBuffer: 1 << 20, timeout: TIMEOUT_MS }, (err, stdout, stderr) => {
      if (err?.killed) return reject(new Error(`certificate helper (${cmd}) timed out after ${TIMEOUT_MS / 1000}s`));
      if (err) return reject(new Error(`certificate helper (${cmd}) failed: ${stderr.trim().split('\n').find((l) => /Error/.test(l)) ?? (stderr.trim() || err.message)}`));
      try {
        resolve(JSON.parse(stdout) as T);
      } catch (e) {
        reject(new Error(`the certificate helper printed no result: ${(e as Error).message}`));
      }
    });
    child.stdin!.end(JSON.stringify(input));
  });
}

/** requestInChild makes a key and a CSR for it. */
export const requestInChild = (o: RequestOptions): Promise<KeyAndRequest> => run('request', o);
/** readInChild reads a PEM CSR's subject and SANs. */
export const readInChild = (csrPem: string): Promise<CsrFacts> => run('read', { csrPem });
/** signInChild signs a PEM CSR with the CA for `seconds` with the given CSR-API usages. */
export const signInChild = async (ca: CertKey, csrPem: string, usages: string[], seconds: number): Promise<string> =>
  (await run<{ certPem: string }>('sign', { ca, csrPem, usages, seconds })).certPem;
