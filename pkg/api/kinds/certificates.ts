// certificates: validation for certificates.k8s.io/v1 CertificateSigningRequest (upstream's pkg/apis/certificates/validation).
import type { CertificateSigningRequest } from 'kubernetes-types/certificates/v1.js';
import type { FieldError } from '../errors.ts';
import { field } from '../errors.ts';
import type { KubeObject } from '../types.ts';
import type { KindRules } from './meta.ts';
import { nameIsDNSSubdomain } from './meta.ts';

/** KEY_USAGES are certificates/v1's allowed usages. */
export const KEY_USAGES = [
  'signing', 'digital signature', 'content commitment', 'key encipherment', 'key agreement', 'data encipherment', 'cert sign', 'crl sign',
  'encipher only', 'decipher only', 'any', 'server auth', 'client auth', 'code signing', 'email protection', 's/mime', 'ipsec end system',
  'ipsec tunnel', 'ipsec user', 'timestamping', 'ocsp signing', 'microsoft sgc', 'netscape sgc',
];

const CSR_PEM = /^-----BEGIN CERTIFICATE REQUEST-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE REQUEST-----\s*$/;
const CERT_PEM = /-----BEGIN CERTIFICATE-----/;

/** decodedRequest is spec.request (base64 of a PEM CSR) as PEM text, or undefined when it is not one. */
export function decodedRequest(csr: CertificateSigningRequest): string | undefined {
  const b = csr.spec?.request;
  if (typeof b !== 'string' || !b) return undefined;
  const pem = Buffer.from(b, 'base64').toString('utf8');
  return CSR_PEM.test(pem) ? pem : undefined;
}

/** csrCondition is the status of a condition type on a CSR ('True' when present without a status, as upstream reads it). */
export function csrCondition(csr: CertificateSigningRequest, type: string): boolean {
  return (csr.status?.conditions ?? []).some((c) => c.type === type && (c.status ?? 'True') === 'True');
}

function validateCsr(obj: KubeObject): FieldError[] {
  const csr = obj as unknown as CertificateSigningRequest;
  const errs: FieldError[] = [];
  const spec = csr.spec;
  if (!spec?.request) errs.push(field.required('spec.request', ''));
  else if (!decodedRequest(csr)) errs.push(field.invalid('spec.request', '<omitted>', 'PEM block type must be CERTIFICATE REQUEST'));
  if (!spec?.signerName) errs.push(field.required('spec.signerName', ''));
  else if (!/^[a-z0-9.-]+\/[A-Za-z0-9._-]+$/.test(spec.signerName)) errs.push(field.invalid('spec.signerName', spec.signerName, 'must be a fully qualified domain and path of the form \'example.com/signer-name\''));
  if (!spec?.usages?.length) errs.push(field.required('spec.usages', ''));
  for (const [i, u] of (spec?.usages ?? []).entries()) if (!KEY_USAGES.includes(u)) errs.push(field.notSupported(`spec.usages[${i}]`, u, KEY_USAGES));
  const exp = spec?.expirationSeconds;
  if (exp !== undefined && exp !== null && !(Number.isInteger(exp) && exp >= 600)) errs.push(field.invalid('spec.expirationSeconds', exp, 'may not specify a duration less than 600 seconds (10 minutes)'));
  const conds = csr.status?.conditions ?? [];
  for (const [i, c] of conds.entries()) {
    if (!c.type) errs.push(field.required(`status.conditions[${i}].type`, ''));
    if (c.status !== undefined && !['True', 'False', 'Unknown'].includes(c.status)) errs.push(field.notSupported(`status.conditions[${i}].status`, c.status, ['False', 'True', 'Unknown']));
  }
  if (csrCondition(csr, 'Approved') && csrCondition(csr, 'Denied')) errs.push(field.invalid('status.conditions', 'Approved', 'Approved and Denied conditions are mutually exclusive'));
  const cert = csr.status?.certificate;
  if (cert && !CERT_PEM.test(Buffer.from(cert, 'base64').toString('utf8'))) errs.push(field.invalid('status.certificate', '<certificate data>', 'must contain at least one CERTIFICATE PEM block'));
  return errs;
}

export const certificateSigningRequest: KindRules = {
  nameRule: nameIsDNSSubdomain,
  validate: validateCsr,
  validateUpdate(next, old) {
    const errs: FieldError[] = [];
    if (JSON.stringify(next.spec ?? {}) !== JSON.stringify(old.spec ?? {})) errs.push(field.invalid('spec', '', 'field is immutable'));
    const oc = (old.status as CertificateSigningRequest['status'])?.certificate;
    const nc = (next.status as CertificateSigningRequest['status'])?.certificate;
    if (oc && nc !== oc) errs.push(field.invalid('status.certificate', '<certificate data>', 'updates may not modify existing certificate content'));
    return errs;
  },
  fields: (obj) => ({ 'spec.signerName': String((obj.spec as { signerName?: string })?.signerName ?? '') }),
};
