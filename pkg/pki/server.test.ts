// server.test: ensureServerPki on a temp dir — creation, reuse, SAN-driven re-issue, and a real TLS handshake.
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SANS, ensureServerPki, tlsPaths } from './server.ts';
import { getPinned, startHttps } from './testserver.ts';

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubeling-pki-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readAll(d: string): Promise<Record<string, string>> {
  const p = tlsPaths(d);
  return {
    caCert: await readFile(p.caCert, 'utf8'),
    caKey: await readFile(p.caKey, 'utf8'),
    cert: await readFile(p.cert, 'utf8'),
    key: await readFile(p.key, 'utf8'),
  };
}

const noSans = { sans: { dns: [], ips: [] } };

describe('ensureServerPki', () => {
  it('creates the CA and serving cert on first start, keys 0600', async () => {
    const pki = await ensureServerPki(dir, { sans: { dns: ['kube.example'], ips: ['10.9.8.7'] } });
    const files = await readAll(dir);
    expect(files).toEqual({ caCert: pki.caCertPem, caKey: pki.caKeyPem, cert: pki.certPem, key: pki.keyPem });
    const p = tlsPaths(dir);
    expect((await stat(p.caKey)).mode & 0o777).toBe(0o600);
    expect((await stat(p.key)).mode & 0o777).toBe(0o600);

    const ca = new X509Certificate(pki.caCertPem);
    expect(ca.ca).toBe(true);
    expect(ca.subject).toMatch(/^CN=kubeling-ca@\d{10}$/);
    const caYears = (ca.validToDate.getTime() - Date.now()) / (365 * 86_400_000);
    expect(caYears).toBeGreaterThan(9.9);

    const cert = new X509Certificate(pki.certPem);
    expect(cert.subject).toBe('CN=kubeling');
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkIssued(ca)).toBe(true);
    const days = (cert.validToDate.getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(364);
    expect(days).toBeLessThanOrEqual(365);
    for (const h of ['kube.example', ...DEFAULT_SANS.dns]) expect(cert.checkHost(h, { subject: 'never' })).toBe(h);
    expect(cert.checkIP('10.9.8.7')).toBe('10.9.8.7');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('other.example')).toBeUndefined();
  });

  it('reuses everything byte for byte on restart', async () => {
    const opts = { sans: { dns: ['kube.example'], ips: ['10.9.8.7'] } };
    await ensureServerPki(dir, opts);
    const before = await readAll(dir);
    const again = await ensureServerPki(dir, opts);
    expect(await readAll(dir)).toEqual(before);
    expect(again.certPem).toBe(before.cert);
    // a subset of the SANs (or the defaults alone) is still covered
    await ensureServerPki(dir, noSans);
    expect(await readAll(dir)).toEqual(before);
  });

  it('re-issues only the serving cert, with the same CA, when a SAN is added', async () => {
    await ensureServerPki(dir, { sans: { dns: ['kube.example'], ips: [] } });
    const before = await readAll(dir);
    const pki = await ensureServerPki(dir, { sans: { dns: ['kube.example'], ips: ['192.168.50.4'] } });
    const after = await readAll(dir);
    expect(after.caCert).toBe(before.caCert);
    expect(after.caKey).toBe(before.caKey);
    expect(after.cert).not.toBe(before.cert);
    expect(after.key).not.toBe(before.key);
    const cert = new X509Certificate(pki.certPem);
    expect(cert.checkIP('192.168.50.4')).toBe('192.168.50.4');
    expect(cert.checkHost('kube.example')).toBe('kube.example');
    expect(cert.verify(new X509Certificate(before.caCert).publicKey)).toBe(true);
  });

  it('re-issues a serving cert whose key file does not match', async () => {
    await ensureServerPki(dir, noSans);
    const before = await readAll(dir);
    await writeFile(tlsPaths(dir).key, before.caKey); // wrong key
    const pki = await ensureServerPki(dir, noSans);
    expect(pki.certPem).not.toBe(before.cert);
    expect(pki.caCertPem).toBe(before.caCert);
  });

  it('refuses a CA certificate without its key', async () => {
    await ensureServerPki(dir, noSans);
    await unlink(tlsPaths(dir).caKey);
    await expect(ensureServerPki(dir, noSans)).rejects.toThrow(/incomplete CA/);
  });

  it('serves TLS that a client pinning the CA accepts at 127.0.0.1 and localhost', async () => {
    const pki = await ensureServerPki(dir, noSans);
    const srv = await startHttps(pki, (_req, res) => res.end('ok'));
    try {
      expect(await getPinned(srv.port, '/', pki.caCertPem)).toEqual({ status: 200, body: 'ok' });
      expect(await getPinned(srv.port, '/', pki.caCertPem, 'localhost')).toEqual({ status: 200, body: 'ok' });
      expect(await getPinned(srv.port, '/', pki.caCertPem, 'kubernetes.default.svc')).toEqual({ status: 200, body: 'ok' });
      await expect(getPinned(srv.port, '/', pki.caCertPem, 'evil.example')).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
      await expect(getPinned(srv.port, '/', undefined)).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    } finally {
      await srv.close();
    }
  });
});
