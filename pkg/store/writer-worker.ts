// writer-worker: the thread behind writer.ts — per store, its own connection to the store's SQLite file (WAL, synchronous = FULL): applies each batch of writes in one transaction (revisions from the log's head read under the write lock, preconditions, log row + current row, the big value bound once), runs compaction batches and WAL checkpoints, and answers per request.
import { parentPort, workerData } from 'node:worker_threads';
import type { KubeObject } from '../api/types.ts';
import { openConnection } from './connection.ts';
import { checkWrite, joinStamped, stamp } from './mvcc.ts';
import { toWire, type BatchResult, type CompactResult, type OpResult, type RequestName, type Requests, type WriteOp, type WriterData, type WriterReply, type WriterRequest } from './writer.ts';

/** Connection is one store's connection to its file, with the statements and transactions it writes through. */
type Connection = { [T in RequestName]: (arg: Requests[T]['arg']) => Requests[T]['result'] };

/** connect opens a store's file (WAL, synchronous = FULL: a commit is durable when it returns) and prepares its writes. */
function connect(path: string): Connection {
  const db = openConnection(path);

  const KEY = 'resource = ? AND namespace = ? AND name = ?';
  const stmts = {
    head: db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'log'`).pluck(),
    revisionOf: db.prepare(`SELECT revision FROM current WHERE ${KEY}`).pluck(),
    rowOf: db.prepare(`SELECT revision, value FROM current WHERE ${KEY}`),
    // the old value is copied from the current row by SQLite: it never comes into JS unless asked for
    insertLog: db.prepare(
      `INSERT INTO log (id, resource, namespace, name, created, deleted, prev_revision, value, old_value)
       VALUES (?, ?, ?, ?, ?, 0, ?, ?, (SELECT value FROM current WHERE ${KEY}))`,
    ),
    insertDeletion: db.prepare(
      'INSERT INTO log (id, resource, namespace, name, created, deleted, prev_revision, value, old_value) VALUES (?, ?, ?, ?, 0, 1, ?, ?, ?)',
    ),
    oldOf: db.prepare('SELECT old_value FROM log WHERE id = ?').pluck(),
    // the current row takes its value from the log row just written: the value is bound once
    upsertCurrent: db.prepare(
      `INSERT INTO current (resource, namespace, name, revision, labels, value) VALUES (?, ?, ?, ?, ?, (SELECT value FROM log WHERE id = ?))
       ON CONFLICT (resource, namespace, name) DO UPDATE SET revision = excluded.revision, labels = excluded.labels, value = excluded.value`,
    ),
    deleteCurrent: db.prepare(`DELETE FROM current WHERE ${KEY}`),
    compacted: db.prepare(`SELECT value FROM meta WHERE key = 'compacted'`).pluck(),
    deleteLog: db.prepare('DELETE FROM log WHERE id > ? AND id <= ?'),
    setCompacted: db.prepare(`INSERT INTO meta (key, value) VALUES ('compacted', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`),
  };

  /**
   * apply runs one write inside the batch transaction. Its precondition sees the batch's earlier writes; a failing
   * write returns its error before touching anything, so it changes nothing. `revision` is the one it gets if it
   * applies.
   */
  const apply = (op: WriteOp, revision: number): OpResult => {
    const { kind, resource, namespace, name } = op;
    if (kind === 'delete') {
      const cur = stmts.rowOf.get(resource, namespace, name) as { revision: number; value: string } | undefined;
      const err = checkWrite(kind, resource, namespace, name, cur, op.expectedRevision);
      if (err) return { ok: false, error: toWire(err) };
      let value: string;
      try {
        value = stamp(JSON.parse(cur!.value) as KubeObject, revision);
      } catch (e) {
        return { ok: false, error: toWire(e) };
      }
      stmts.insertDeletion.run(revision, resource, namespace, name, cur!.revision, value, cur!.value);
      stmts.deleteCurrent.run(resource, namespace, name);
      return { ok: true, revision, value, ...(op.old ? { old: cur!.value } : {}) };
    }
    const prev = stmts.revisionOf.get(resource, namespace, name) as number | undefined;
    const err = checkWrite(kind, resource, namespace, name, prev === undefined ? undefined : { revision: prev }, op.expectedRevision);
    if (err) return { ok: false, error: toWire(err) };
    stmts.insertLog.run(revision, resource, namespace, name, kind === 'create' ? 1 : 0, prev ?? 0, joinStamped(op.text!, revision), resource, namespace, name);
    stmts.upsertCurrent.run(resource, namespace, name, revision, op.labels ?? null, revision);
    if (!op.old) return { ok: true, revision };
    return { ok: true, revision, old: prev === undefined ? null : (stmts.oldOf.get(revision) as string | null) };
  };

  // The batch numbers its writes from the log's head as read under the write lock: another connection (another
  // process's writer) can have committed since the store last looked.
  const batch = db.transaction((ops: WriteOp[]): BatchResult => {
    const head = (stmts.head.get() as number | undefined) ?? 0;
    let rev = head;
    const results = ops.map((op) => {
      const r = apply(op, rev + 1);
      if (r.ok) rev++;
      return r;
    });
    return { head, results };
  });

  // Another process may compact the same file: each batch starts from the compacted revision stored in the file and
  // never lowers it.
  const compact = db.transaction((hi: number): CompactResult => {
    const lo = (stmts.compacted.get() as number | undefined) ?? 0;
    if (lo >= hi) return { n: 0, compacted: lo };
    const n = stmts.deleteLog.run(lo, hi).changes;
    stmts.setCompacted.run(hi);
    return { n, compacted: hi };
  });

  return {
    batch: (ops) => batch.immediate(ops),
    compact: (hi) => compact.immediate(hi),
    checkpoint: () => (db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number; checkpointed: number }[])[0],
    close: () => {
      db.close();
      return null;
    },
  };
}

/** the open connections, by the store's connection id; one is opened by its store's first request */
const connections = new Map<number, Connection>();

/** answers go to the port the process gave (WriterData.replies), which it can also read synchronously */
const { replies } = workerData as WriterData;

parentPort!.on('message', (m: WriterRequest) => {
  let reply: WriterReply;
  try {
    let c = connections.get(m.conn);
    if (m.type === 'close') {
      connections.delete(m.conn);
      c?.close(null);
      reply = { id: m.id, ok: true, value: null };
    } else {
      if (!c) connections.set(m.conn, (c = connect(m.path)));
      reply = { id: m.id, ok: true, value: (c[m.type] as (arg: unknown) => unknown)(m.arg) };
    }
  } catch (e) {
    reply = { id: m.id, ok: false, error: toWire(e) };
  }
  replies.postMessage(reply);
});
