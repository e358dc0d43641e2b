// clusterid.test: one CA names one cluster however its PEM text is laid out.
import { describe, expect, it } from 'vitest';
import { clusterId } from './index.ts';

const body = Buffer.from('a certificate of the cluster, DER in real life').toString('base64');
const pem = `-----BEGIN CERTIFICATE-----\n${body.match(/.{1,16}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;

describe('clusterId', () => {
  it('hashes the certificate bytes: line breaks, CRLF and trailing whitespace do not matter', () => {
    const id = clusterId(pem);
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(clusterId(pem.trim())).toBe(id);
    expect(clusterId(pem.replace(/\n/g, '\r\n'))).toBe(id);
    expect(clusterId(`-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----`)).toBe(id);
    expect(clusterId(pem.replace(body.slice(0, 4), 'AAAA'))).not.toBe(id);
  });
});
