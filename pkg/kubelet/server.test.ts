// server.test: log query parsing and the client-certificate check of the agent endpoint.
import { describe, expect, it } from 'vitest';
import { KUBELET_CLIENT_USER, parseLogQuery, peerAllowed } from './server.ts';

describe('parseLogQuery', () => {
  it('reads kubectl log options', () => {
    const q = new URLSearchParams('follow=true&previous=1&timestamps=true&tailLines=5&sinceSeconds=10&limitBytes=100');
    expect(parseLogQuery(q, 100_000)).toEqual({ follow: true, previous: true, timestamps: true, tail: 5, since: 90, limitBytes: 100 });
    expect(parseLogQuery(new URLSearchParams(''))).toEqual({ follow: false, previous: false, timestamps: false });
    expect(parseLogQuery(new URLSearchParams('sinceTime=1970-01-01T00:01:40Z')).since).toBe(100);
  });
});

describe('peerAllowed', () => {
  const CLIENT = '1.3.6.1.5.5.7.3.2';
  const peer = (CN: string | undefined, eku?: string[]) => ({ subject: { CN, O: 'x' } as never, ...(eku ? { ext_key_usage: eku } : {}) });
  it.each([
    ['the API server, verified', true, peer(KUBELET_CLIENT_USER, [CLIENT]), true],
    ['the API server without usages listed', true, peer(KUBELET_CLIENT_USER), true],
    ['a chain the CA did not sign', false, peer(KUBELET_CLIENT_USER, [CLIENT]), false],
    ['another user of the CA (a node)', true, peer('system:node:a', [CLIENT]), false],
    ['a server-only certificate', true, peer(KUBELET_CLIENT_USER, ['1.3.6.1.5.5.7.3.1']), false],
    ['no certificate', false, undefined, false],
  ])('%s', (_n, authorized, p, ok) => expect(peerAllowed(authorized, p, [KUBELET_CLIENT_USER])).toBe(ok));
});
