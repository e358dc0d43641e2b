// serviceaccount.test: bound token claims, signatures, the claim checks and the authenticator's object lookups.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.ts';
import { DEFAULT_ISSUER, EXTRA, ServiceAccountTokens, checkClaims, parseServiceAccountUsername, signJwt, tokenClaims, verifyJwt, type Claims } from './serviceaccount.ts';

const sa = { name: 'robot', uid: 'sa-uid' };
const pod = { name: 'web', uid: 'pod-uid' };
const base = () => tokenClaims({ issuer: DEFAULT_ISSUER, namespace: 'team', sa, audiences: [DEFAULT_ISSUER], expirationSeconds: 3600, nowS: 1000, pod, jti: 'j1' });

describe('tokenClaims', () => {
  it('has upstream claims', () => {
    expect(base()).toEqual({
      aud: [DEFAULT_ISSUER], exp: 4600, iat: 1000, iss: DEFAULT_ISSUER, jti: 'j1', nbf: 1000, sub: 'system:serviceaccount:team:robot',
      'kubernetes.io': { namespace: 'team', serviceaccount: sa, pod },
    });
  });
});

describe('checkClaims', () => {
  const o = { issuer: DEFAULT_ISSUER, audiences: [DEFAULT_ISSUER], nowS: 2000 };
  const cases: { name: string; mutate: (c: Claims) => void; now?: number; auds?: string[]; want: string | string[] }[] = [
    { name: 'valid', mutate: () => {}, want: [DEFAULT_ISSUER] },
    { name: 'expired', mutate: () => {}, now: 4600, want: 'service account token has expired' },
    { name: 'foreign issuer', mutate: (c) => (c.iss = 'https://other'), want: 'token issuer is not recognized' },
    { name: 'other audience', mutate: () => {}, auds: ['vault'], want: 'token audiences are invalid' },
    { name: 'one of several audiences', mutate: (c) => (c.aud = ['vault', DEFAULT_ISSUER]), auds: ['vault'], want: ['vault'] },
    { name: 'sub and namespace disagree', mutate: (c) => (c.sub = 'system:serviceaccount:other:robot'), want: 'service account token claims are malformed' },
    { name: 'not yet valid', mutate: (c) => (c.nbf = 9999), want: 'service account token is not valid yet' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const claims = base();
      c.mutate(claims);
      const r = checkClaims(claims, { ...o, nowS: c.now ?? o.nowS, audiences: c.auds ?? o.audiences });
      if (typeof c.want === 'string') expect(r).toEqual({ ok: false, reason: c.want });
      else expect(r).toEqual({ ok: true, audiences: c.want });
    });
  }
});

describe('signJwt / verifyJwt', () => {
  for (const type of ['ec', 'rsa'] as const) {
    it(`round-trips with ${type} and refuses another key or a changed payload`, () => {
      const k = type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
      const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const t = signJwt(base(), k.privateKey, 'kid');
      expect(verifyJwt(t, k.publicKey)).toEqual(base());
      expect(verifyJwt(t, other.publicKey)).toBeUndefined();
      const [h, , s] = t.split('.');
      const forged = `${h}.${Buffer.from(JSON.stringify({ ...base(), sub: 'system:serviceaccount:kube-system:admin' })).toString('base64url')}.${s}`;
      expect(verifyJwt(forged, k.publicKey)).toBeUndefined();
      expect(verifyJwt(`${Buffer.from('{"alg":"none"}').toString('base64url')}.${t.split('.')[1]}.`, k.publicKey)).toBeUndefined();
    });
  }
});

describe('ServiceAccountTokens', () => {
  const objects = new Map<string, KubeObject>([
    ['serviceaccounts/team/robot', { metadata: { name: 'robot', namespace: 'team', uid: 'sa-uid' } }],
    ['pods/team/web', { metadata: { name: 'web', namespace: 'team', uid: 'pod-uid' } }],
  ]);
  const tokens = new ServiceAccountTokens({ lookup: async (r, ns, n) => objects.get(`${r}/${ns}/${n}`) });
  const now = Date.now();
  const issue = (o: Partial<Parameters<ServiceAccountTokens['issue']>[0]> = {}) => tokens.issue({ namespace: 'team', sa, audiences: tokens.audiences, expirationSeconds: 3600, ...o });

  it('authenticates a token as its service account with upstream groups and pod extras', async () => {
    const r = await tokens.authenticate(issue({ pod }));
    expect(r?.user.name).toBe('system:serviceaccount:team:robot');
    expect(r?.user.groups).toEqual(['system:serviceaccounts', 'system:serviceaccounts:team']);
    expect(r?.user.extra?.[EXTRA.podName]).toEqual(['web']);
    expect(r?.user.extra?.[EXTRA.podUid]).toEqual(['pod-uid']);
    expect(r?.audiences).toEqual([DEFAULT_ISSUER]);
  });
  it('refuses a token whose account was re-created (another uid) or whose pod is gone', async () => {
    expect(await tokens.authenticate(issue({ sa: { name: 'robot', uid: 'old' } }))).toBeUndefined();
    expect(await tokens.authenticate(issue({ pod: { name: 'gone', uid: 'x' } }))).toBeUndefined();
  });
  it('refuses an expired token and one for another audience', async () => {
    expect(await tokens.authenticate(issue({ nowS: Math.floor(now / 1000) - 7200 }))).toBeUndefined();
    expect(await tokens.authenticate(issue({ audiences: ['vault'] }))).toBeUndefined();
    expect((await tokens.authenticate(issue({ audiences: ['vault'] }), ['vault']))?.audiences).toEqual(['vault']);
  });
  it('knows its own tokens from other bearer tokens', () => {
    expect(tokens.mayBeOurs(issue())).toBe(true);
    expect(tokens.mayBeOurs('abcdef.0123456789abcdef')).toBe(false);
  });
  it('parses service account user names', () => {
    expect(parseServiceAccountUsername('system:serviceaccount:team:robot')).toEqual({ namespace: 'team', name: 'robot' });
    expect(parseServiceAccountUsername('system:serviceaccount:team')).toBeUndefined();
  });
});
