// serviceaccount.test: upstream's ServiceAccount admission on pod create — automount rules and the token volume's shape.
import { describe, expect, it } from 'vitest';
import type { Pod, ServiceAccount } from 'kubernetes-types/core/v1.js';
import { TOKEN_MOUNT_PATH, admitServiceAccount, randomSuffix, tokenVolume } from './serviceaccount.ts';

const sa = (o: Partial<ServiceAccount> = {}): ServiceAccount => ({ metadata: { name: 'default', namespace: 'ns' }, ...o });
const pod = (spec: Partial<Pod['spec']> = {}): Pod => ({ metadata: { name: 'p', namespace: 'ns' }, spec: { containers: [{ name: 'c', image: 'i' }], ...spec } as Pod['spec'] });

describe('admitServiceAccount', () => {
  it('mounts upstream kube-api-access volume in every init and app container', () => {
    const p = pod({ initContainers: [{ name: 'init', image: 'i' }] });
    admitServiceAccount(p, sa(), 'abcde');
    expect(p.spec!.serviceAccountName).toBe('default');
    expect(p.spec!.serviceAccount).toBe('default');
    expect(p.spec!.volumes).toEqual([
      {
        name: 'kube-api-access-abcde',
        projected: {
          defaultMode: 420,
          sources: [
            { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
          ],
        },
      },
    ]);
    for (const c of [...p.spec!.initContainers!, ...p.spec!.containers]) expect(c.volumeMounts).toEqual([{ name: 'kube-api-access-abcde', readOnly: true, mountPath: TOKEN_MOUNT_PATH }]);
  });
  const off: { name: string; p: Pod; s: ServiceAccount; mounted: boolean }[] = [
    { name: 'pod opts out', p: pod({ automountServiceAccountToken: false }), s: sa(), mounted: false },
    { name: 'account opts out', p: pod(), s: sa({ automountServiceAccountToken: false }), mounted: false },
    { name: 'pod opts in over the account', p: pod({ automountServiceAccountToken: true }), s: sa({ automountServiceAccountToken: false }), mounted: true },
  ];
  for (const c of off) {
    it(c.name, () => {
      admitServiceAccount(c.p, c.s, 'xxxxx');
      expect(!!c.p.spec!.volumes?.length).toBe(c.mounted);
    });
  }
  it('keeps a container own mount at the path, and an existing kube-api-access volume', () => {
    const p = pod({ containers: [{ name: 'a', image: 'i', volumeMounts: [{ name: 'mine', mountPath: TOKEN_MOUNT_PATH }] }], volumes: [{ name: 'mine', emptyDir: {} }] });
    admitServiceAccount(p, sa(), 'abcde');
    expect(p.spec!.volumes).toEqual([{ name: 'mine', emptyDir: {} }]);
    const q = pod({ volumes: [tokenVolume('kube-api-access-zzzzz')] });
    admitServiceAccount(q, sa(), 'abcde');
    expect(q.spec!.volumes!.map((v) => v.name)).toEqual(['kube-api-access-zzzzz']);
    expect(q.spec!.containers[0]!.volumeMounts![0]!.name).toBe('kube-api-access-zzzzz');
  });
  it('copies the account image pull secrets when the pod has none', () => {
    const p = pod();
    admitServiceAccount(p, sa({ imagePullSecrets: [{ name: 'reg' }] }), 'abcde');
    expect(p.spec!.imagePullSecrets).toEqual([{ name: 'reg' }]);
  });
  it('names volumes from upstream alphabet', () => {
    expect(randomSuffix()).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  });
});
