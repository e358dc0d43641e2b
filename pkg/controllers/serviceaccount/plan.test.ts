// plan.test: the default ServiceAccount and kube-root-ca.crt decisions per namespace.
import { describe, expect, it } from 'vitest';
import type { ConfigMap, Namespace, ServiceAccount } from 'kubernetes-types/core/v1.js';
import { DESCRIPTION, DESCRIPTION_ANNOTATION, missingServiceAccounts, planRootCa } from './plan.ts';

const active: Namespace = { metadata: { name: 'team' }, status: { phase: 'Active' } };
const terminating: Namespace = { metadata: { name: 'team', deletionTimestamp: '2024-01-01T00:00:00Z' }, status: { phase: 'Terminating' } };
const CA = '-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n';

describe('missingServiceAccounts', () => {
  const cases: { name: string; ns: Namespace | undefined; have: string[]; want: string[] }[] = [
    { name: 'a new namespace gets default', ns: active, have: [], want: ['default'] },
    { name: 'nothing when default exists', ns: active, have: ['default'], want: [] },
    { name: 'nothing in a terminating namespace', ns: terminating, have: [], want: [] },
    { name: 'nothing for a namespace gone', ns: undefined, have: [], want: [] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = missingServiceAccounts(c.ns, (n) => (c.have.includes(n) ? ({ metadata: { name: n } } as ServiceAccount) : undefined));
      expect(got.map((s) => s.metadata!.name)).toEqual(c.want);
      for (const s of got) expect(s.metadata!.namespace).toBe('team');
    });
  }
});

describe('planRootCa', () => {
  const good: ConfigMap = { metadata: { name: 'kube-root-ca.crt', namespace: 'team', annotations: { [DESCRIPTION_ANNOTATION]: DESCRIPTION } }, data: { 'ca.crt': CA } };
  it('creates the ConfigMap with the CA and upstream description', () => {
    const p = planRootCa(active, undefined, CA);
    expect(p).toEqual({ create: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kube-root-ca.crt', namespace: 'team', annotations: { [DESCRIPTION_ANNOTATION]: DESCRIPTION } }, data: { 'ca.crt': CA } } });
  });
  it('leaves a current one alone', () => expect(planRootCa(active, good, CA)).toBeUndefined());
  it('restores changed data and drops extra keys', () => {
    const p = planRootCa(active, { ...good, data: { 'ca.crt': 'other', extra: 'x' } }, CA) as { update: ConfigMap };
    expect(p.update.data).toEqual({ 'ca.crt': CA });
  });
  it('restores a removed description, keeping other annotations', () => {
    const p = planRootCa(active, { ...good, metadata: { ...good.metadata, annotations: { a: 'b' } } }, CA) as { update: ConfigMap };
    expect(p.update.metadata!.annotations).toEqual({ a: 'b', [DESCRIPTION_ANNOTATION]: DESCRIPTION });
  });
  it('does nothing in a terminating namespace', () => expect(planRootCa(terminating, undefined, CA)).toBeUndefined());
});
