// bootstrap: which failures of the client-certificate request the agent tries again.
import { describe, expect, it } from 'vitest';
import { ApiError } from '../api/errors.ts';
import { retryableBootstrapError } from './index.ts';

const api = (code: number) => new ApiError({ apiVersion: 'v1', kind: 'Status', metadata: {}, status: 'Failure', code, reason: 'x', message: 'x' });

describe('retryableBootstrapError', () => {
  it.each([
    ['a refused token (401)', api(401), false],
    ['a forbidden request (403)', api(403), false],
    ['an invalid request (422)', api(422), false],
    ['the CSR API missing (404)', api(404), false],
    ['a denied CSR', new Error('certificate signing request node-csr-ab was denied: Nope'), false],
    ['a failed CSR', new Error('certificate signing request node-csr-ab was failed: SignerFailed'), false],
    ['a busy server (429)', api(429), true],
    ['a server error (500)', api(500), true],
    ['an unreachable server', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' }), true],
    ['a key helper that timed out', new Error('certificate helper (request) timed out after 120s'), true],
    ['no certificate issued in time', new Error('timed out waiting for certificate signing request node-csr-ab to be issued'), true],
  ])('%s → %s', (_what, err, want) => {
    expect(retryableBootstrapError(err)).toBe(want);
  });
});
