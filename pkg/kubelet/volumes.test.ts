// volumes.test: file rendering of configMap/secret/downwardAPI volumes, hostPath type checks and subPath mounts.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { downwardFiles, hostPathCheck, keyFiles, mountsFor, safeJoin, setUpVolumes, writeFiles } from './volumes.ts';

const dir = mkdtempSync(join(tmpdir(), 'kubeling-volumes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('keyFiles', () => {
  it('maps every key, or only items (missing key is an error unless optional)', () => {
    expect(keyFiles({ b: '2', a: '1' }, undefined, 0o644, 'configMap', false)).toEqual([{ path: 'a', data: '1', mode: 0o644 }, { path: 'b', data: '2', mode: 0o644 }]);
    expect(keyFiles({ a: '1' }, [{ key: 'a', path: 'x/y', mode: 0o400 }], 0o644, 'configMap', false)).toEqual([{ path: 'x/y', data: '1', mode: 0o400 }]);
    expect(keyFiles({ a: '1' }, [{ key: 'z', path: 'z' }], 0o644, 'configMap', false)).toBe('configMap references non-existent config key: z');
    expect(keyFiles({ a: '1' }, [{ key: 'z', path: 'z' }], 0o644, 'configMap', true)).toEqual([]);
  });
});

describe('writeFiles', () => {
  it('writes, updates and prunes files with modes', async () => {
    const d = join(dir, 'w');
    await writeFiles(d, [{ path: 'a', data: '1', mode: 0o600 }, { path: 'sub/b', data: '2', mode: 0o644 }]);
    expect(readFileSync(join(d, 'sub/b'), 'utf8')).toBe('2');
    expect(statSync(join(d, 'a')).mode & 0o777).toBe(0o600);
    await writeFiles(d, [{ path: 'a', data: 'changed', mode: 0o644 }]);
    expect(readFileSync(join(d, 'a'), 'utf8')).toBe('changed');
    expect(() => statSync(join(d, 'sub'))).toThrow();
    await expect(writeFiles(d, [{ path: '../escape', data: '', mode: 0o644 }])).rejects.toThrow(/invalid path/);
  });
});

describe('hostPathCheck', () => {
  it('checks and creates per type', async () => {
    const f = join(dir, 'file');
    writeFileSync(f, 'x');
    expect(await hostPathCheck(f, 'File')).toBeUndefined();
    expect(await hostPathCheck(f, 'Directory')).toBe(`hostPath type check failed: ${f} is not a directory`);
    expect(await hostPathCheck(join(dir, 'nope'), 'Directory')).toMatch(/is not a directory/);
    expect(await hostPathCheck(join(dir, 'made/deep'), 'DirectoryOrCreate')).toBeUndefined();
    expect(statSync(join(dir, 'made/deep')).isDirectory()).toBe(true);
    expect(await hostPathCheck(join(dir, 'new.txt'), 'FileOrCreate')).toBeUndefined();
    expect(statSync(join(dir, 'new.txt')).isFile()).toBe(true);
    expect(await hostPathCheck(join(dir, 'whatever'), undefined)).toBeUndefined();
  });
});

describe('setUpVolumes and mountsFor', () => {
  const pod = { metadata: { name: 'p', namespace: 'ns', uid: 'u1', labels: { b: '2', a: '1' } }, spec: { volumes: [
    { name: 'cm', configMap: { name: 'cm' } },
    { name: 'missing', secret: { secretName: 'gone' } },
    { name: 'opt', secret: { secretName: 'gone', optional: true } },
    { name: 'e', emptyDir: {} },
    { name: 'd', downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } },
  ] } };
  const fetch = async (kind: string, _ns: string, name: string) => (kind === 'configmaps' && name === 'cm' ? { metadata: { name }, data: { k: 'v' } } : undefined);
  const ctx = { podIP: '1.1.1.1', hostIP: '2.2.2.2', nodeAllocatable: { cpu: 1, memory: 1 } };

  it('renders sources and reports missing ones as FailedMount messages', async () => {
    const r = await setUpVolumes(pod, dir, fetch, ctx);
    expect(r.failures).toEqual([{ volume: 'missing', message: 'MountVolume.SetUp failed for volume "missing" : secret "gone" not found' }]);
    expect(readFileSync(join(r.paths.get('cm')!.path, 'k'), 'utf8')).toBe('v');
    expect(readFileSync(join(r.paths.get('d')!.path, 'labels'), 'utf8')).toBe('a="1"\nb="2"');
    expect(r.paths.get('cm')!.readOnly).toBe(true);
    expect(r.paths.get('e')!.readOnly).toBe(false);
    const m = await mountsFor({ name: 'c', volumeMounts: [{ name: 'e', mountPath: '/e', subPath: 'x/y' }, { name: 'cm', mountPath: '/k', subPath: 'k' }, { name: 'e', mountPath: '/p', subPathExpr: '$(POD)' }] }, r.paths, [{ name: 'POD', value: 'p1' }]);
    expect(m).toEqual({ mounts: [
      { hostPath: join(r.paths.get('e')!.path, 'x/y'), containerPath: '/e', readOnly: false },
      { hostPath: join(r.paths.get('cm')!.path, 'k'), containerPath: '/k', readOnly: true },
      { hostPath: join(r.paths.get('e')!.path, 'p1'), containerPath: '/p', readOnly: false },
    ] });
    expect(statSync(join(r.paths.get('e')!.path, 'x/y')).isDirectory()).toBe(true);
    expect(await mountsFor({ name: 'c', volumeMounts: [{ name: 'zzz', mountPath: '/z' }] }, r.paths, [])).toEqual({ error: 'cannot find volume "zzz" to mount into container "c"' });
    expect(await mountsFor({ name: 'c', volumeMounts: [{ name: 'e', mountPath: '/z', subPath: '../../etc' }] }, r.paths, [])).toHaveProperty('error');
  });

  it('projects the kube-api-access volume: the token from the token source, ca.crt, namespace', async () => {
    const { tokenVolume } = await import('../apiserver/admission/serviceaccount.ts');
    const p = { metadata: { name: 'p', namespace: 'ns', uid: 'u2' }, spec: { serviceAccountName: 'default', volumes: [tokenVolume('kube-api-access-abcde')] } };
    const asked: unknown[] = [];
    const cmFetch = async (kind: string, _ns: string, name: string) => (kind === 'configmaps' && name === 'kube-root-ca.crt' ? { metadata: { name }, data: { 'ca.crt': 'CA' } } : undefined);
    const r = await setUpVolumes(p, dir, cmFetch, ctx, async (_pod, src) => (asked.push(src), 'jwt'));
    expect(r.failures).toEqual([]);
    const d = r.paths.get('kube-api-access-abcde')!.path;
    expect(readFileSync(join(d, 'token'), 'utf8')).toBe('jwt');
    expect(readFileSync(join(d, 'ca.crt'), 'utf8')).toBe('CA');
    expect(readFileSync(join(d, 'namespace'), 'utf8')).toBe('ns');
    expect(statSync(join(d, 'token')).mode & 0o777).toBe(0o644);
    expect(asked).toEqual([{ expirationSeconds: 3607, path: 'token' }]);
    const failed = await setUpVolumes(p, dir, cmFetch, ctx, async () => {
      throw new Error('serviceaccounts "default" not found');
    });
    expect(failed.failures[0]!.message).toBe('MountVolume.SetUp failed for volume "kube-api-access-abcde" : failed to fetch token: serviceaccounts "default" not found');
  });

  it('renders downward API files', () => {
    expect(downwardFiles(pod, [{ path: 'n', fieldRef: { fieldPath: 'metadata.namespace' } }], 0o644, ctx)).toEqual([{ path: 'n', data: 'ns', mode: 0o644 }]);
  });

  it('safeJoin refuses escapes', () => {
    expect(safeJoin('/a', 'b/c')).toBe('/a/b/c');
    expect(safeJoin('/a', '../b')).toBeUndefined();
    expect(safeJoin('/a', '/etc')).toBeUndefined();
  });
});
