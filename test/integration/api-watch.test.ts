// api-watch: watch semantics over raw HTTPS — replay from a resourceVersion, selector transitions, bookmarks, timeouts, 410 Expired.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { apiClient, type ApiClient } from '../helpers/api.ts';

let srv: RunningServer;
let api: ApiClient;
const NS = 'watch';
const cms = `/api/v1/namespaces/${NS}/configmaps`;

beforeAll(async () => {
  // one second of history (store and watch cache), so the 410 test below sees compaction soon
  srv = await startServer({ args: ['--disable-agent', '--etcd-compaction-interval', '1s'] });
  api = apiClient(srv);
  expect((await api.req('POST', '/api/v1/namespaces', { metadata: { name: NS } })).status).toBe(201);
});

afterAll(async () => {
  await api?.close();
  await srv?.cleanup();
});

const cm = (name: string, labels: Record<string, string> = {}, data: Record<string, string> = {}) => ({ metadata: { name, labels }, data });
const names = (evs: { type: string; object: any }[]) => evs.map((e) => `${e.type} ${e.object.metadata?.name ?? ''}`);

async function create(name: string, labels: Record<string, string> = {}): Promise<any> {
  const r = await api.req('POST', cms, cm(name, labels));
  expect(r.status, r.text).toBe(201);
  return r.body;
}

async function merge(name: string, patch: unknown): Promise<any> {
  const r = await api.req('PATCH', `${cms}/${name}`, patch, { 'content-type': 'application/merge-patch+json' });
  expect(r.status, r.text).toBe(200);
  return r.body;
}

async function del(name: string): Promise<any> {
  const r = await api.req('DELETE', `${cms}/${name}`);
  expect(r.status, r.text).toBe(200);
  return r.body;
}

async function currentRv(): Promise<string> {
  return (await api.req('GET', `${cms}?limit=1`)).body.metadata.resourceVersion;
}

describe('watch', () => {
  it('replays exactly the changes after a resourceVersion, in order', async () => {
    const a = await create('replay-a');
    const from = a.metadata.resourceVersion;
    await create('replay-b');
    await merge('replay-a', { data: { x: '1' } });
    await del('replay-b');
    const w = await api.watch(`${cms}?watch=true&resourceVersion=${from}`);
    expect(w.status).toBe(200);
    const evs = await w.waitFor(3);
    expect(names(evs)).toEqual(['ADDED replay-b', 'MODIFIED replay-a', 'DELETED replay-b']);
    const rvs = evs.map((e) => Number(e.object.metadata.resourceVersion));
    expect(rvs[0]).toBeGreaterThan(Number(from));
    expect([...rvs].sort((x, y) => x - y)).toEqual(rvs);
    expect(evs[1].object.data).toEqual({ x: '1' });
    // then live events keep coming on the same stream
    await merge('replay-a', { data: { x: '2' } });
    expect(names(await w.waitFor(4)).at(-1)).toBe('MODIFIED replay-a');
    await new Promise((r) => setTimeout(r, 200));
    expect(w.events).toHaveLength(4);
    w.close();
    await del('replay-a');
  });

  it('turns label selector transitions into ADDED and DELETED, as upstream', async () => {
    const from = await currentRv();
    const w = await api.watch(`${cms}?watch=true&resourceVersion=${from}&labelSelector=${encodeURIComponent('sel=yes')}`);
    await create('trans');
    await merge('trans', { metadata: { labels: { sel: 'yes' } } });
    await merge('trans', { data: { v: '1' } });
    await merge('trans', { metadata: { labels: { sel: 'no' } } });
    await merge('trans', { data: { v: '2' } });
    await merge('trans', { metadata: { labels: { sel: 'yes' } } });
    await del('trans');
    const evs = await w.waitFor(5);
    expect(names(evs)).toEqual(['ADDED trans', 'MODIFIED trans', 'DELETED trans', 'ADDED trans', 'DELETED trans']);
    // the DELETED for the selector change carries the object's new state (no longer matching)
    expect(evs[2].object.metadata.labels.sel).toBe('no');
    await new Promise((r) => setTimeout(r, 200));
    expect(w.events).toHaveLength(5);
    w.close();
  });

  it('filters with fieldSelector metadata.name', async () => {
    const from = await currentRv();
    const w = await api.watch(`${cms}?watch=true&resourceVersion=${from}&fieldSelector=${encodeURIComponent('metadata.name=only')}`);
    await create('other');
    await create('only');
    await merge('other', { data: { a: 'b' } });
    await merge('only', { data: { a: 'b' } });
    await del('only');
    const evs = await w.waitFor(3);
    expect(names(evs)).toEqual(['ADDED only', 'MODIFIED only', 'DELETED only']);
    w.close();
    await del('other');
  });

  it('starts with the current state as ADDED events for resourceVersion=0 (and none given)', async () => {
    await create('init-1', { init: 'y' });
    await create('init-2', { init: 'y' });
    for (const rv of ['&resourceVersion=0', '']) {
      const w = await api.watch(`${cms}?watch=true${rv}&labelSelector=init%3Dy`);
      const evs = await w.waitFor(2);
      expect(names(evs).sort()).toEqual(['ADDED init-1', 'ADDED init-2']);
      w.close();
    }
    const w = await api.watch(`${cms}?watch=true&resourceVersion=0&labelSelector=init%3Dy`);
    await w.waitFor(2);
    await merge('init-1', { data: { k: 'v' } });
    expect(names(await w.waitFor(3))[2]).toBe('MODIFIED init-1');
    w.close();
  });

  it('sends a bookmark before timeoutSeconds ends the stream, and the stream ends on time', async () => {
    const from = await currentRv();
    const started = Date.now();
    const w = await api.watch(`${cms}?watch=true&resourceVersion=${from}&allowWatchBookmarks=true&timeoutSeconds=3`);
    const c = await create('bm');
    await w.ended;
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(2500);
    expect(took).toBeLessThan(6000);
    const types = w.events.map((e) => e.type);
    expect(types[0]).toBe('ADDED');
    const bm = w.events.find((e) => e.type === 'BOOKMARK');
    expect(bm, JSON.stringify(types)).toBeDefined();
    expect(bm!.object).toMatchObject({ kind: 'ConfigMap', apiVersion: 'v1' });
    expect(Number(bm!.object.metadata.resourceVersion)).toBeGreaterThanOrEqual(Number(c.metadata.resourceVersion));

    // without allowWatchBookmarks no bookmark is sent
    const w2 = await api.watch(`${cms}?watch=true&resourceVersion=${from}&timeoutSeconds=3`);
    await w2.ended;
    expect(w2.events.map((e) => e.type)).toEqual(['ADDED']);
  });

  it('informer style: list with RV, then watch with bookmarks and timeout, then resume from the last RV', async () => {
    const list = await api.req('GET', `${cms}?fieldSelector=metadata.name%3Dinf&limit=500&resourceVersion=0`);
    expect(list.status).toBe(200);
    expect(list.body.kind).toBe('ConfigMapList');
    expect(list.body.items).toEqual([]);
    const rv = list.body.metadata.resourceVersion;
    const w = await api.watch(`${cms}?allowWatchBookmarks=true&fieldSelector=metadata.name%3Dinf&resourceVersion=${rv}&timeoutSeconds=3&watch=true`);
    await create('inf');
    await merge('inf', { data: { a: '1' } });
    await w.ended;
    const evs = w.events.filter((e) => e.type !== 'BOOKMARK');
    expect(names(evs)).toEqual(['ADDED inf', 'MODIFIED inf']);
    const last = w.events.at(-1)!.object.metadata.resourceVersion;
    // a change while no watch is open is delivered when the informer re-watches from the last RV it saw
    await merge('inf', { data: { a: '2' } });
    const w2 = await api.watch(`${cms}?allowWatchBookmarks=true&fieldSelector=metadata.name%3Dinf&resourceVersion=${last}&timeoutSeconds=5&watch=true`);
    const evs2 = await w2.waitFor(1);
    expect(evs2[0].type).toBe('MODIFIED');
    expect(evs2[0].object.data).toEqual({ a: '2' });
    w2.close();
  });

  it('answers watch 410 Expired (ERROR event) for a resourceVersion older than the compacted history', async () => {
    const old = await currentRv();
    // History is kept 1 s here and the store compacts every 5000 writes: write enough to trigger it.
    expect((await api.req('POST', '/api/v1/namespaces', { metadata: { name: 'bulk' } })).status).toBe(201);
    let next = 0;
    const total = 5200;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (;;) {
          const i = next++;
          if (i >= total) return;
          const r = await api.req('POST', '/api/v1/namespaces/bulk/configmaps', { metadata: { name: `c${i}` } });
          if (r.status !== 201) throw new Error(r.text);
        }
      }),
    );
    let w;
    const end = Date.now() + 20_000;
    for (;;) {
      w = await api.watch(`${cms}?watch=true&resourceVersion=${old}`);
      await Promise.race([w.ended, new Promise((r) => setTimeout(r, 500))]);
      if (w.events[0]?.type === 'ERROR') break;
      w.close();
      if (Date.now() > end) throw new Error('compaction did not happen');
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(w.status).toBe(200);
    expect(w.events).toHaveLength(1);
    expect(w.events[0].object).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410 });
    expect(w.events[0].object.message).toMatch(new RegExp(`^too old resource version: ${old} \\(\\d+\\)$`));
    await w.ended;
    // a recent resourceVersion still works
    const rv = await currentRv();
    const ok = await api.watch(`${cms}?watch=true&resourceVersion=${rv}`);
    await create('after-compaction');
    expect(names(await ok.waitFor(1))).toEqual(['ADDED after-compaction']);
    ok.close();
  }, 60_000);
});
