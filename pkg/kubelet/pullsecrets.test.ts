// pullsecrets.test: registry matching for imagePullSecrets and pull policy defaults.
import { describe, expect, it } from 'vitest';
import { authFor, parseDockerConfig, normalizeRegistry, pullPolicy, registryOf } from './pullsecrets.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const secret = (auths: unknown) => ({ metadata: { name: 's' }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64(JSON.stringify({ auths })) } });

describe('registries', () => {
  it.each([
    ['busybox', 'docker.io'],
    ['library/busybox:1', 'docker.io'],
    ['127.0.0.1:5000/app:v1', '127.0.0.1:5000'],
    ['ghcr.io/org/app', 'ghcr.io'],
    ['localhost/app', 'localhost'],
  ])('%s → %s', (img, reg) => expect(registryOf(img)).toBe(reg));
  it.each([
    ['https://index.docker.io/v1/', 'docker.io'],
    ['127.0.0.1:5000', '127.0.0.1:5000'],
    ['http://ghcr.io/v2', 'ghcr.io'],
  ])('%s normalises to %s', (k, r) => expect(normalizeRegistry(k)).toBe(r));
});

describe('authFor', () => {
  it('uses username/password or the auth field of the matching registry', () => {
    const s = [secret({ 'ghcr.io': { username: 'u', password: 'p' } }), secret({ '127.0.0.1:5000': { auth: b64('a:b:c') } })];
    expect(authFor('ghcr.io/x/y', s)).toEqual({ username: 'u', password: 'p', serveraddress: 'ghcr.io' });
    expect(authFor('127.0.0.1:5000/app', s)).toEqual({ username: 'a', password: 'b:c', serveraddress: '127.0.0.1:5000' });
    expect(authFor('busybox', s)).toBeUndefined();
  });

  it('falls back to the node-wide keyring; a pod secret for the same registry wins', () => {
    const node = parseDockerConfig(JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: b64('hub:pw') }, 'ghcr.io': { username: 'n', password: 'm' } } }));
    expect(authFor('stephengrider/multi-client', [], node)).toEqual({ username: 'hub', password: 'pw', serveraddress: 'https://index.docker.io/v1/' });
    const s = [secret({ 'ghcr.io': { username: 'u', password: 'p' } })];
    expect(authFor('ghcr.io/x/y', s, node)).toEqual({ username: 'u', password: 'p', serveraddress: 'ghcr.io' });
    expect(authFor('quay.io/x', s, node)).toBeUndefined();
    expect(parseDockerConfig('not json')).toEqual({});
    expect(parseDockerConfig(JSON.stringify({ 'r.example': { auth: b64('a:b') } }))).toEqual({ 'r.example': { auth: b64('a:b') } });
  });
});

describe('pullPolicy', () => {
  it.each([
    [{ image: 'busybox' }, 'Always'],
    [{ image: 'busybox:latest' }, 'Always'],
    [{ image: 'busybox:1.36' }, 'IfNotPresent'],
    [{ image: '127.0.0.1:5000/app' }, 'Always'],
    [{ image: 'app@sha256:abc' }, 'IfNotPresent'],
    [{ image: 'busybox', imagePullPolicy: 'Never' }, 'Never'],
  ])('%j → %s', (c, p) => expect(pullPolicy(c)).toBe(p));
});
