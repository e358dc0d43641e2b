// pin.test: fetchAndPinCa against a real HTTPS server on 127.0.0.1 serving /cacerts.
import { X509Certificate, createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueCert } from './certs.ts';
import { cacertsUrl, fetchAndPinCa } from './pin.ts';
import { getPinned, startHttps } from './testserver.ts';
import type { TestServer } from './testserver.ts';
import { caHashOf } from './tokens.ts';

describe('fetchAndPinCa', () => {
  let ca = { certPem: '', keyPem: '' };
  let srv: TestServer;
  let rogue: TestServer;
  beforeAll(async () => {
    ca = await createCa('kubeling-ca@1', 10);
    const serving = await issueCert(ca, { cn: 'kubeling', sans: { dns: ['localhost'], ips: ['127.0.0.1'] }, days: 1, server: true });
    srv = await startHttps(serving, (req, res) => {
      if (req.url === '/cacerts') res.end(ca.certPem);
      else res.writeHead(404).end();
    });
    // a server that hands out the real CA but presents a certificate from another CA (a man in the middle)
    const other = await createCa('other', 10);
    const fake = await issueCert(other, { cn: 'kubeling', sans: { ips: ['127.0.0.1'], dns: [] }, days: 1 });
    rogue = await startHttps(fake, (_req, res) => res.end(ca.certPem));
  });
  afterAll(async () => {
    await srv?.close();
    await rogue?.close();
  });

  it('returns the CA when its hash matches the token, and it then verifies the server', async () => {
    const pem = await fetchAndPinCa(srv.url, caHashOf(ca.certPem));
    expect(pem).toBe(ca.certPem);
    expect(await getPinned(srv.port, '/cacerts', pem)).toEqual({ status: 200, body: ca.certPem });
  });

  it('accepts the DER fingerprint too, and a trailing slash on the server URL', async () => {
    const der = createHash('sha256').update(new X509Certificate(ca.certPem).raw).digest('hex');
    expect(await fetchAndPinCa(`${srv.url}/`, der.toUpperCase())).toBe(ca.certPem);
  });

  it('throws a clear error when the hash does not match', async () => {
    await expect(fetchAndPinCa(srv.url, '00'.repeat(32))).rejects.toThrow(
      new RegExp(`does not match the join token: the token expects sha256 ${'00'.repeat(32)}, the server's CA hashes to ${caHashOf(ca.certPem)}`),
    );
  });

  it('rejects a server whose own certificate is not signed by the served CA', async () => {
    await expect(fetchAndPinCa(rogue.url, caHashOf(ca.certPem))).rejects.toThrow(/not signed by the pinned cluster CA/);
  });

  it('reports HTTP errors and unreachable servers', async () => {
    await expect(fetchAndPinCa(`${srv.url}/prefix`, caHashOf(ca.certPem))).rejects.toThrow(/HTTP 404/);
    const gone = await startHttps(ca, () => {}); // take a free port, then close it
    await gone.close();
    await expect(fetchAndPinCa(gone.url, caHashOf(ca.certPem))).rejects.toThrow(/cannot fetch the cluster CA from .*ECONNREFUSED/);
  });

  it('cacertsUrl keeps a path prefix and refuses plain http', () => {
    expect(cacertsUrl('https://h:6443').href).toBe('https://h:6443/cacerts');
    expect(cacertsUrl('https://h:6443/k8s').href).toBe('https://h:6443/k8s/cacerts');
    expect(() => cacertsUrl('http://h:6443')).toThrow(/must be https/);
  });
});
