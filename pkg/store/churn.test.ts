// churn.test: under heavy update churn, compaction keeps the change log and the WAL file bounded.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import { openSqliteStore } from './index.ts';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const size = (p: string): number => {
  try {
    return statSync(p).size;
  } catch {
    return 0;
  }
};

it('30,000 updates of 300 objects leave a bounded log, WAL and file', async () => {
  dir = mkdtempSync(join(tmpdir(), 'kubeling-churn-'));
  const path = join(dir, 'state.db');
  const keep = 1000;
  const every = 5000;
  const store = openSqliteStore(path, { keepRevisions: keep, compactEveryWrites: every, compactIntervalMs: 0 });
  const probe = new Database(path, { readonly: true });
  const logRows = () => probe.prepare('SELECT count(*) FROM log').pluck().get() as number;
  const objects = 300;
  const pod = (i: number, gen: number) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `p${i}`, namespace: 'default', labels: { app: 'churn' }, annotations: { gen: String(gen), pad: 'x'.repeat(600) } },
    spec: { containers: [{ name: 'c', image: 'nginx' }] },
  });
  try {
    await Promise.all(Array.from({ length: objects }, (_, i) => store.create('pods', pod(i, 0))));
    let maxLog = 0;
    let maxWal = 0;
    const t0 = performance.now();
    for (let gen = 1; gen <= 100; gen++) {
      await Promise.all(Array.from({ length: objects }, (_, i) => store.update('pods', pod(i, gen))));
      maxLog = Math.max(maxLog, logRows());
      maxWal = Math.max(maxWal, size(`${path}-wal`));
    }
    const churnMs = performance.now() - t0;
    expect(store.revision()).toBe(objects * 101);
    await store.compact();
    const walAfter = size(`${path}-wal`);
    console.log(
      `churn: ${objects * 100} updates in ${Math.round(churnMs)} ms; max log rows ${maxLog}, max WAL ${(maxWal / 1e6).toFixed(1)} MB; ` +
        `after compact: log rows ${logRows()}, WAL ${walAfter} B, db ${(size(path) / 1e6).toFixed(1)} MB`,
    );
    // automatic compaction every 5,000 writes keeps the log near keep + every, never the full 30,300 rows
    expect(maxLog).toBeLessThanOrEqual(keep + every + 2 * objects);
    expect(logRows()).toBeLessThanOrEqual(keep);
    expect(store.compactedRevision()).toBe(store.revision() - keep);
    expect(walAfter).toBeLessThan(1_000_000);
    expect(maxWal).toBeLessThan(16_000_000);
    expect(size(path)).toBeLessThan(30_000_000);
    // current state is whole
    const all = await store.list('pods');
    expect(all.items).toHaveLength(objects);
    expect(JSON.parse(all.items[0]).metadata.annotations.gen).toBe('100');
  } finally {
    probe.close();
    await store.close();
  }
});
