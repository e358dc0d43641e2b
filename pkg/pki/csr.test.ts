// csr.test: a key and CSR made, read and signed through the child helper.
import { X509Certificate } from 'node:crypto';
import { it, expect } from 'vitest';
import { createCa } from './certs.ts';
import { requestInChild, readInChild, signInChild } from './csrchild.ts';
it('round trip', async () => {
  const ca = await createCa('x', 10);
  const r = await requestInChild({ cn: 'system:node:a', orgs: ['system:nodes'], sans: { dns: ['a'], ips: ['10.0.0.1'] } });
  const f = await readInChild(r.csrPem);
  expect(f).toEqual({ cn: 'system:node:a', orgs: ['system:nodes'], dns: ['a'], ips: ['10.0.0.1'], emails: [], uris: [], signatureValid: true });
  const pem = await signInChild(ca, r.csrPem, ['digital signature', 'server auth'], 3600);
  const c = new X509Certificate(pem);
  expect(c.subject).toBe('O=system:nodes\nCN=system:node:a');
  expect(c.checkIP('10.0.0.1')).toBe('10.0.0.1');
  expect(c.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
  expect(c.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
}, 30000);
