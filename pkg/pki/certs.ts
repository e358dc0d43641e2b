// certs: key generation and X.509 issuing (self-signed CA, CA-signed leaves) with @peculiar/x509 over node's WebCrypto.
import { X509Certificate as NodeX509, createPrivateKey, createPublicKey, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import 'reflect-metadata'; // @peculiar/x509 (through tsyringe) needs the Reflect metadata API; must load first
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

/** CertKey is a PEM certificate with its PEM (PKCS#8) private key. */
export interface CertKey {
  certPem: string;
  keyPem: string;
}

/** Sans are subject alternative names: DNS names and IP addresses (v4 or v6). */
export interface Sans {
  dns: string[];
  ips: string[];
}

/** IssueOptions describe a leaf certificate. EKU lists the flagged usages; when neither flag is set both are included. */
export interface IssueOptions {
  cn: string;
  /** orgs become O= entries (Kubernetes reads them as groups for client certificates). */
  orgs?: string[];
  sans?: Sans;
  days: number;
  server?: boolean;
  client?: boolean;
}

const DAY_MS = 86_400_000;
/** BACKDATE_MS starts validity an hour early so a peer whose clock lags a little still accepts a fresh cert. */
const BACKDATE_MS = 3_600_000;
const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const EC_SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** serialNumber is 16 random bytes as hex, first byte 0x01–0x7f so the DER integer is positive and minimal (Go insists). */
function serialNumber(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) || 0x01;
  return b.toString('hex');
}

function validity(days: number, now = Date.now()): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(now - BACKDATE_MS), notAfter: new Date(now + days * DAY_MS) };
}

function subject(cn: string, orgs: string[] = []): x509.JsonName {
  const name: x509.JsonName = [];
  for (const o of orgs) name.push({ O: [o] });
  name.push({ CN: [cn] });
  return name;
}

async function newKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

async function keyToPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }) as string;
}

const CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

/** importSigningKey loads a PEM private key (EC P-256/384/521 or RSA) as a WebCrypto signing key plus its signature algorithm. */
function importSigningKey(keyPem: string): { key: CryptoKey; alg: webcrypto.Algorithm | webcrypto.EcdsaParams } {
  const ko = createPrivateKey(keyPem);
  if (ko.asymmetricKeyType === 'ec') {
    const curve = CURVES[ko.asymmetricKeyDetails?.namedCurve ?? ''];
    if (!curve) throw new Error(`unsupported CA key curve ${ko.asymmetricKeyDetails?.namedCurve}`);
    return { key: ko.toCryptoKey({ name: 'ECDSA', namedCurve: curve }, false, ['sign']) as CryptoKey, alg: EC_SIGN };
  }
  if (ko.asymmetricKeyType === 'rsa') {
    const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    return { key: ko.toCryptoKey(alg, false, ['sign']) as CryptoKey, alg };
  }
  throw new Error(`unsupported CA key type ${ko.asymmetricKeyType}`);
}

/** canonicalIp returns the standard text form of an IP (compressed, lower-case IPv6) or throws for a non-IP. */
export function canonicalIp(ip: string): string {
  const v = isIP(ip);
  if (v === 4) return new URL(`http://${ip}/`).hostname;
  if (v === 6) return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  throw new Error(`invalid IP address ${JSON.stringify(ip)}`);
}

/** splitSans sorts mixed --tls-san values into IPs and DNS names: ['10.0.0.1', 'k.example'] → {ips: ['10.0.0.1'], dns: ['k.example']}. */
export function splitSans(values: string[]): Sans {
  const out: Sans = { dns: [], ips: [] };
  for (const v of values.map((s) => s.trim()).filter(Boolean)) (isIP(v) ? out.ips : out.dns).push(v);
  return out;
}

/** normalizeSans lower-cases names, canonicalises IPs and drops duplicates, keeping first-seen order. */
export function normalizeSans(sans: Sans): Sans {
  return {
    dns: [...new Set(sans.dns.map((d) => d.trim().toLowerCase()).filter(Boolean))],
    ips: [...new Set(sans.ips.map(canonicalIp))],
  };
}

/** certSans reads the DNS and IP SANs out of a PEM certificate (normalised). */
export function certSans(certPem: string): Sans {
  const ext = new x509.X509Certificate(certPem).getExtension(x509.SubjectAlternativeNameExtension);
  const out: Sans = { dns: [], ips: [] };
  for (const n of ext?.names.items ?? []) {
    if (n.type === 'dns') out.dns.push(n.value);
    else if (n.type === 'ip') out.ips.push(n.value);
  }
  return normalizeSans(out);
}

/** missingSans returns the wanted SANs the certificate lacks (exact names; no wildcard matching). Empty = covered. */
export function missingSans(certPem: string, wanted: Sans): Sans {
  const have = certSans(certPem);
  const want = normalizeSans(wanted);
  return { dns: want.dns.filter((d) => !have.dns.includes(d)), ips: want.ips.filter((i) => !have.ips.includes(i)) };
}

/** createCa makes a self-signed ECDSA P-256 CA certificate valid for `days`. */
export async function createCa(cn: string, days: number): Promise<CertKey> {
  const keys = await newKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: subject(cn),
    ...validity(days),
    keys,
    signingAlgorithm: EC_SIGN,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await keyToPem(keys.privateKey) };
}

/** issueCert makes a fresh ECDSA P-256 key and a certificate for it signed by `ca` (e.g. the kubelet's serving cert). */
export async function issueCert(ca: CertKey, opts: IssueOptions): Promise<CertKey> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const signer = importSigningKey(ca.keyPem);
  const keys = await newKeyPair();
  const both = !opts.server && !opts.client;
  const usages: string[] = [];
  if (opts.server || both) usages.push(x509.ExtendedKeyUsage.serverAuth);
  if (opts.client || both) usages.push(x509.ExtendedKeyUsage.clientAuth);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension(usages),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
  ];
  if (opts.sans) {
    const sans = normalizeSans(opts.sans);
    const names = [
      ...sans.dns.map((value) => ({ type: 'dns' as const, value })),
      ...sans.ips.map((value) => ({ type: 'ip' as const, value })),
    ];
    if (names.length) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: subject(opts.cn, opts.orgs),
    issuer: caCert.subjectName,
    ...validity(opts.days),
    publicKey: keys.publicKey,
    signingKey: signer.key,
    signingAlgorithm: signer.alg,
    extensions,
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await keyToPem(keys.privateKey) };
}

/** signedBy reports whether `certPem` was issued by `caCertPem` (issuer name and signature both match). */
export function signedBy(certPem: string, caCertPem: string): boolean {
  const cert = new NodeX509(certPem);
  const ca = new NodeX509(caCertPem);
  return cert.checkIssued(ca) && cert.verify(ca.publicKey);
}

/** keyMatchesCert reports whether the PEM private key belongs to the certificate's public key. */
export function keyMatchesCert(keyPem: string, certPem: string): boolean {
  const fromKey = createPublicKey(keyPem).export({ format: 'der', type: 'spki' });
  const fromCert = new NodeX509(certPem).publicKey.export({ format: 'der', type: 'spki' });
  return Buffer.compare(fromKey, fromCert) === 0;
}

/** expiresWithin reports whether the certificate's notAfter falls within `days` from now. */
export function expiresWithin(certPem: string, days: number, now = Date.now()): boolean {
  return new NodeX509(certPem).validToDate.getTime() - now < days * DAY_MS;
}
