// leaderelection: two (then three) electors on one real server's Lease — one leads, a released lease passes at once, an abandoned one after its duration.
import pino from 'pino';
import type { Lease, LeaseSpec } from 'kubernetes-types/coordination/v1.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupKind } from '../../pkg/api/resources.ts';
import { Client } from '../../pkg/client/client.ts';
import { LeaderElector } from '../../pkg/client/leaderelection.ts';
import { startServer, type RunningServer } from '../helpers/server.ts';

const leaseInfo = lookupKind('coordination.k8s.io/v1', 'Lease')!;
const log = pino({ level: 'silent' });
const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
const LEASE = 'test-election';

let srv: RunningServer;
let client: Client;
const electors: LeaderElector[] = [];
const clients: Client[] = [];

beforeAll(async () => {
  srv = await startServer();
  client = new Client({ server: srv.url, token: srv.token, caPem: srv.caPem });
});

afterAll(async () => {
  await Promise.all(electors.map((e) => e.stop({ release: false })));
  await Promise.all([client, ...clients].map((c) => c?.close()));
  await srv?.cleanup();
});

interface Candidate {
  elector: LeaderElector;
  started: number;
  stopped: number;
}

function candidate(identity: string): Candidate {
  const c: Candidate = { elector: undefined as unknown as LeaderElector, started: 0, stopped: 0 };
  const own = new Client({ server: srv.url, token: srv.token, caPem: srv.caPem });
  clients.push(own);
  c.elector = new LeaderElector({
    client: own,
    name: LEASE,
    namespace: 'kube-system',
    identity,
    leaseDurationSeconds: 3,
    renewDeadlineMs: 2000,
    retryPeriodMs: 300,
    onStartedLeading: () => c.started++,
    onStoppedLeading: () => c.stopped++,
    log,
  });
  electors.push(c.elector);
  void c.elector.run();
  return c;
}

async function until(cond: () => boolean, ms: number): Promise<number> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - t0;
}

async function lease(): Promise<Lease & { spec: LeaseSpec }> {
  return (await client.get(leaseInfo, 'kube-system', LEASE)) as unknown as Lease & { spec: LeaseSpec };
}

describe('leader election over a Lease', () => {
  it('elects exactly one, hands over at once on stop, and after the lease duration when the leader dies', async () => {
    const a = candidate('master-a');
    const b = candidate('master-b');
    await until(() => a.elector.isLeader() || b.elector.isLeader(), 10_000);
    // stays exactly one across several renewals
    for (let i = 0; i < 10; i++) {
      expect(Number(a.elector.isLeader()) + Number(b.elector.isLeader())).toBe(1);
      await new Promise((r) => setTimeout(r, 150));
    }
    const [leader, other] = a.elector.isLeader() ? [a, b] : [b, a];
    let l = await lease();
    expect(l.spec.holderIdentity).toBe(leader.elector.identity);
    expect(l.spec.leaseDurationSeconds).toBe(3);
    expect(l.spec.acquireTime).toMatch(MICRO_TIME);
    expect(l.spec.renewTime).toMatch(MICRO_TIME);
    expect(l.spec.leaseTransitions).toBe(0);
    expect(leader.started).toBe(1);
    expect(other.started).toBe(0);
    // renewals move renewTime, not acquireTime
    const acquired = l.spec.acquireTime;
    await new Promise((r) => setTimeout(r, 700));
    l = await lease();
    expect(l.spec.acquireTime).toBe(acquired);
    expect(l.spec.renewTime! > acquired!).toBe(true);

    // graceful stop releases: the other leads well before the 3 s lease would have expired
    const t0 = Date.now();
    await leader.elector.stop();
    expect(leader.stopped).toBe(1);
    await until(() => other.elector.isLeader(), 5_000);
    expect(Date.now() - t0).toBeLessThan(2_500);
    l = await lease();
    expect(l.spec.holderIdentity).toBe(other.elector.identity);
    expect(l.spec.leaseTransitions).toBe(1);

    // a leader that stops renewing without releasing (a crash) is replaced once the lease duration passed
    const c = candidate('master-c');
    await new Promise((r) => setTimeout(r, 1000));
    expect(c.elector.isLeader()).toBe(false);
    const t1 = Date.now();
    await other.elector.stop({ release: false });
    await until(() => c.elector.isLeader(), 15_000);
    const took = Date.now() - t1;
    expect(took).toBeGreaterThanOrEqual(1_500); // waited for the lease to expire…
    expect(took).toBeLessThan(10_000); // …but not much longer
    l = await lease();
    expect(l.spec.holderIdentity).toBe('master-c');
    expect(l.spec.leaseTransitions).toBe(2);
    await c.elector.stop();
    l = await lease();
    expect(l.spec.holderIdentity).toBe('');
    expect(l.spec.leaseDurationSeconds).toBe(1);
  }, 60_000);
});
