// csr: PKCS#10 certificate signing requests — make a key and a request (agent side), read one, and sign one with the cluster CA (csrsigning).
import { createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import 'reflect-metadata'; // @peculiar/x509 (through tsyringe) needs the Reflect metadata API; must load first
import * as x509 from '@peculiar/x509';
import { normalizeSans, type CertKey, type Sans } from './certs.ts';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

/** RequestOptions name what the certificate should say: CN = user, O = groups, SANs (serving certificates). */
export interface RequestOptions {
  cn: string;
  orgs?: string[];
  sans?: Sans;
}

/** CsrFacts is what a request asks for, as the approver reads it (upstream's x509.CertificateRequest fields). */
export interface CsrFacts {
  cn: string;
  orgs: string[];
  dns: string[];
  ips: string[];
  emails: string[];
  uris: string[];
  /** the request's self-signature verifies with its own public key */
  signatureValid: boolean;
}

/** KeyAndRequest is a fresh PEM private key and a PEM CSR for it. */
export interface KeyAndRequest {
  keyPem: string;
  csrPem: string;
}

const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const EC_SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;

function subject(cn: string, orgs: string[] = []): x509.JsonName {
  return [...orgs.map((o) => ({ O: [o] })), { CN: [cn] }];
}

/** createKeyAndRequest makes an ECDSA P-256 key and a CSR signed by it (what kubelet's certificate manager sends). */
export async function createKeyAndRequest(o: RequestOptions): Promise<KeyAndRequest> {
  const keys = (await webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const extensions: x509.Extension[] = [];
  if (o.sans) {
    const s = normalizeSans(o.sans);
    const names = [...s.dns.map((value) => ({ type: 'dns' as const, value })), ...s.ips.map((value) => ({ type: 'ip' as const, value }))];
    if (names.length) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  }
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: subject(o.cn, o.orgs), keys, signingAlgorithm: EC_SIGN, extensions });
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }) as string;
  return { keyPem, csrPem: csr.toString('pem') + '\n' };
}

/** readRequest parses a PEM CSR into the facts the approver checks. Throws on a malformed request. */
export async function readRequest(csrPem: string): Promise<CsrFacts> {
  const csr = new x509.Pkcs10CertificateRequest(csrPem);
  const out: CsrFacts = { cn: csr.subjectName.getField('CN')[0] ?? '', orgs: csr.subjectName.getField('O'), dns: [], ips: [], emails: [], uris: [], signatureValid: await csr.verify() };
  const san = sanOf(csr);
  for (const n of san?.names.items ?? []) {
    if (n.type === 'dns') out.dns.push(n.value);
    else if (n.type === 'ip') out.ips.push(n.value);
    else if (n.type === 'email') out.emails.push(n.value);
    else if (n.type === 'url') out.uris.push(n.value);
  }
  return out;
}

const SAN_OID = '2.5.29.17';

/** sanOf finds the subjectAltName extension among the request's requested extensions. */
function sanOf(csr: x509.Pkcs10CertificateRequest): x509.SubjectAlternativeNameExtension | undefined {
  const e = csr.extensions.find((x) => x.type === SAN_OID);
  return e ? new x509.SubjectAlternativeNameExtension(e.rawData) : undefined;
}

/** USAGE_OIDS maps the CSR API's usages to extended key usage OIDs (upstream's certificates/v1 KeyUsage values). */
const USAGE_OIDS: Record<string, string> = { 'server auth': x509.ExtendedKeyUsage.serverAuth, 'client auth': x509.ExtendedKeyUsage.clientAuth };

/**
 * signRequest issues a certificate for a CSR with the CA: subject and SANs as requested, the given usages, valid for
 * `seconds` (backdated 5 minutes, as upstream's signer), never past the CA's own expiry.
 */
export async function signRequest(ca: CertKey, csrPem: string, usages: string[], seconds: number): Promise<string> {
  const csr = new x509.Pkcs10CertificateRequest(csrPem);
  if (!(await csr.verify())) throw new Error('the CSR signature does not verify');
  const caCert = new x509.X509Certificate(ca.certPem);
  const ko = createPrivateKey(ca.keyPem);
  let signingKey: CryptoKey;
  let alg: webcrypto.Algorithm | webcrypto.EcdsaParams;
  if (ko.asymmetricKeyType === 'ec') {
    const curve = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' }[ko.asymmetricKeyDetails?.namedCurve ?? ''] ?? 'P-256';
    signingKey = ko.toCryptoKey({ name: 'ECDSA', namedCurve: curve }, false, ['sign']) as CryptoKey;
    alg = EC_SIGN;
  } else {
    alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as webcrypto.Algorithm;
    signingKey = ko.toCryptoKey(alg, false, ['sign']) as CryptoKey;
  }
  const ekus = usages.map((u) => USAGE_OIDS[u]).filter((x): x is string => !!x);
  let flags = 0;
  if (usages.includes('digital signature')) flags |= x509.KeyUsageFlags.digitalSignature;
  if (usages.includes('key encipherment')) flags |= x509.KeyUsageFlags.keyEncipherment;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    ...(flags ? [new x509.KeyUsagesExtension(flags, true)] : []),
    ...(ekus.length ? [new x509.ExtendedKeyUsageExtension(ekus)] : []),
    await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
  ];
  const san = sanOf(csr);
  if (san) extensions.push(new x509.SubjectAlternativeNameExtension(san.names.toJSON()));
  const now = Date.now();
  const notAfter = Math.min(now + seconds * 1000, caCert.notAfter.getTime());
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) || 0x01;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: b.toString('hex'),
    subject: csr.subjectName,
    issuer: caCert.subjectName,
    notBefore: new Date(now - 5 * 60_000),
    notAfter: new Date(notAfter),
    publicKey: csr.publicKey,
    signingKey,
    signingAlgorithm: alg,
    extensions,
  });
  return cert.toString('pem') + '\n';
}
