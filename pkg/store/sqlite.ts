// sqlite: the Store over one SQLite file (kine's shape): an append-only change log plus a current-state table,
// concurrent writes batched into one durable transaction, watch = log replay + in-process notify, bounded by compaction.
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { errors } from '../api/errors.ts';
import type { KubeObject } from '../api/types.ts';
import { checkWrite, compactTarget, decodeContinue, encodeContinue, keyOf, labelsText, stamp, type ContinueKey, type WriteKind } from './mvcc.ts';
import { StoreError, type ListOptions, type ListResult, type ResourceKey, type Store, type StoreEvent, type WatchOptions, type Watcher } from './types.ts';
import { toEvent, WatchHub, type Change } from './watchhub.ts';

/** SqliteStoreOptions tunes history retention and compaction. */
export interface SqliteStoreOptions {
  /** how many newest revisions the log keeps for watch replay (default 1000) */
  keepRevisions?: number;
  /** how often compaction runs on its own, in ms (default 60 000; 0 = never on a timer) */
  compactIntervalMs?: number;
  /** compaction also runs after this many committed writes (default 5 000; 0 = never) */
  compactEveryWrites?: number;
  logger?: Logger;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  resource TEXT NOT NULL,
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  created INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  prev_revision INTEGER NOT NULL,
  value TEXT NOT NULL,
  old_value TEXT
);
CREATE INDEX IF NOT EXISTS log_resource_id ON log (resource, id);
CREATE TABLE IF NOT EXISTS current (
  resource TEXT NOT NULL,
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  revision INTEGER NOT NULL,
  labels TEXT,
  value TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS current_key ON current (resource, namespace, name);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
`;

/** log rows deleted per compaction transaction */
const COMPACT_BATCH = 2000;

interface PendingWrite {
  kind: WriteKind;
  resource: string;
  namespace: string;
  name: string;
  /** the object to write (create/update), shallow-copied at call time */
  obj?: KubeObject;
  expectedRevision?: number;
  resolve: (obj: KubeObject) => void;
  reject: (err: unknown) => void;
}

/** Outcome is what applying one queued write produced inside the batch transaction. */
type Outcome = { change: Change } | { error: unknown };

/** Page is one list page: the stored JSON texts, how many matches follow, and the last key returned. */
interface Page {
  items: string[];
  remaining: number;
  last?: [string, string];
}

interface LogRow {
  id: number;
  namespace: string;
  name: string;
  created: number;
  deleted: number;
  value: string;
  old_value: string | null;
}

/** changeOf turns a replayed log row into the change a live watcher would have seen. */
function changeOf(resource: string, row: LogRow): Change {
  const type: StoreEvent['type'] = row.created ? 'ADDED' : row.deleted ? 'DELETED' : 'MODIFIED';
  return { revision: row.id, resource, namespace: row.namespace, name: row.name, type, value: row.value, oldValue: row.old_value };
}

/** openSqliteStore opens (creating if needed) the store in the SQLite file at `path`. */
export function openSqliteStore(path: string, opts: SqliteStoreOptions = {}): Store {
  return new SqliteStore(path, opts);
}

class SqliteStore implements Store {
  readonly #db: Database.Database;
  readonly #log: Logger | undefined;
  readonly #keep: number;
  readonly #compactEveryWrites: number;
  readonly #hub: WatchHub;
  readonly #stmts = new Map<string, Database.Statement>();
  readonly #applyBatch: Database.Transaction<(ops: PendingWrite[], rev: number) => Outcome[]>;
  readonly #timer: NodeJS.Timeout | undefined;
  #rev: number;
  #compacted: number;
  #queue: PendingWrite[] = [];
  #flushScheduled = false;
  #closed = false;
  #writesSinceCompact = 0;
  #compaction: Promise<void> | undefined;

  constructor(path: string, opts: SqliteStoreOptions) {
    this.#log = opts.logger;
    this.#keep = opts.keepRevisions ?? 1000;
    this.#compactEveryWrites = opts.compactEveryWrites ?? 5000;
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    db.pragma('journal_size_limit = 4194304');
    db.exec(SCHEMA);
    this.#db = db;
    this.#rev = (db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'log'`).pluck().get() as number | undefined) ?? 0;
    this.#compacted = (db.prepare(`SELECT value FROM meta WHERE key = 'compacted'`).pluck().get() as number | undefined) ?? 0;
    this.#hub = new WatchHub((err, ev) => this.#log?.error({ err, resource: ev.resource, revision: ev.revision }, 'store: watch callback threw'));
    this.#applyBatch = db.transaction((ops: PendingWrite[], start: number) => {
      let rev = start;
      return ops.map((op) => {
        const o = this.#apply(op, rev + 1);
        if ('change' in o) rev++;
        return o;
      });
    });
    const interval = opts.compactIntervalMs ?? 60_000;
    if (interval > 0) {
      this.#timer = setInterval(() => this.#autoCompact(), interval);
      this.#timer.unref();
    }
  }

  revision(): number {
    return this.#rev;
  }

  compactedRevision(): number {
    return this.#compacted;
  }

  async get(resource: ResourceKey, namespace: string, name: string): Promise<KubeObject | undefined> {
    this.#open();
    const value = this.#stmt('SELECT value FROM current WHERE resource = ? AND namespace = ? AND name = ?').pluck().get(resource, namespace, name) as
      | string
      | undefined;
    return value === undefined ? undefined : (JSON.parse(value) as KubeObject);
  }

  async list(resource: ResourceKey, opts: ListOptions = {}): Promise<ListResult> {
    this.#open();
    const revision = this.#rev;
    let from: ContinueKey | undefined;
    if (opts.continue) {
      const k = decodeContinue(opts.continue, resource);
      if (typeof k === 'string') throw errors.badRequest(`invalid continue token: ${k}`);
      from = k;
    }
    const where = ['resource = ?'];
    const params: unknown[] = [resource];
    if (opts.namespace !== undefined) {
      where.push('namespace = ?');
      params.push(opts.namespace);
    }
    if (from) {
      where.push('(namespace, name) > (?, ?)');
      params.push(from.namespace, from.name);
    }
    const limit = opts.limit !== undefined && opts.limit > 0 ? opts.limit : undefined;
    const page = opts.labelFilter
      ? this.#listFiltered(where, params, opts.labelFilter, limit)
      : this.#listAll(where, params, limit);
    const result: ListResult = { revision, items: page.items };
    if (page.last && page.remaining > 0) {
      result.continue = encodeContinue({ resource, namespace: page.last[0], name: page.last[1], revision });
      result.remaining = page.remaining;
    }
    return result;
  }

  /** #listAll pages through the current state with no label filter; counting the rest is one index scan. */
  #listAll(where: string[], params: unknown[], limit: number | undefined): Page {
    const cond = where.join(' AND ');
    if (limit === undefined) {
      const items = this.#stmt(`SELECT value FROM current WHERE ${cond} ORDER BY namespace, name`).pluck().all(...params) as string[];
      return { items, remaining: 0 };
    }
    const rows = this.#stmt(`SELECT namespace, name, value FROM current WHERE ${cond} ORDER BY namespace, name LIMIT ?`)
      .raw()
      .all(...params, limit) as [string, string, string][];
    const items = rows.map((r) => r[2]);
    if (rows.length < limit) return { items, remaining: 0 };
    const last = rows[rows.length - 1];
    const remaining = this.#stmt(`SELECT count(*) FROM current WHERE ${cond} AND (namespace, name) > (?, ?)`)
      .pluck()
      .get(...params, last[0], last[1]) as number;
    return { items, remaining, last: [last[0], last[1]] };
  }

  /** #listFiltered checks labels from the labels column first and reads only the values that match. */
  #listFiltered(where: string[], params: unknown[], filter: (labels: Record<string, string>) => boolean, limit: number | undefined): Page {
    const rows = this.#stmt(`SELECT rowid, namespace, name, labels FROM current WHERE ${where.join(' AND ')} ORDER BY namespace, name`)
      .raw()
      .all(...params) as [number, string, string, string | null][];
    const picked: number[] = [];
    let remaining = 0;
    let last: [string, string] | undefined;
    for (const [rowid, namespace, name, labels] of rows) {
      if (!filter(labels === null ? {} : (JSON.parse(labels) as Record<string, string>))) continue;
      if (limit === undefined || picked.length < limit) {
        picked.push(rowid);
        last = [namespace, name];
      } else remaining++;
    }
    const byRowid = this.#stmt('SELECT value FROM current WHERE rowid = ?').pluck();
    return { items: picked.map((id) => byRowid.get(id) as string), remaining, last };
  }

  create(resource: ResourceKey, obj: KubeObject): Promise<KubeObject> {
    return this.#enqueue('create', resource, obj);
  }

  update(resource: ResourceKey, obj: KubeObject, expectedRevision?: number): Promise<KubeObject> {
    return this.#enqueue('update', resource, obj, expectedRevision);
  }

  delete(resource: ResourceKey, namespace: string, name: string, expectedRevision?: number): Promise<KubeObject> {
    return this.#enqueue('delete', resource, { metadata: { namespace, name } }, expectedRevision);
  }

  watch(resource: ResourceKey, opts: WatchOptions, onEvent: (ev: StoreEvent) => void): Watcher {
    this.#open();
    const from = opts.fromRevision;
    if (from !== undefined && from < this.#compacted) {
      throw new StoreError('Expired', `too old resource version: ${from} (${this.#compacted})`, this.#compacted);
    }
    // Replay and registration happen in one synchronous stretch: no commit can fall between them. The listener
    // takes only revisions above what is committed now, so a batch being emitted right now is not sent twice.
    const rows = from !== undefined && from < this.#rev ? this.#replayRows(resource, opts.namespace, from) : [];
    const w = this.#hub.add(resource, opts.namespace, Math.max(from ?? this.#rev, this.#rev), onEvent);
    let stopped = false;
    for (const row of rows) {
      if (stopped) break;
      this.#hub.deliver(onEvent, toEvent(changeOf(resource, row)));
    }
    return {
      stop: () => {
        stopped = true;
        w.stop();
      },
    };
  }

  #replayRows(resource: string, namespace: string | undefined, from: number): LogRow[] {
    const cols = 'id, namespace, name, created, deleted, value, old_value';
    return namespace === undefined
      ? (this.#stmt(`SELECT ${cols} FROM log WHERE resource = ? AND id > ? ORDER BY id`).all(resource, from) as LogRow[])
      : (this.#stmt(`SELECT ${cols} FROM log WHERE resource = ? AND id > ? AND namespace = ? ORDER BY id`).all(resource, from, namespace) as LogRow[]);
  }

  async compact(revision?: number): Promise<void> {
    while (this.#compaction) await this.#compaction.catch(() => {});
    if (this.#closed) return;
    this.#compaction = this.#compactNow(revision).finally(() => {
      this.#compaction = undefined;
    });
    return this.#compaction;
  }

  /** #compactNow deletes log rows in (compacted, target] a batch per transaction, yielding between, then truncates the WAL. */
  async #compactNow(revision: number | undefined): Promise<void> {
    this.#writesSinceCompact = 0;
    const target = revision === undefined ? compactTarget(this.#rev, this.#compacted, this.#keep) : Math.min(revision, this.#rev);
    if (target === undefined || target <= this.#compacted) return;
    const started = performance.now();
    const delLog = this.#stmt('DELETE FROM log WHERE id > ? AND id <= ?');
    const setCompacted = this.#stmt(`INSERT INTO meta (key, value) VALUES ('compacted', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`);
    const batch = this.#db.transaction((lo: number, hi: number) => {
      const n = delLog.run(lo, hi).changes;
      setCompacted.run(hi);
      return n;
    });
    let deleted = 0;
    while (this.#compacted < target) {
      if (this.#closed) return;
      const hi = Math.min(this.#compacted + COMPACT_BATCH, target);
      deleted += batch.immediate(this.#compacted, hi);
      this.#compacted = hi;
      if (hi < target) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (this.#closed) return;
    const [cp] = this.#db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number; checkpointed: number }[];
    this.#log?.debug({ target, deleted, walBusy: cp?.busy, ms: Math.round(performance.now() - started) }, 'store: compacted');
  }

  #autoCompact(): void {
    if (this.#compaction || this.#closed) return;
    this.compact().catch((err) => this.#log?.error({ err }, 'store: compaction failed'));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#flush();
    if (this.#compaction) await this.#compaction.catch(() => {});
    this.#db.close();
  }

  #open(): void {
    if (this.#closed) throw new Error('store: closed');
  }

  #stmt(sql: string): Database.Statement {
    let s = this.#stmts.get(sql);
    if (!s) this.#stmts.set(sql, (s = this.#db.prepare(sql)));
    return s;
  }

  #enqueue(kind: WriteKind, resource: string, obj: KubeObject, expectedRevision?: number): Promise<KubeObject> {
    return new Promise<KubeObject>((resolve, reject) => {
      this.#open();
      const { namespace, name } = keyOf(obj);
      // copied in: the metadata the caller might still change is ours from here on
      const copy = kind === 'delete' ? undefined : { ...obj, metadata: { ...obj.metadata } };
      this.#queue.push({ kind, resource, namespace, name, obj: copy, expectedRevision, resolve, reject });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  /** #flush applies every queued write in one transaction, then emits the committed changes and settles the promises. */
  #flush(): void {
    this.#flushScheduled = false;
    const ops = this.#queue;
    if (ops.length === 0) return;
    this.#queue = [];
    let outcomes: Outcome[];
    try {
      outcomes = this.#applyBatch.immediate(ops, this.#rev);
    } catch (err) {
      this.#log?.error({ err, writes: ops.length }, 'store: write batch failed');
      for (const op of ops) op.reject(err);
      return;
    }
    let committed = 0;
    for (const o of outcomes) {
      if ('change' in o) {
        this.#rev = o.change.revision;
        committed++;
      }
    }
    for (const o of outcomes) if ('change' in o) this.#hub.emit(o.change);
    outcomes.forEach((o, i) => ('change' in o ? ops[i].resolve(JSON.parse(o.change.value) as KubeObject) : ops[i].reject(o.error)));
    this.#writesSinceCompact += committed;
    if (this.#compactEveryWrites > 0 && this.#writesSinceCompact >= this.#compactEveryWrites) this.#autoCompact();
  }

  /**
   * #apply runs one write inside the batch transaction. Its precondition sees the batch's earlier writes; a failing
   * write returns its error before touching anything, so it changes nothing. `revision` is the one it gets if it applies.
   */
  #apply(op: PendingWrite, revision: number): Outcome {
    const cur = this.#stmt('SELECT revision, value FROM current WHERE resource = ? AND namespace = ? AND name = ?').get(
      op.resource,
      op.namespace,
      op.name,
    ) as { revision: number; value: string } | undefined;
    const err = checkWrite(op.kind, op.resource, op.namespace, op.name, cur, op.expectedRevision);
    if (err) return { error: err };
    const source = op.kind === 'delete' ? (JSON.parse(cur!.value) as KubeObject) : op.obj!;
    let value: string;
    try {
      value = stamp(source, revision);
    } catch (e) {
      return { error: e }; // e.g. a BigInt or a cycle: this write fails alone
    }
    const insertLog = this.#stmt(
      'INSERT INTO log (id, resource, namespace, name, created, deleted, prev_revision, value, old_value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    insertLog.run(revision, op.resource, op.namespace, op.name, op.kind === 'create' ? 1 : 0, op.kind === 'delete' ? 1 : 0, cur?.revision ?? 0, value, cur?.value ?? null);
    if (op.kind === 'delete') {
      this.#stmt('DELETE FROM current WHERE resource = ? AND namespace = ? AND name = ?').run(op.resource, op.namespace, op.name);
    } else {
      this.#stmt(
        `INSERT INTO current (resource, namespace, name, revision, labels, value) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (resource, namespace, name) DO UPDATE SET revision = excluded.revision, labels = excluded.labels, value = excluded.value`,
      ).run(op.resource, op.namespace, op.name, revision, labelsText(source), value);
    }
    const type: StoreEvent['type'] = op.kind === 'create' ? 'ADDED' : op.kind === 'delete' ? 'DELETED' : 'MODIFIED';
    return { change: { revision, resource: op.resource, namespace: op.namespace, name: op.name, type, value, oldValue: cur?.value ?? null } };
  }
}
