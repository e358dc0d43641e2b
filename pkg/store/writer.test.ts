// writer.test: errors crossing the thread boundary keep their class, the worker's flags, and the writer thread itself against a real file (batch, failure, compaction, close, answers taken in mid-turn).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serialise } from './mvcc.ts';
import { openSqliteStore } from './sqlite.ts';
import { StoreError } from './types.ts';
import { fromWire, takeWriterAnswers, toWire, workerExecArgv, Writer, type WriteOp } from './writer.ts';

describe('toWire / fromWire', () => {
  const cases: [string, unknown, (e: Error) => void][] = [
    [
      'a StoreError keeps its code and oldest revision',
      new StoreError('Expired', 'too old resource version: 3 (7)', 7),
      (e) => {
        expect(e).toBeInstanceOf(StoreError);
        expect((e as StoreError).code).toBe('Expired');
        expect((e as StoreError).oldest).toBe(7);
      },
    ],
    ['a StoreError without oldest', new StoreError('Conflict', 'x'), (e) => expect((e as StoreError).oldest).toBeUndefined()],
    [
      'an SQLite error keeps its code',
      new Database.SqliteError('database is locked', 'SQLITE_BUSY'),
      (e) => {
        expect(e).toBeInstanceOf(Database.SqliteError);
        expect((e as InstanceType<typeof Database.SqliteError>).code).toBe('SQLITE_BUSY');
      },
    ],
    ['another error keeps its message', new TypeError('Do not know how to serialize a BigInt'), (e) => expect(e).toBeInstanceOf(Error)],
    ['a thrown string', 'boom', (e) => expect(e.message).toBe('boom')],
  ];
  for (const [title, err, check] of cases) {
    it(title, () => {
      const back = fromWire(structuredClone(toWire(err)));
      expect(back.message).toBe(err instanceof Error ? err.message : String(err));
      check(back);
    });
  }
});

describe('workerExecArgv', () => {
  it.each([
    [[], []],
    [['--input-type=module'], []],
    [['--input-type', 'module', '--max-old-space-size=512'], ['--max-old-space-size=512']],
    [['--cpu-prof', '--enable-source-maps'], ['--cpu-prof', '--enable-source-maps']],
  ])('%j → %j', (argv, want) => {
    expect(workerExecArgv(argv)).toEqual(want);
  });
});

describe('Writer', () => {
  let dir: string;
  let path: string;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kubeling-writer-'));
    path = join(dir, 'state.db');
    await openSqliteStore(path).close(); // the schema
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const put = (name: string, kind: WriteOp['kind'] = 'create', old = false): WriteOp => ({
    kind,
    resource: 'pods',
    namespace: 'default',
    name,
    ...(kind === 'delete' ? {} : { text: serialise({ metadata: { name, namespace: 'default' } }), labels: null }),
    old,
  });

  it('commits a batch: revisions from the head, per-op errors, old values only when asked', async () => {
    const w = new Writer(path);
    try {
      expect(Writer.running).toBe(true); // started when a store (here: a Writer) opens
      const r = await w.run('batch', [put('a'), put('a'), put('a', 'update', true), put('b', 'update'), put('a', 'delete')]);
      expect(r.head).toBe(0);
      expect(r.results.map((x) => (x.ok ? x.revision : x.error.store))).toEqual([1, 'AlreadyExists', 2, 'NotFound', 3]);
      expect(r.results[2]).toMatchObject({ old: '{"metadata":{"name":"a","namespace":"default","resourceVersion":"1"}}' });
      expect(r.results[4]).toEqual({ ok: true, revision: 3, value: '{"metadata":{"name":"a","namespace":"default","resourceVersion":"3"}}' });
      const db = new Database(path, { readonly: true });
      try {
        // the current row took its value from the log row; the log row its old value from the current row
        expect(db.prepare('SELECT id, prev_revision, old_value IS NOT NULL AS old FROM log ORDER BY id').raw().all()).toEqual([
          [1, 0, 0],
          [2, 1, 1],
          [3, 2, 1],
        ]);
        expect(db.prepare('SELECT count(*) FROM current').pluck().get()).toBe(0);
      } finally {
        db.close();
      }
    } finally {
      await w.close();
    }
    expect(Writer.running).toBe(true); // it lingers for the next store…
    await new Promise((r) => setTimeout(r, 1500));
    expect(Writer.running).toBe(false); // …and then ends
  });

  it('a failing transaction rejects its batch with the SQLite error, changes nothing, and the writer goes on', async () => {
    const db = new Database(path);
    db.exec(`CREATE TRIGGER full BEFORE INSERT ON log WHEN NEW.name = 'boom' BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`);
    db.close();
    const w = new Writer(path);
    try {
      const err = await w.run('batch', [put('a'), put('boom')]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Database.SqliteError);
      expect((err as Error).message).toBe('database or disk is full');
      const r = await w.run('batch', [put('a')]);
      expect(r.results).toEqual([{ ok: true, revision: 1 }]); // the failed batch left no row and no revision
    } finally {
      await w.close();
    }
  });

  it('takeWriterAnswers takes in a commit answered meanwhile, in the middle of a turn; without it the answer waits for the loop', async () => {
    const w = new Writer(path);
    const busy = (ms: number) => {
      const end = performance.now() + ms;
      while (performance.now() < end);
    };
    try {
      await w.run('batch', [put('warm')]); // the thread is up and the connection open
      const settled: string[] = [];
      void w.run('batch', [put('a')]).then(() => settled.push('a'));
      busy(100); // the commit is answered meanwhile
      await Promise.resolve();
      expect(settled).toEqual([]); // a message event needs the loop to come round
      takeWriterAnswers();
      await Promise.resolve();
      expect(settled).toEqual(['a']);
    } finally {
      await w.close();
    }
  });

  it('compacts in batches and never lowers the compacted revision', async () => {
    const w = new Writer(path);
    try {
      await w.run('batch', Array.from({ length: 10 }, (_, i) => put(`p${i}`)));
      expect(await w.run('compact', 4)).toEqual({ n: 4, compacted: 4 });
      expect(await w.run('compact', 3)).toEqual({ n: 0, compacted: 4 });
      expect(await w.run('compact', 10)).toEqual({ n: 6, compacted: 10 });
      expect(await w.run('checkpoint', null)).toMatchObject({ busy: 0 });
    } finally {
      await w.close();
    }
  });
});
