// satoken.test: projected tokens are requested bound to the pod, cached, renewed at 80 % of their lifetime.
import { describe, expect, it } from 'vitest';
import type { TokenRequest } from 'kubernetes-types/authentication/v1.js';
import type { KubeObject } from '../api/types.ts';
import { TokenManager, needsRefresh, tokenRequestFor } from './satoken.ts';

const pod: KubeObject = { metadata: { name: 'web', namespace: 'team', uid: 'u1' }, spec: { serviceAccountName: 'robot' } };

describe('needsRefresh', () => {
  const cases = [
    { now: 0, want: false },
    { now: 2_885_000, want: false },
    { now: 2_885_600, want: true },
    { now: 3_607_000, want: true },
  ];
  for (const c of cases) it(`at ${c.now} ms → ${c.want}`, () => expect(needsRefresh({ token: 't', issuedMs: 0, expiresMs: 3_607_000 }, c.now)).toBe(c.want));
});

describe('TokenManager', () => {
  it('requests a pod-bound token, reuses it, and renews it when due', async () => {
    let now = 1_000_000;
    const sent: [string, string, TokenRequest][] = [];
    const m = new TokenManager(async (ns, sa, body) => {
      sent.push([ns, sa, body]);
      return { ...body, status: { token: `tok${sent.length}`, expirationTimestamp: new Date(now + body.spec.expirationSeconds! * 1000).toISOString() } };
    }, () => now);
    const src = { path: 'token', expirationSeconds: 3607 };
    expect(await m.token(pod, src)).toBe('tok1');
    expect(sent[0]![0]).toBe('team');
    expect(sent[0]![1]).toBe('robot');
    expect(sent[0]![2]).toEqual(tokenRequestFor(pod, src));
    expect(sent[0]![2].spec.boundObjectRef).toEqual({ apiVersion: 'v1', kind: 'Pod', name: 'web', uid: 'u1' });
    now += 60_000;
    expect(await m.token(pod, src)).toBe('tok1');
    now += 2_900_000;
    expect(await m.token(pod, src)).toBe('tok2');
  });
  it('keeps a valid token when a renewal fails, fails without one', async () => {
    let now = 0;
    let fail = false;
    const m = new TokenManager(async (_ns, _sa, body) => {
      if (fail) throw new Error('down');
      return { ...body, status: { token: 'ok', expirationTimestamp: new Date(now + 600_000).toISOString() } };
    }, () => now);
    expect(await m.token(pod, { path: 'token', expirationSeconds: 600 })).toBe('ok');
    fail = true;
    now = 500_000;
    expect(await m.token(pod, { path: 'token', expirationSeconds: 600 })).toBe('ok');
    now = 700_000;
    await expect(m.token(pod, { path: 'token', expirationSeconds: 600 })).rejects.toThrow('down');
  });
});
