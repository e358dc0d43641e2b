// eventttl.test: Events expire --event-ttl after their last activity; the API server's sweep deletes them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupKind } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';
import { createCa, issueCert } from '../pki/certs.ts';
import { openTempStore, type TempStore } from '../store/testing.ts';
import type { Store } from '../store/types.ts';
import { silentLogger } from '../util/log.ts';
import { createApiServer, type ApiServer } from './index.ts';

const EV = lookupKind('v1', 'Event')!;
const TTL_MS = 1500;
let tmp: TempStore;
let store: Store;
let api: ApiServer;

const iso = (msAgo: number) => new Date(Date.now() - msAgo).toISOString();
const event = (name: string, extra: Record<string, unknown>): KubeObject => ({
  metadata: { name },
  involvedObject: { kind: 'Pod', name: 'p', namespace: 'default' },
  reason: 'Test',
  message: name,
  type: 'Normal',
  source: { component: 'test' },
  count: 1,
  ...extra,
});
const names = async () => (await api.registry.list(EV, 'default', {})).items.map((e) => e.metadata.name).sort();

beforeAll(async () => {
  tmp = openTempStore('evttl');
  store = tmp.store;
  const ca = await createCa('test-ca', 1);
  const serving = await issueCert(ca, { cn: 'kubeling', sans: { dns: ['localhost'], ips: ['127.0.0.1'] }, days: 1, server: true });
  api = await createApiServer({ store, logger: silentLogger(), tls: { certPem: serving.certPem, keyPem: serving.keyPem, caCertPem: ca.certPem }, tokens: new Map(), eventTtlMs: TTL_MS });
});

afterAll(async () => {
  await api?.close();
  await tmp?.close();
});

describe('event TTL', () => {
  it('sweepExpiredEvents judges by the newest of creationTimestamp, lastTimestamp, eventTime and series', async () => {
    const r = api.registry;
    const min = 60_000;
    await r.create(EV, 'default', event('old-last', { firstTimestamp: iso(120 * min), lastTimestamp: iso(120 * min) }), {});
    await r.create(EV, 'default', event('later-last', { firstTimestamp: iso(0), lastTimestamp: iso(-30 * min) }), {});
    await r.create(EV, 'default', event('series', { eventTime: iso(0), series: { count: 2, lastObservedTime: iso(-45 * min) }, reportingComponent: 'x', reportingInstance: 'y', action: 'A' }), {});
    // just made: an old lastTimestamp alone does not expire an event (upstream's TTL counts from the last write)
    expect(await r.sweepExpiredEvents(60 * min)).toBe(0);
    expect(await r.sweepExpiredEvents(60 * min, Date.now() + 61 * min)).toBe(1);
    expect(await names()).toEqual(['later-last', 'series']);
    expect(await r.sweepExpiredEvents(60 * min, Date.now() + 91 * min)).toBe(1);
    expect(await names()).toEqual(['series']);
    expect(await r.sweepExpiredEvents(60 * min, Date.now() + 106 * min)).toBe(1);
    expect(await names()).toEqual([]);
  });

  it('the server sweeps on its own once an event is older than the TTL', async () => {
    await api.registry.create(EV, 'default', event('fresh', { firstTimestamp: iso(0), lastTimestamp: iso(0) }), {});
    expect(await names()).toEqual(['fresh']);
    const deadline = Date.now() + 10_000;
    while ((await names()).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await names()).toEqual([]);
  });
});
