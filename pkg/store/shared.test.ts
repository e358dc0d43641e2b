// shared.test: two stores on one SQLite file (two connections, and a second process) — each sees the other's commits
// in its watches exactly once and in order, revision() catches up, preconditions hold across them, compaction is safe.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../api/types.ts';
import { openSqliteStore, StoreError, type SqliteStoreOptions, type Store, type StoreEvent } from './index.ts';

let dir: string;
let stores: Store[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kubeling-shared-'));
});
afterEach(async () => {
  for (const s of stores) await s.close();
  stores = [];
  rmSync(dir, { recursive: true, force: true });
});

function open(opts: SqliteStoreOptions = {}): Store {
  const s = openSqliteStore(join(dir, 'state.db'), { compactIntervalMs: 0, ...opts });
  stores.push(s);
  return s;
}

function pod(name: string, labels?: Record<string, string>): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', ...(labels ? { labels } : {}) }, spec: { containers: [{ name: 'c', image: 'nginx' }] } };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(StoreError);
    return (err as StoreError).code;
  }
  return 'ok';
}

/** record collects what a watch delivers as `TYPE revision name`. */
function record(s: Store, resource: string, from?: number): string[] {
  const seen: string[] = [];
  s.watch(resource, { fromRevision: from }, (ev: StoreEvent) => seen.push(`${ev.type} ${ev.revision} ${ev.object.metadata.name}`));
  return seen;
}

const revisionsOf = (seen: string[]) => seen.map((l) => Number(l.split(' ')[1]));

describe('two stores on one file', () => {
  it("one store's writes reach the other's watch in order, with prev; revision() and list catch up", async () => {
    const a = open();
    const b = open();
    const seen: StoreEvent[] = [];
    b.watch('pods', {}, (ev) => seen.push(ev));
    await a.create('pods', pod('x'));
    await a.update('pods', pod('x', { v: '2' }));
    await a.create('services', pod('svc'));
    await a.delete('pods', 'default', 'x');
    expect(b.revision()).toBe(4); // revision() looks at once, without waiting for the poll
    await expect.poll(() => seen.length, { timeout: 2000 }).toBe(3);
    expect(seen.map((e) => `${e.type} ${e.revision}`)).toEqual(['ADDED 1', 'MODIFIED 2', 'DELETED 4']);
    expect(seen[1].prev?.metadata.labels).toBeUndefined();
    expect(seen[1].object.metadata.labels).toEqual({ v: '2' });
    expect(seen[2].prev?.metadata.labels).toEqual({ v: '2' });
    await a.create('pods', pod('y'));
    const l = await b.list('pods'); // a list reports the revision of exactly what it read
    expect(l.revision).toBe(5);
    expect(l.items.map((i) => (JSON.parse(i) as KubeObject).metadata.resourceVersion)).toEqual(['5']);
  });

  it('interleaved writes of both reach both watches exactly once, in revision order', async () => {
    const a = open();
    const b = open();
    const seenA = record(a, 'pods');
    const seenB = record(b, 'pods');
    const writes: Promise<KubeObject>[] = [];
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 10; i++) {
        writes.push(a.create('pods', pod(`a-${round}-${i}`)));
        writes.push(b.create('pods', pod(`b-${round}-${i}`)));
      }
      if (round % 3 === 0) await new Promise((r) => setTimeout(r, 5));
      else await new Promise((r) => setImmediate(r));
    }
    const done = await Promise.all(writes);
    const revs = done.map((o) => Number(o.metadata.resourceVersion)).sort((x, y) => x - y);
    expect(revs).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
    const all = Array.from({ length: 400 }, (_, i) => i + 1);
    await expect.poll(() => seenA.length, { timeout: 3000 }).toBe(400);
    await expect.poll(() => seenB.length, { timeout: 3000 }).toBe(400);
    expect(revisionsOf(seenA)).toEqual(all);
    expect(revisionsOf(seenB)).toEqual(all);
    expect(seenA).toEqual(seenB);
    expect(a.revision()).toBe(400);
    expect(b.revision()).toBe(400);
  });

  it('a watch from a revision replays the other store\'s writes, then goes live with no gap and no duplicate', async () => {
    const a = open();
    const b = open({ pollIntervalMs: 0 }); // no poll: only its own reads and writes make it look
    for (let i = 0; i < 10; i++) await a.create('pods', pod(`p${i}`));
    const seen = record(b, 'pods', 3);
    expect(revisionsOf(seen)).toEqual([4, 5, 6, 7, 8, 9, 10]);
    await a.create('pods', pod('p10'));
    await b.create('pods', pod('own')); // b's own commit finds a's first and delivers it before its own
    await new Promise((r) => setImmediate(r));
    expect(seen.slice(-2)).toEqual(['ADDED 11 p10', 'ADDED 12 own']);
    expect(revisionsOf(seen)).toEqual(Array.from({ length: 9 }, (_, i) => i + 4));
  });

  it('preconditions hold across stores: AlreadyExists, Conflict, NotFound', async () => {
    const a = open();
    const b = open();
    const [ca, cb] = await Promise.all([codeOf(a.create('pods', pod('x'))), codeOf(b.create('pods', pod('x')))]);
    expect([ca, cb].sort()).toEqual(['AlreadyExists', 'ok']);
    const x = (await a.get('pods', 'default', 'x'))!;
    const rv = Number(x.metadata.resourceVersion);
    await b.update('pods', pod('x', { by: 'b' }), rv);
    expect(await codeOf(a.update('pods', pod('x', { by: 'a' }), rv))).toBe('Conflict');
    expect((await a.get('pods', 'default', 'x'))!.metadata.labels).toEqual({ by: 'b' });
    await a.delete('pods', 'default', 'x');
    expect(await codeOf(b.update('pods', pod('x')))).toBe('NotFound');
    expect(await codeOf(b.delete('pods', 'default', 'x'))).toBe('NotFound');
    // racing compare-and-swap increments: every update that succeeds saw the value before it
    await a.create('pods', pod('counter', { n: '0' }));
    const bump = async (s: Store) => {
      let won = 0;
      for (let i = 0; i < 30; i++) {
        const cur = (await s.get('pods', 'default', 'counter'))!;
        const n = Number(cur.metadata.labels!.n) + 1;
        if ((await codeOf(s.update('pods', pod('counter', { n: String(n) }), Number(cur.metadata.resourceVersion)))) === 'ok') won++;
      }
      return won;
    };
    const [wa, wb] = await Promise.all([bump(a), bump(b)]);
    expect(Number((await b.get('pods', 'default', 'counter'))!.metadata.labels!.n)).toBe(wa + wb);
  });

  it('compaction by either store is safe: the compacted revision never goes back, and both see it', async () => {
    const a = open({ keepRevisions: 10 });
    const b = open({ keepRevisions: 10 });
    for (let i = 0; i < 40; i++) await (i % 2 ? a : b).create('pods', pod(`p${i}`));
    await a.compact(30);
    expect(b.compactedRevision()).toBe(30);
    await b.compact(20); // below what a compacted: nothing happens
    expect(a.compactedRevision()).toBe(30);
    expect(() => b.watch('pods', { fromRevision: 25 }, () => {})).toThrow(/too old resource version: 25 \(30\)/);
    await expect(b.list('pods', { revision: 29 })).rejects.toThrow(/too old/);
    const seen = record(b, 'pods', 30);
    expect(revisionsOf(seen)).toEqual([31, 32, 33, 34, 35, 36, 37, 38, 39, 40]);
    await Promise.all([a.compact(), b.compact()]); // both to the floor at once
    expect(a.compactedRevision()).toBe(30);
    expect(b.compactedRevision()).toBe(30);
    await Promise.all([a.compact(35), b.compact(38)]);
    expect(a.compactedRevision()).toBe(38);
    expect(b.compactedRevision()).toBe(38);
    expect((await a.list('pods')).items).toHaveLength(40);
  });

  it('a second process writing at the same time: every row is delivered once, in order, and revisions are distinct', async () => {
    const a = open();
    const seen = record(a, 'pods');
    const file = join(dir, 'state.db');
    const script = `
      const { openSqliteStore } = await import(${JSON.stringify(resolve(import.meta.dirname, 'index.ts'))});
      const s = openSqliteStore(${JSON.stringify(file)}, { compactIntervalMs: 0 });
      for (let round = 0; round < 30; round++) {
        await Promise.all(Array.from({ length: 10 }, (_, i) => s.create('pods', { metadata: { name: 'child-' + round + '-' + i, namespace: 'default' } })));
      }
      await s.close();
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    let code: number | null | undefined;
    child.once('exit', (c) => (code = c));
    // this process writes for as long as the child runs, so their commits interleave
    let rounds = 0;
    for (; rounds < 30 || code === undefined; rounds++) {
      await Promise.all(Array.from({ length: 10 }, (_, i) => a.create('pods', pod(`parent-${rounds}-${i}`))));
    }
    expect(code, out).toBe(0);
    const total = 300 + rounds * 10;
    await expect.poll(() => seen.length, { timeout: 3000 }).toBe(total);
    expect(revisionsOf(seen)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    const fromChild = seen.map((l) => l.includes(' child-'));
    expect(fromChild.filter(Boolean)).toHaveLength(300);
    expect(fromChild.filter((c, i) => i > 0 && c !== fromChild[i - 1]).length).toBeGreaterThanOrEqual(2);
    expect((await a.list('pods')).items).toHaveLength(total);
  });
});
