// servingcert: the agent endpoint's serving certificate — reused from the data dir, else issued in a child process.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** ServingCert is a PEM certificate chain (leaf first) and its PEM private key. */
export interface ServingCert {
  certPem: string;
  keyPem: string;
}

/** RENEW_BEFORE_MS: a stored certificate expiring within 30 days is replaced. */
const RENEW_BEFORE_MS = 30 * 86_400_000;

/** servingSans are the names the endpoint answers to: localhost, 127.0.0.1 and `host` (an IP or a DNS name). */
export function servingSans(host: string): { dns: string[]; ips: string[] } {
  const ip = isIP(host) !== 0;
  return { dns: ['localhost', ...(ip ? [] : [host])], ips: ['127.0.0.1', ...(ip && host !== '127.0.0.1' ? [host] : [])] };
}

/** usable tells whether a stored certificate and key fit `host`, match each other and stay valid for a while. */
export function usable(c: ServingCert, host: string, now = Date.now()): boolean {
  try {
    const x = new X509Certificate(c.certPem);
    if (Date.parse(x.validTo) - now < RENEW_BEFORE_MS || Date.parse(x.validFrom) > now) return false;
    if (!x.checkPrivateKey(createPrivateKey(c.keyPem))) return false;
    return isIP(host) ? x.checkIP(host) !== undefined : x.checkHost(host) !== undefined;
  } catch {
    return false;
  }
}

/** issueInChild runs servingcert-cli in a short-lived node process and returns what it printed. */
export async function issueInChild(host: string): Promise<ServingCert> {
  // .ts when run from source, .js when run from a build
  const script = fileURLToPath(new URL(`./servingcert-cli${extname(fileURLToPath(import.meta.url))}`, import.meta.url));
  const { execFile } = await import('node:child_process'); // only when issuing: it stays out of a restarted agent
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--disable-warning=ExperimentalWarning', script, host], { maxBuffer: 1 << 20, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`cannot issue the agent's serving certificate: ${stderr.trim() || err.message}`));
      try {
        resolve(JSON.parse(stdout) as ServingCert);
      } catch (e) {
        reject(new Error(`the certificate helper printed no result: ${(e as Error).message}`));
      }
    });
  });
}

/**
 * ensureServingCert returns the endpoint's certificate for `host`: the one stored in `dir` (kubelet.crt/.key, as
 * upstream's --cert-dir) when still usable, else a freshly issued one, stored there for the next start.
 */
export async function ensureServingCert(dir: string | undefined, host: string): Promise<ServingCert> {
  if (!dir) return issueInChild(host);
  const crt = join(dir, 'kubelet.crt');
  const key = join(dir, 'kubelet.key');
  const stored = await Promise.all([readFile(crt, 'utf8'), readFile(key, 'utf8')]).catch(() => undefined);
  if (stored && usable({ certPem: stored[0], keyPem: stored[1] }, host)) return { certPem: stored[0], keyPem: stored[1] };
  const fresh = await issueInChild(host);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(`${key}.tmp`, fresh.keyPem, { mode: 0o600 });
  await writeFile(`${crt}.tmp`, fresh.certPem, { mode: 0o644 });
  await rename(`${key}.tmp`, key);
  await rename(`${crt}.tmp`, crt);
  return fresh;
}
