// leaderelection.test: the elector against an in-memory Lease with optimistic concurrency — races resolve to one leader, MicroTime format, option checks.
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { errors } from '../api/errors.ts';
import type { KubeObject } from '../api/types.ts';
import type { ApiClient } from './interface.ts';
import { LeaderElector, microTime } from './leaderelection.ts';

const log = pino({ level: 'silent' });
const gr = { group: 'coordination.k8s.io', resource: 'leases' };

/** leaseStore is one Lease behind get/create/update with resourceVersion checks (409 on a stale write). */
function leaseStore() {
  let cur: KubeObject | undefined;
  let rv = 0;
  const client = {
    async getOrUndefined() {
      await new Promise((r) => setImmediate(r));
      return cur && structuredClone(cur);
    },
    async create(_i: unknown, _ns: string, obj: KubeObject) {
      await new Promise((r) => setImmediate(r));
      if (cur) throw errors.alreadyExists(gr, obj.metadata.name!);
      cur = { ...structuredClone(obj), metadata: { ...obj.metadata, resourceVersion: String(++rv) } };
      return structuredClone(cur);
    },
    async update(_i: unknown, obj: KubeObject) {
      await new Promise((r) => setImmediate(r));
      if (!cur || obj.metadata.resourceVersion !== cur.metadata.resourceVersion) throw errors.conflict(gr, obj.metadata.name!, 'the object has been modified');
      cur = { ...structuredClone(obj), metadata: { ...obj.metadata, resourceVersion: String(++rv) } };
      return structuredClone(cur);
    },
  } as unknown as ApiClient;
  return { client, lease: () => cur };
}

const electors: LeaderElector[] = [];
afterEach(async () => {
  await Promise.all(electors.splice(0).map((e) => e.stop({ release: false })));
});

function elector(client: ApiClient, identity: string): LeaderElector {
  const e = new LeaderElector({ client, name: 'l', namespace: 'kube-system', identity, leaseDurationSeconds: 2, renewDeadlineMs: 1000, retryPeriodMs: 100, log });
  electors.push(e);
  void e.run();
  return e;
}

describe('LeaderElector', () => {
  it('microTime renders six fraction digits', () => {
    expect(microTime(new Date(Date.UTC(2006, 0, 2, 15, 4, 5, 7)))).toBe('2006-01-02T15:04:05.007000Z');
  });

  it('rejects timings upstream rejects', () => {
    expect(() => new LeaderElector({ client: {} as ApiClient, name: 'l', namespace: 'n', identity: 'i', leaseDurationSeconds: 1, renewDeadlineMs: 1000, retryPeriodMs: 100, log })).toThrow(/leaseDuration/);
    expect(() => new LeaderElector({ client: {} as ApiClient, name: 'l', namespace: 'n', identity: 'i', leaseDurationSeconds: 15, renewDeadlineMs: 1000, retryPeriodMs: 900, log })).toThrow(/renewDeadline/);
  });

  it('racing candidates end with exactly one leader (conflicts mean another won)', async () => {
    const s = leaseStore();
    const es = ['a', 'b', 'c', 'd'].map((id) => elector(s.client, id));
    const t0 = Date.now();
    while (!es.some((e) => e.isLeader()) && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 10));
    for (let i = 0; i < 10; i++) {
      expect(es.filter((e) => e.isLeader()).length).toBe(1);
      await new Promise((r) => setTimeout(r, 50));
    }
    const leader = es.find((e) => e.isLeader())!;
    expect(s.lease()?.spec.holderIdentity).toBe(leader.identity);
    expect(es.every((e) => e.leader() === leader.identity)).toBe(true);
  });
});
