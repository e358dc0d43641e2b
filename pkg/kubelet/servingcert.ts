// servingcert: the agent's certificates from the cluster CA through the CSR API (kubelet TLS bootstrapping) — its client certificate (system:node:<name>) and its endpoint's serving certificate — kept in the data dir.
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { CertificateSigningRequest } from 'kubernetes-types/certificates/v1.js';
import type { Logger } from 'pino';
import { lookupKind } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';
import type { ApiClient } from '../client/index.ts';
import { requestInChild } from '../pki/csrchild.ts';

/** ServingCert is a PEM certificate (leaf first) and its PEM private key. */
export interface ServingCert {
  certPem: string;
  keyPem: string;
}

/** upstream's signer names for a kubelet's client and serving certificates */
export const CLIENT_SIGNER = 'kubernetes.io/kube-apiserver-client-kubelet';
export const SERVING_SIGNER = 'kubernetes.io/kubelet-serving';

/** RENEW_FRACTION: a certificate past 80 % of its lifetime is replaced (upstream's certificate manager: 70–90 %, jittered). */
const RENEW_FRACTION = 0.8;

const csrInfo = lookupKind('certificates.k8s.io/v1', 'CertificateSigningRequest')!;

/** CertFiles names the PEM pair for one certificate in the agent's pki dir. */
export const certFiles = (dir: string, which: 'client' | 'serving'): { cert: string; key: string } =>
  which === 'client' ? { cert: join(dir, 'kubelet-client.crt'), key: join(dir, 'kubelet-client.key') } : { cert: join(dir, 'kubelet.crt'), key: join(dir, 'kubelet.key') };

/** Wanted is what a stored certificate must be to be used: the CA's, for CN, naming `ips` and `dns`, not due for renewal. */
export interface Wanted {
  caPem: string;
  cn: string;
  ips?: string[];
  dns?: string[];
}

/**
 * usable tells whether a stored pair may be used: the key matches, the cluster CA signed it, the subject is `cn`, the
 * SANs cover what is wanted, and less than 80 % of its lifetime has passed.
 */
export function usable(c: ServingCert, w: Wanted, now = Date.now()): boolean {
  try {
    const x = new X509Certificate(c.certPem);
    const ca = new X509Certificate(w.caPem);
    if (!x.checkIssued(ca) || !x.verify(ca.publicKey)) return false;
    if (!x.checkPrivateKey(createPrivateKey(c.keyPem))) return false;
    if (!x.subject.split('\n').includes(`CN=${w.cn}`)) return false;
    const from = Date.parse(x.validFrom);
    const to = Date.parse(x.validTo);
    if (from > now || now > from + (to - from) * RENEW_FRACTION) return false;
    for (const ip of w.ips ?? []) if (x.checkIP(ip) === undefined) return false;
    for (const d of w.dns ?? []) if (x.checkHost(d) === undefined) return false;
    return true;
  } catch {
    return false;
  }
}

/** stillValid tells whether a stored pair can still authenticate as `cn` (the CA's, not expired), e.g. to renew with. */
export function stillValid(c: ServingCert, caPem: string, cn: string, now = Date.now()): boolean {
  try {
    const x = new X509Certificate(c.certPem);
    const ca = new X509Certificate(caPem);
    if (!x.subject.split('\n').includes(`CN=${cn}`)) return false;
    return x.checkIssued(ca) && x.verify(ca.publicKey) && x.checkPrivateKey(createPrivateKey(c.keyPem)) && Date.parse(x.validTo) > now + 60_000;
  } catch {
    return false;
  }
}

/** loadPair reads a stored pair, undefined when either file is missing. */
export async function loadPair(files: { cert: string; key: string }): Promise<ServingCert | undefined> {
  const got = await Promise.all([readFile(files.cert, 'utf8'), readFile(files.key, 'utf8')]).catch(() => undefined);
  return got && { certPem: got[0], keyPem: got[1] };
}

/** storePair writes the key (0600) then the certificate, each atomically. */
export async function storePair(files: { cert: string; key: string }, c: ServingCert): Promise<void> {
  await mkdir(join(files.cert, '..'), { recursive: true, mode: 0o700 });
  await writeFile(`${files.key}.tmp`, c.keyPem, { mode: 0o600 });
  await writeFile(`${files.cert}.tmp`, c.certPem, { mode: 0o644 });
  await rename(`${files.key}.tmp`, files.key);
  await rename(`${files.cert}.tmp`, files.cert);
}

/** CertRequest is one certificate to ask the cluster for. */
export interface CertRequest {
  signerName: string;
  usages: string[];
  cn: string;
  orgs: string[];
  sans?: { dns: string[]; ips: string[] };
}

/** clientRequest is a node's client certificate request (CN system:node:<name>, O system:nodes), as kubelet bootstrap sends it. */
export const clientRequest = (nodeName: string): CertRequest => ({
  signerName: CLIENT_SIGNER,
  usages: ['digital signature', 'client auth'],
  cn: `system:node:${nodeName}`,
  orgs: ['system:nodes'],
});

/** servingRequest is the endpoint's serving certificate request: SANs = the node's hostname and IP (its Node addresses). */
export const servingRequest = (nodeName: string, hostname: string, ip: string): CertRequest => ({
  signerName: SERVING_SIGNER,
  usages: ['digital signature', 'server auth'],
  cn: `system:node:${nodeName}`,
  orgs: ['system:nodes'],
  sans: { dns: isIP(hostname) ? [] : [hostname], ips: [ip] },
});

/**
 * requestCertificate makes a key and a CSR (in a child process), creates the CertificateSigningRequest with `client`
 * and waits until the cluster issues the certificate; rejects when the request is denied, fails or times out.
 */
export async function requestCertificate(client: ApiClient, req: CertRequest, log: Logger, timeoutMs = 15 * 60_000): Promise<ServingCert> {
  const { keyPem, csrPem } = await requestInChild({ cn: req.cn, orgs: req.orgs, ...(req.sans ? { sans: req.sans } : {}) });
  const prefix = req.signerName === CLIENT_SIGNER ? 'node-csr-' : 'csr-';
  const body: CertificateSigningRequest = {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { name: prefix + randomBytes(8).toString('hex') },
    spec: { request: Buffer.from(csrPem).toString('base64'), signerName: req.signerName, usages: req.usages },
  };
  const created = await client.create(csrInfo, undefined, body as unknown as KubeObject);
  const name = created.metadata.name!;
  log.info({ csr: name, signer: req.signerName }, 'waiting for the certificate signing request to be approved and issued');
  const deadline = Date.now() + timeoutMs;
  for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
    const csr = (await client.get(csrInfo, undefined, name)) as unknown as CertificateSigningRequest;
    const failed = (csr.status?.conditions ?? []).find((c) => (c.type === 'Denied' || c.type === 'Failed') && c.status !== 'False');
    if (failed) throw new Error(`certificate signing request ${name} was ${failed.type.toLowerCase()}: ${failed.reason ?? ''} ${failed.message ?? ''}`.trim());
    if (csr.status?.certificate) return { certPem: Buffer.from(csr.status.certificate, 'base64').toString('utf8'), keyPem };
    if (Date.now() > deadline) throw new Error(`timed out waiting for certificate signing request ${name} to be issued`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/**
 * ensureCertificate returns the stored pair when usable, else requests a new one (with `client()`, which the caller
 * picks: the join token for a first client certificate, the node's own certificate afterwards) and stores it.
 */
export async function ensureCertificate(files: { cert: string; key: string }, want: Wanted, request: () => Promise<ServingCert>): Promise<ServingCert> {
  const stored = await loadPair(files);
  if (stored && usable(stored, want)) return stored;
  const fresh = await request();
  await storePair(files, fresh);
  return fresh;
}
