// sqlite.test: the SQLite store's behaviour through its public API — CRUD, batching, list, watch, compaction, reopen.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '../api/errors.ts';
import type { KubeObject } from '../api/types.ts';
import { openSqliteStore, StoreError, type Store, type StoreEvent } from './index.ts';

let dir: string;
let stores: Store[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kubeling-store-'));
});
afterEach(async () => {
  for (const s of stores) await s.close();
  stores = [];
  rmSync(dir, { recursive: true, force: true });
});

function open(opts: Parameters<typeof openSqliteStore>[1] = {}, file = 'state.db'): Store {
  const s = openSqliteStore(join(dir, file), { compactIntervalMs: 0, ...opts });
  stores.push(s);
  return s;
}

function pod(name: string, namespace = 'default', labels?: Record<string, string>, extra: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, ...(labels ? { labels } : {}) }, spec: { containers: [{ name: 'c', image: 'nginx' }] }, ...extra };
}

/** delivered waits until what has been committed so far reached the watchers: delivery follows the commit, asynchronously. */
const delivered = () => new Promise<void>((r) => setImmediate(r));

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(StoreError);
    return (err as StoreError).code;
  }
  return 'ok';
}

describe('CRUD and preconditions', () => {
  it('creates, gets, updates and deletes with resourceVersion = revision', async () => {
    const s = open();
    expect(s.revision()).toBe(0);
    const created = await s.create('pods', pod('a'));
    expect(created.metadata.resourceVersion).toBe('1');
    expect(s.revision()).toBe(1);
    expect(await s.get('pods', 'default', 'a')).toEqual(created);
    expect(await s.get('pods', 'other', 'a')).toBeUndefined();
    expect(await s.get('services', 'default', 'a')).toBeUndefined();

    const updated = await s.update('pods', { ...created, spec: { containers: [] } }, 1);
    expect(updated.metadata.resourceVersion).toBe('2');
    expect((await s.get('pods', 'default', 'a'))?.spec).toEqual({ containers: [] });

    const gone = await s.delete('pods', 'default', 'a', 2);
    expect(gone.metadata.resourceVersion).toBe('3');
    expect(gone.spec).toEqual({ containers: [] });
    expect(await s.get('pods', 'default', 'a')).toBeUndefined();
    // the name is free again
    expect((await s.create('pods', pod('a'))).metadata.resourceVersion).toBe('4');
  });

  it('cluster-scoped objects live under namespace ""', async () => {
    const s = open();
    await s.create('nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } });
    expect((await s.get('nodes', '', 'n1'))?.metadata.name).toBe('n1');
    expect((await s.delete('nodes', '', 'n1')).metadata.resourceVersion).toBe('2');
  });

  it('rejects with AlreadyExists, NotFound and Conflict', async () => {
    const s = open();
    await s.create('pods', pod('a'));
    expect(await codeOf(s.create('pods', pod('a')))).toBe('AlreadyExists');
    expect(await codeOf(s.update('pods', pod('missing')))).toBe('NotFound');
    expect(await codeOf(s.delete('pods', 'default', 'missing'))).toBe('NotFound');
    expect(await codeOf(s.update('pods', pod('a'), 7))).toBe('Conflict');
    expect(await codeOf(s.delete('pods', 'default', 'a', 7))).toBe('Conflict');
    expect(await codeOf(s.update('pods', pod('a'), 1))).toBe('ok');
    expect(s.revision()).toBe(2); // failed writes use no revision
  });

  it('copies objects in and out', async () => {
    const s = open();
    const input = pod('a', 'default', { app: 'x' });
    const p = s.create('pods', input);
    input.metadata.labels = { app: 'changed' }; // before the batch applies
    const out = await p;
    expect(out.metadata.labels).toEqual({ app: 'x' });
    out.metadata.labels!.app = 'mutated';
    expect((await s.get('pods', 'default', 'a'))?.metadata.labels).toEqual({ app: 'x' });
    expect(input.metadata.resourceVersion).toBeUndefined();
  });

  it('rejects an object without a name', async () => {
    const s = open();
    await expect(s.create('pods', { metadata: {} })).rejects.toThrow(/metadata.name/);
  });
});

describe('write batching', () => {
  it('many concurrent creates resolve with distinct increasing revisions', async () => {
    const s = open();
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) => s.create('pods', pod(`p${i}`))));
    const revs = results.map((r) => Number(r.metadata.resourceVersion));
    expect(revs).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(s.revision()).toBe(500);
  });

  it('a failing write in a batch fails alone; later writes see earlier ones of the same batch', async () => {
    const s = open();
    const ops = [
      s.create('pods', pod('a')),
      s.create('pods', pod('a')), // AlreadyExists: sees the create just before it
      s.update('pods', pod('a', 'default', { v: '2' }), 1), // sees a's revision 1 from this batch
      s.update('pods', pod('b'), 1), // NotFound
      s.create('pods', pod('b')),
      s.delete('pods', 'default', 'a', 99), // Conflict
    ];
    const settled = await Promise.allSettled(ops);
    expect(settled.map((r) => (r.status === 'fulfilled' ? r.value.metadata.resourceVersion : (r.reason as StoreError).code))).toEqual([
      '1',
      'AlreadyExists',
      '2',
      'NotFound',
      '3',
      'Conflict',
    ]);
    expect((await s.get('pods', 'default', 'a'))?.metadata.labels).toEqual({ v: '2' });
    expect(s.revision()).toBe(3);
  });

  it('resolves only after commit: the write is visible to another connection', async () => {
    const s = open();
    await s.create('pods', pod('a'));
    const other = new Database(join(dir, 'state.db'), { readonly: true });
    try {
      expect(other.prepare(`SELECT count(*) FROM current WHERE name = 'a'`).pluck().get()).toBe(1);
      expect(other.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      other.close();
    }
  });
});

describe('writer thread', () => {
  it('a failing commit rejects its batch with the SQLite error; nothing of it is stored or watched, and the store goes on', async () => {
    const s = open();
    await s.create('pods', pod('a'));
    const db = new Database(join(dir, 'state.db'));
    db.exec(`CREATE TRIGGER full BEFORE INSERT ON log WHEN NEW.name = 'boom' BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`);
    db.close();
    const seen: number[] = [];
    s.watch('pods', {}, (ev) => seen.push(ev.revision));
    const batch = await Promise.allSettled([s.create('pods', pod('b')), s.create('pods', pod('boom')), s.update('pods', pod('a', 'default', { v: '2' }))]);
    for (const r of batch) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(Database.SqliteError);
      expect((r as PromiseRejectedResult).reason.message).toBe('database or disk is full');
    }
    expect(s.revision()).toBe(1);
    expect(await s.get('pods', 'default', 'b')).toBeUndefined();
    const b = await s.create('pods', pod('b'));
    expect(b.metadata.resourceVersion).toBe('2');
    await delivered();
    expect(seen).toEqual([2]);
  });

  it('old values come back for watchers that read prev, also one that started while the batch was out', async () => {
    const s = open();
    await s.create('pods', pod('a', 'default', { v: '1' }));
    await s.create('services', pod('s', 'default', { v: '1' }));
    const noPrev: StoreEvent[] = [];
    s.watch('pods', { prev: false }, (ev) => noPrev.push(ev));
    await s.update('pods', pod('a', 'default', { v: '2' }));
    await delivered();
    // nobody reads prev of pods: the old value stayed in the file
    expect(noPrev.map((e) => [e.type, e.prev])).toEqual([['MODIFIED', undefined]]);
    // a watcher that reads prev starts after the update left for the writer, before it answered
    const update = s.update('services', pod('s', 'default', { v: '2' }));
    await new Promise((r) => setImmediate(r));
    const late: StoreEvent[] = [];
    s.watch('services', {}, (ev) => late.push(ev));
    await update;
    const gone = s.delete('pods', 'default', 'a');
    const withPrev: StoreEvent[] = [];
    s.watch('pods', {}, (ev) => withPrev.push(ev));
    await gone;
    await delivered();
    expect(late.map((e) => [e.type, e.prev?.metadata.labels])).toEqual([['MODIFIED', { v: '1' }]]);
    expect(withPrev.map((e) => [e.type, e.prev?.metadata.labels])).toEqual([['DELETED', { v: '2' }]]);
  });

  it('a read issued after a write resolved sees it, and a watch from before it replays it once', async () => {
    const s = open();
    for (let i = 0; i < 20; i++) {
      const w = await s.create('pods', pod(`p${i}`));
      expect((await s.getRaw!('pods', 'default', `p${i}`))?.revision).toBe(Number(w.metadata.resourceVersion));
      expect((await s.list('pods')).revision).toBe(i + 1);
    }
    const seen: number[] = [];
    s.watch('pods', { fromRevision: 10 }, (ev) => seen.push(ev.revision));
    await s.update('pods', pod('p0'));
    await delivered();
    expect(seen).toEqual(Array.from({ length: 11 }, (_, i) => 11 + i));
  });
});

describe('list', () => {
  async function seed(s: Store): Promise<void> {
    await Promise.all([
      s.create('pods', pod('b', 'ns2', { app: 'web' })),
      s.create('pods', pod('a', 'ns2')),
      s.create('pods', pod('z', 'ns1', { app: 'web', tier: 'fe' })),
      s.create('pods', pod('c', 'ns1', { app: 'db' })),
      s.create('pods', pod('b', 'ns1', { app: 'web' })),
      s.create('services', pod('a', 'ns1')),
    ]);
  }
  const keys = (items: string[]): string[] =>
    items.map((t) => {
      const o = JSON.parse(t) as KubeObject;
      return `${o.metadata.namespace}/${o.metadata.name}`;
    });

  it('orders by namespace then name and filters by namespace', async () => {
    const s = open();
    await seed(s);
    const all = await s.list('pods');
    expect(keys(all.items)).toEqual(['ns1/b', 'ns1/c', 'ns1/z', 'ns2/a', 'ns2/b']);
    expect(all.revision).toBe(6);
    expect(all.continue).toBeUndefined();
    expect((JSON.parse(all.items[0]) as KubeObject).metadata.resourceVersion).toBeDefined();
    expect(keys((await s.list('pods', { namespace: 'ns2' })).items)).toEqual(['ns2/a', 'ns2/b']);
    expect((await s.list('pods', { namespace: 'none' })).items).toEqual([]);
  });

  it('filters by labels', async () => {
    const s = open();
    await seed(s);
    const web = (l: Record<string, string>) => l.app === 'web';
    expect(keys((await s.list('pods', { labelFilter: web })).items)).toEqual(['ns1/b', 'ns1/z', 'ns2/b']);
    expect(keys((await s.list('pods', { labelFilter: (l) => Object.keys(l).length === 0 })).items)).toEqual(['ns2/a']);
    expect(keys((await s.list('pods', { labelFilter: web, namespace: 'ns1' })).items)).toEqual(['ns1/b', 'ns1/z']);
  });

  it('pages with limit and continue, counting what remains', async () => {
    const s = open();
    await seed(s);
    const p1 = await s.list('pods', { limit: 2 });
    expect(keys(p1.items)).toEqual(['ns1/b', 'ns1/c']);
    expect(p1.remaining).toBe(3);
    const p2 = await s.list('pods', { limit: 2, continue: p1.continue });
    expect(keys(p2.items)).toEqual(['ns1/z', 'ns2/a']);
    expect(p2.remaining).toBe(1);
    const p3 = await s.list('pods', { limit: 2, continue: p2.continue });
    expect(keys(p3.items)).toEqual(['ns2/b']);
    expect(p3.continue).toBeUndefined();
    expect(p3.remaining).toBeUndefined();
    // exactly the limit with nothing after: no token
    expect((await s.list('pods', { limit: 5 })).continue).toBeUndefined();
  });

  it('pages with a label filter', async () => {
    const s = open();
    await seed(s);
    const web = (l: Record<string, string>) => l.app === 'web';
    const p1 = await s.list('pods', { limit: 2, labelFilter: web });
    expect(keys(p1.items)).toEqual(['ns1/b', 'ns1/z']);
    expect(p1.remaining).toBe(1);
    const p2 = await s.list('pods', { limit: 2, labelFilter: web, continue: p1.continue });
    expect(keys(p2.items)).toEqual(['ns2/b']);
    expect(p2.continue).toBeUndefined();
  });

  it('every page of a paginated list shows the first page\'s revision', async () => {
    const s = open();
    await seed(s);
    const p1 = await s.list('pods', { limit: 2 });
    expect(keys(p1.items)).toEqual(['ns1/b', 'ns1/c']);
    // after the first page: one deleted, one added, one changed, one added behind the cursor
    await s.delete('pods', 'ns1', 'z');
    await s.create('pods', pod('y', 'ns2'));
    await s.update('pods', pod('a', 'ns2', { app: 'db' }));
    await s.create('pods', pod('a', 'ns1'));
    const p2 = await s.list('pods', { limit: 2, continue: p1.continue });
    expect(p2.revision).toBe(p1.revision);
    expect(keys(p2.items)).toEqual(['ns1/z', 'ns2/a']);
    expect(JSON.parse(p2.items[1]).metadata.labels).toBeUndefined(); // as it was, not as changed since
    expect(p2.remaining).toBe(1);
    const p3 = await s.list('pods', { limit: 2, continue: p2.continue });
    expect(keys(p3.items)).toEqual(['ns2/b']);
    expect(p3.continue).toBeUndefined();
    // a label filter sees the labels of the past too
    const db = (l: Record<string, string>) => l.app === 'db';
    expect(keys((await s.list('pods', { labelFilter: db, revision: p1.revision })).items)).toEqual(['ns1/c']);
    expect(keys((await s.list('pods', { labelFilter: db })).items)).toEqual(['ns1/c', 'ns2/a']);
  });

  it('lists at an exact old revision; Expired once compacted, TooLarge beyond the newest', async () => {
    const s = open();
    const a = await s.create('pods', pod('a'));
    const b = await s.create('pods', pod('b'));
    await s.update('pods', { ...a, spec: { v: 2 } });
    await s.delete('pods', 'default', 'b');
    await s.create('pods', pod('b', 'default', { again: 'y' }));
    const at = async (revision: number) => (await s.list('pods', { revision })).items.map((i) => JSON.parse(i) as KubeObject);
    expect(await at(1)).toEqual([a]);
    expect(await at(2)).toEqual([a, b]);
    expect((await at(3)).map((o) => [o.metadata.name, o.metadata.resourceVersion])).toEqual([['a', '3'], ['b', '2']]);
    expect((await at(4)).map((o) => o.metadata.name)).toEqual(['a']);
    expect((await at(5)).map((o) => o.metadata.labels)).toEqual([undefined, { again: 'y' }]);
    expect((await s.list('pods', { revision: 2, limit: 1 })).remaining).toBe(1);
    expect(await codeOf(s.list('pods', { revision: 6 }))).toBe('TooLarge');
    const p1 = await s.list('pods', { revision: 3, limit: 1 });
    await s.compact(3);
    expect(await at(3)).toHaveLength(2); // the compacted revision itself is still readable
    await s.compact(4);
    expect(await codeOf(s.list('pods', { revision: 3 }))).toBe('Expired');
    // a continue token that outlived compaction
    expect(await codeOf(s.list('pods', { limit: 1, continue: p1.continue }))).toBe('Expired');
  });

  it('rejects a foreign or garbled continue token with 400', async () => {
    const s = open();
    await seed(s);
    const p1 = await s.list('pods', { limit: 1 });
    for (const bad of ['garbage!!', p1.continue!]) {
      try {
        await s.list(bad === 'garbage!!' ? 'pods' : 'services', { continue: bad });
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(ApiError);
        expect((err as ApiError).code).toBe(400);
      }
    }
  });

  it('lists 10,000 pods well under 300 ms', async () => {
    const s = open();
    const big = (i: number) =>
      pod(`pod-${String(i).padStart(5, '0')}`, `ns${i % 10}`, { app: `app${i % 7}`, 'pod-template-hash': 'abcdef1234' }, {
        status: { phase: 'Running', podIP: '10.0.0.1', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date().toISOString() }] },
        spec: { nodeName: 'node-1', containers: [{ name: 'c', image: 'nginx:1.27', ports: [{ containerPort: 80 }], resources: { requests: { cpu: '100m' } } }] },
      });
    await Promise.all(Array.from({ length: 10_000 }, (_, i) => s.create('pods', big(i))));
    await s.list('pods'); // warm the statement cache
    const t0 = performance.now();
    const all = await s.list('pods');
    const body = `{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"${all.revision}"},"items":[${all.items.join(',')}]}`;
    const ms = performance.now() - t0;
    const t1 = performance.now();
    const filtered = await s.list('pods', { labelFilter: (l) => l.app === 'app3' });
    const msFiltered = performance.now() - t1;
    console.log(`list 10,000 pods: ${ms.toFixed(1)} ms (${(body.length / 1e6).toFixed(1)} MB of JSON); label-filtered (${filtered.items.length} hits): ${msFiltered.toFixed(1)} ms`);
    expect(all.items).toHaveLength(10_000);
    expect(filtered.items).toHaveLength(1429);
    expect(ms).toBeLessThan(300);
  });
});

describe('watch', () => {
  it('delivers ADDED, MODIFIED and DELETED with prev, filtered by namespace', async () => {
    const s = open();
    const all: StoreEvent[] = [];
    const ns1: StoreEvent[] = [];
    s.watch('pods', {}, (ev) => all.push(ev));
    s.watch('pods', { namespace: 'ns1' }, (ev) => ns1.push(ev));
    const a = await s.create('pods', pod('a', 'ns1'));
    await s.create('pods', pod('b', 'ns2'));
    await s.create('services', pod('a', 'ns1'));
    const a2 = await s.update('pods', { ...a, spec: { v: 2 } });
    const gone = await s.delete('pods', 'ns1', 'a');
    expect(all.length).toBeLessThan(4); // the delete's event is not delivered yet: delivery is asynchronous
    await delivered();
    expect(all.map((e) => `${e.type} ${e.object.metadata.name} ${e.revision}`)).toEqual(['ADDED a 1', 'ADDED b 2', 'MODIFIED a 4', 'DELETED a 5']);
    expect(ns1.map((e) => e.revision)).toEqual([1, 4, 5]);
    const [, , mod, del] = all;
    expect(mod.object).toEqual(a2);
    expect(mod.prev).toEqual(a);
    expect(all[0].prev).toBeUndefined();
    // DELETED carries the last state, stamped with the delete's revision; prev is the state before
    expect(del.object).toEqual(gone);
    expect(del.object.metadata.resourceVersion).toBe('5');
    expect(del.object.spec).toEqual({ v: 2 });
    expect(del.prev).toEqual(a2);
    expect(del.resource).toBe('pods');
  });

  it('replays from a revision, then goes live with no gap and no duplicate', async () => {
    const s = open();
    for (let i = 0; i < 50; i++) await s.create('pods', pod(`p${i}`));
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 100; i++) writes.push(s.update('pods', pod(`p${i % 50}`, 'default', { i: String(i) })));
    await writes[0]; // that batch committed: the replay has it
    for (let i = 100; i < 200; i++) writes.push(s.update('pods', pod(`p${i % 50}`, 'default', { i: String(i) })));
    // the watch starts while those writes are out on the writer (and the next ones queue behind them)
    await new Promise((r) => setImmediate(r));
    const seen: number[] = [];
    s.watch('pods', { fromRevision: 20 }, (ev) => seen.push(ev.revision));
    const replayed = seen.length;
    for (let i = 0; i < 200; i++) writes.push(s.update('pods', pod(`p${i % 50}`)));
    await Promise.all(writes);
    await delivered();
    expect(replayed).toBeGreaterThan(30);
    expect(seen).toEqual(Array.from({ length: 450 - 20 }, (_, i) => 21 + i));
  });

  it('a watch started from inside a callback does not see the current batch twice', async () => {
    const s = open();
    const inner: number[] = [];
    let started = false;
    s.watch('pods', {}, (ev) => {
      if (started) return;
      started = true;
      s.watch('pods', { fromRevision: ev.revision - 1 }, (e) => inner.push(e.revision));
    });
    await Promise.all([s.create('pods', pod('a')), s.create('pods', pod('b')), s.create('pods', pod('c'))]);
    await s.create('pods', pod('d'));
    await delivered();
    expect(inner).toEqual([1, 2, 3, 4]);
  });

  it('stop() unregisters and a throwing callback does not break other watchers', async () => {
    const s = open();
    const got: number[] = [];
    const stopped: number[] = [];
    s.watch('pods', {}, () => {
      throw new Error('boom');
    });
    s.watch('pods', {}, (ev) => got.push(ev.revision));
    const w = s.watch('pods', {}, (ev) => stopped.push(ev.revision));
    await s.create('pods', pod('a'));
    await delivered();
    w.stop();
    await s.create('pods', pod('b'));
    await delivered();
    expect(got).toEqual([1, 2]);
    expect(stopped).toEqual([1]);
  });

  it('delivers after the write resolved, and reports progress for other resources\' writes', async () => {
    const s = open();
    const seen: string[] = [];
    s.watch('pods', { onProgress: (rev) => seen.push(`progress ${rev}`) }, (ev) => seen.push(`${ev.type} ${ev.revision}`));
    const w = s.create('pods', pod('a'));
    await w;
    seen.push('resolved');
    await delivered();
    await s.create('services', pod('svc'));
    await delivered();
    expect(seen).toEqual(['resolved', 'ADDED 1', 'progress 1', 'progress 2']);
    // a replaying watch reports progress once it replayed everything
    const replay: string[] = [];
    s.watch('pods', { fromRevision: 0, onProgress: (rev) => replay.push(`progress ${rev}`) }, (ev) => replay.push(`${ev.type} ${ev.revision}`));
    expect(replay).toEqual(['ADDED 1', 'progress 2']);
  });

  it('a watch from a future revision waits for it', async () => {
    const s = open();
    const seen: number[] = [];
    s.watch('pods', { fromRevision: 2 }, (ev) => seen.push(ev.revision));
    for (const n of ['a', 'b', 'c', 'd']) await s.create('pods', pod(n));
    await delivered();
    expect(seen).toEqual([3, 4]);
  });
});

describe('compaction', () => {
  it('drops history at or below the target; older watches get Expired', async () => {
    const s = open({ keepRevisions: 10 });
    for (let i = 0; i < 30; i++) await s.create('pods', pod(`p${i}`));
    await s.compact();
    expect(s.compactedRevision()).toBe(20);
    expect(s.revision()).toBe(30);
    try {
      s.watch('pods', { fromRevision: 19 }, () => {});
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).code).toBe('Expired');
      expect((err as StoreError).oldest).toBe(20);
      expect((err as StoreError).message).toBe('too old resource version: 19 (20)');
    }
    const seen: number[] = [];
    s.watch('pods', { fromRevision: 20 }, (ev) => seen.push(ev.revision));
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => 21 + i));
    // current state is never compacted
    expect((await s.list('pods')).items).toHaveLength(30);
    await s.compact(25);
    expect(s.compactedRevision()).toBe(25);
    await s.compact(5); // never goes back
    expect(s.compactedRevision()).toBe(25);
    await s.compact(1000); // clamped to the current revision
    expect(s.compactedRevision()).toBe(30);
    expect((await s.create('pods', pod('next'))).metadata.resourceVersion).toBe('31');
  });

  it('keeps history by time: nothing younger than historyMs goes, older history does', async () => {
    const s = open({ historyMs: 300 });
    for (let i = 0; i < 10; i++) await s.create('pods', pod(`old${i}`));
    await s.compact();
    expect(s.compactedRevision()).toBe(0); // all of it younger than 300 ms
    await new Promise((r) => setTimeout(r, 1100)); // marks are per second of writes
    for (let i = 0; i < 5; i++) await s.create('pods', pod(`new${i}`));
    await s.compact();
    expect(s.compactedRevision()).toBe(10);
    // the default keeps five minutes
    const d = open({}, 'default.db');
    for (let i = 0; i < 20; i++) await d.create('pods', pod(`p${i}`));
    await d.compact();
    expect(d.compactedRevision()).toBe(0);
  });

  it('runs on its own after enough writes', async () => {
    const s = open({ keepRevisions: 100, compactEveryWrites: 500 });
    for (let i = 0; i < 10; i++) await Promise.all(Array.from({ length: 100 }, (_, j) => s.create('pods', pod(`p${i}-${j}`))));
    await s.compact(); // waits for a running one, then tops up
    expect(s.compactedRevision()).toBe(900);
  });

  it('runs on its own on a timer', async () => {
    const s = open({ keepRevisions: 5, compactIntervalMs: 20 });
    for (let i = 0; i < 20; i++) await s.create('pods', pod(`p${i}`));
    await expect.poll(() => s.compactedRevision(), { timeout: 2000 }).toBe(15);
  });
});

describe('restart', () => {
  it('reopening keeps objects, the revision and the compacted revision', async () => {
    const s1 = openSqliteStore(join(dir, 'state.db'), { compactIntervalMs: 0, keepRevisions: 3 });
    for (let i = 0; i < 10; i++) await s1.create('pods', pod(`p${i}`));
    await s1.delete('pods', 'default', 'p9');
    await s1.compact();
    const pending = s1.create('pods', pod('late'));
    await s1.close(); // flushes the pending write
    expect((await pending).metadata.resourceVersion).toBe('12');
    await expect(s1.create('pods', pod('closed'))).rejects.toThrow(/closed/);

    const s2 = open();
    expect(s2.revision()).toBe(12);
    expect(s2.compactedRevision()).toBe(8);
    expect((await s2.list('pods')).items).toHaveLength(10);
    expect(await s2.get('pods', 'default', 'p9')).toBeUndefined();
    await s2.compact(12); // the log is now empty; the revision must still grow
    await s2.close();
    stores = [];
    const s3 = open();
    expect(s3.revision()).toBe(12);
    expect((await s3.create('pods', pod('after'))).metadata.resourceVersion).toBe('13');
  });
});

describe('throughput (printed, not asserted)', () => {
  it('batched creates vs one commit per create vs a bare insert loop', async () => {
    const n = 2000;
    const s = open({}, 'batched.db');
    let t = performance.now();
    await Promise.all(Array.from({ length: n }, (_, i) => s.create('pods', pod(`p${i}`))));
    const batched = n / ((performance.now() - t) / 1000);

    const seq = open({}, 'sequential.db');
    const m = 300;
    t = performance.now();
    for (let i = 0; i < m; i++) await seq.create('pods', pod(`p${i}`));
    const sequential = m / ((performance.now() - t) / 1000);

    const db = new Database(join(dir, 'bare.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE kv (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, value TEXT)');
    const ins = db.prepare('INSERT INTO kv (name, value) VALUES (?, ?)');
    t = performance.now();
    for (let i = 0; i < m; i++) ins.run(`p${i}`, JSON.stringify(pod(`p${i}`)));
    const bare = m / ((performance.now() - t) / 1000);
    db.close();
    console.log(
      `store creates/s: batched ${Math.round(batched)}, one awaited create at a time ${Math.round(sequential)}; bare autocommit insert loop (synchronous=FULL) ${Math.round(bare)}`,
    );
  });
});
