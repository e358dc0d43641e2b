// certs.test: CA creation and leaf issuing, checked with node's own X509 verifier; SAN helpers.
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalIp, certSans, createCa, issueCert, keyMatchesCert, missingSans, normalizeSans, signedBy, splitSans } from './certs.ts';

describe('createCa', () => {
  it('makes a self-signed CA certificate valid for the given days', async () => {
    const ca = await createCa('kubeling-ca@123', 3650);
    const c = new X509Certificate(ca.certPem);
    expect(c.ca).toBe(true);
    expect(c.subject).toBe('CN=kubeling-ca@123');
    expect(c.issuer).toBe(c.subject);
    expect(c.verify(c.publicKey)).toBe(true);
    const days = (c.validToDate.getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(3649);
    expect(days).toBeLessThanOrEqual(3650);
    expect(keyMatchesCert(ca.keyPem, ca.certPem)).toBe(true);
    expect(ca.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });
});

describe('issueCert', () => {
  it('issues a leaf signed by the CA with the requested names and usages', async () => {
    const ca = await createCa('test-ca', 10);
    const leaf = await issueCert(ca, {
      cn: 'system:node:n1',
      orgs: ['system:nodes'],
      sans: { dns: ['Node1.Example', 'node1.example'], ips: ['10.0.0.7', '0:0:0:0:0:0:0:1'] },
      days: 30,
      server: true,
    });
    const c = new X509Certificate(leaf.certPem);
    expect(c.ca).toBe(false);
    expect(c.subject).toBe('O=system:nodes\nCN=system:node:n1');
    expect(c.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    expect(signedBy(leaf.certPem, ca.certPem)).toBe(true);
    expect(c.checkHost('node1.example')).toBe('node1.example');
    expect(c.checkIP('10.0.0.7')).toBe('10.0.0.7');
    expect(c.checkIP('::1')).toBe('::1');
    expect(c.checkIP('10.0.0.8')).toBeUndefined();
    expect(c.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(certSans(leaf.certPem)).toEqual({ dns: ['node1.example'], ips: ['10.0.0.7', '::1'] });
    expect(keyMatchesCert(leaf.keyPem, leaf.certPem)).toBe(true);
    expect(keyMatchesCert(ca.keyPem, leaf.certPem)).toBe(false);
  });

  it('includes both server and client usage when neither flag is set, only client when asked', async () => {
    const ca = await createCa('test-ca', 10);
    const both = new X509Certificate((await issueCert(ca, { cn: 'x', days: 1 })).certPem);
    expect(both.keyUsage?.sort()).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    const client = new X509Certificate((await issueCert(ca, { cn: 'x', days: 1, client: true })).certPem);
    expect(client.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
  });

  it('is not accepted as signed by a different CA', async () => {
    const ca = await createCa('a', 10);
    const other = await createCa('b', 10);
    const leaf = await issueCert(ca, { cn: 'x', days: 1 });
    expect(signedBy(leaf.certPem, other.certPem)).toBe(false);
  });
});

describe('SAN helpers', () => {
  it('canonicalIp compresses IPv6 and rejects non-IPs', () => {
    expect(canonicalIp('0:0:0:0:0:0:0:1')).toBe('::1');
    expect(canonicalIp('FD00:0::A')).toBe('fd00::a');
    expect(canonicalIp('192.168.1.2')).toBe('192.168.1.2');
    expect(() => canonicalIp('example.com')).toThrow(/invalid IP/);
  });

  it('splitSans sorts --tls-san values into names and IPs', () => {
    expect(splitSans(['10.1.2.3', 'k.example', ' ', 'fd00::1'])).toEqual({ dns: ['k.example'], ips: ['10.1.2.3', 'fd00::1'] });
  });

  it('normalizeSans dedupes case-insensitively and canonicalises IPs', () => {
    expect(normalizeSans({ dns: ['A.b', 'a.B'], ips: ['::1', '0::1'] })).toEqual({ dns: ['a.b'], ips: ['::1'] });
  });

  it('missingSans lists exactly the wanted names the cert lacks', async () => {
    const ca = await createCa('c', 1);
    const leaf = await issueCert(ca, { cn: 'x', days: 1, sans: { dns: ['a.example'], ips: ['127.0.0.1'] } });
    expect(missingSans(leaf.certPem, { dns: ['A.example'], ips: ['127.0.0.1'] })).toEqual({ dns: [], ips: [] });
    expect(missingSans(leaf.certPem, { dns: ['b.example'], ips: ['10.0.0.1'] })).toEqual({ dns: ['b.example'], ips: ['10.0.0.1'] });
  });
});
