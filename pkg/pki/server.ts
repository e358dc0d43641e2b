// server: the server's on-disk PKI — a CA and a CA-signed serving cert under DATA/tls, made once and reused.
import { join } from 'node:path';
import { createCa, expiresWithin, issueCert, keyMatchesCert, missingSans, signedBy } from './certs.ts';
import type { CertKey, Sans } from './certs.ts';
import { readIfExists, writeFileAtomic, writeSecretFile } from './files.ts';

/** ServerPki is the CA and the API server's serving certificate, all PEM. */
export interface ServerPki {
  caCertPem: string;
  caKeyPem: string;
  certPem: string;
  keyPem: string;
  /** the API server's client certificate towards agents (CN kube-apiserver-kubelet-client, no groups) */
  kubeletClientCertPem?: string;
  kubeletClientKeyPem?: string;
}

/** KUBELET_CLIENT_USER is who the API server is when it calls an agent (upstream's apiserver-kubelet-client CN). */
export const KUBELET_CLIENT_USER = 'kube-apiserver-kubelet-client';

/** DEFAULT_SANS are always on the serving cert: the names in-cluster clients and loopback use. */
export const DEFAULT_SANS: Sans = {
  dns: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
  ips: ['127.0.0.1'],
};

const CA_DAYS = 3650;
const SERVING_DAYS = 365;
/** RENEW_DAYS: a serving cert this close to expiry is re-issued at start (k3s renews at 90 days too). */
const RENEW_DAYS = 90;

/** tlsPaths names the PKI files under a data dir. */
export function tlsPaths(dataDir: string): { caCert: string; caKey: string; cert: string; key: string; kubeletClientCert: string; kubeletClientKey: string } {
  const dir = join(dataDir, 'tls');
  return {
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    cert: join(dir, 'serving.crt'),
    key: join(dir, 'serving.key'),
    kubeletClientCert: join(dir, 'apiserver-kubelet-client.crt'),
    kubeletClientKey: join(dir, 'apiserver-kubelet-client.key'),
  };
}

/** servingSans is the requested SANs plus DEFAULT_SANS. */
export function servingSans(requested: Sans): Sans {
  return { dns: [...requested.dns, ...DEFAULT_SANS.dns], ips: [...requested.ips, ...DEFAULT_SANS.ips] };
}

/** servingCertUsable reports whether an existing serving cert may be kept: its key, the CA, all SANs, not near expiry. */
export function servingCertUsable(serving: CertKey, caCertPem: string, sans: Sans): boolean {
  if (!keyMatchesCert(serving.keyPem, serving.certPem)) return false;
  if (!signedBy(serving.certPem, caCertPem)) return false;
  if (expiresWithin(serving.certPem, RENEW_DAYS)) return false;
  const missing = missingSans(serving.certPem, sans);
  return missing.dns.length === 0 && missing.ips.length === 0;
}

/**
 * ensureServerPki loads or creates DATA/tls/{ca,serving}.{crt,key}. The CA is made once (CN kubeling-ca@<unix time>,
 * 10 years) and never replaced; the serving cert (CN kubeling, 1 year) is re-issued by that CA when it lacks a
 * requested SAN, no longer matches its key or the CA, or expires within 90 days. Key files are 0600.
 */
export async function ensureServerPki(dataDir: string, opts: { sans: Sans }): Promise<ServerPki> {
  const p = tlsPaths(dataDir);
  let caCertPem = await readIfExists(p.caCert);
  let caKeyPem = await readIfExists(p.caKey);
  if (caCertPem === undefined && caKeyPem === undefined) {
    const ca = await createCa(`kubeling-ca@${Math.floor(Date.now() / 1000)}`, CA_DAYS);
    await writeSecretFile(p.caKey, ca.keyPem);
    await writeFileAtomic(p.caCert, ca.certPem, 0o644);
    ({ certPem: caCertPem, keyPem: caKeyPem } = ca);
  } else if (caCertPem === undefined || caKeyPem === undefined) {
    throw new Error(`incomplete CA in ${join(dataDir, 'tls')}: need both ca.crt and ca.key (found only one)`);
  } else if (!keyMatchesCert(caKeyPem, caCertPem)) {
    throw new Error(`${p.caKey} does not belong to ${p.caCert}`);
  }

  const ca = { certPem: caCertPem, keyPem: caKeyPem };
  const kubeletClient = await ensureLeaf(p.kubeletClientCert, p.kubeletClientKey, ca, (c) => !expiresWithin(c.certPem, RENEW_DAYS), { cn: KUBELET_CLIENT_USER, days: SERVING_DAYS, client: true });
  const sans = servingSans(opts.sans);
  const serving = await ensureLeaf(p.cert, p.key, ca, (c) => servingCertUsable(c, caCertPem, sans), { cn: 'kubeling', sans, days: SERVING_DAYS, server: true });
  return { caCertPem, caKeyPem, ...serving, kubeletClientCertPem: kubeletClient.certPem, kubeletClientKeyPem: kubeletClient.keyPem };
}

/** ensureLeaf keeps the stored certificate at certPath/keyPath when it is the CA's and `usable` says so, else issues and stores one. */
async function ensureLeaf(certPath: string, keyPath: string, ca: CertKey, usable: (c: CertKey) => boolean, opts: Parameters<typeof issueCert>[1]): Promise<CertKey> {
  const certPem = await readIfExists(certPath);
  const keyPem = await readIfExists(keyPath);
  if (certPem !== undefined && keyPem !== undefined && keyMatchesCert(keyPem, certPem) && signedBy(certPem, ca.certPem) && usable({ certPem, keyPem })) return { certPem, keyPem };
  const fresh = await issueCert(ca, opts);
  await writeSecretFile(keyPath, fresh.keyPem);
  await writeFileAtomic(certPath, fresh.certPem, 0o644);
  return fresh;
}
