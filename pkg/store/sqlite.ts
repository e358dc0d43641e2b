// sqlite: the Store over one SQLite file (kine's shape): an append-only change log plus a current-state table,
// concurrent writes batched into one durable transaction committed by a writer thread (writer.ts: no SQL and no fsync
// of a write on the event loop; the next batch goes when it answers), watch = log replay + notify after commit, reads
// on this thread at a past revision from the log, history kept by time (and a revision floor) and compacted in
// batches. Several processes may share the file: each notices the others' commits (PRAGMA data_version, polled) and
// delivers their log rows too.
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { errors } from '../api/errors.ts';
import type { KubeObject } from '../api/types.ts';
import { openConnection } from './connection.ts';
import { compactTarget, decodeContinue, encodeContinue, joinStamped, keyLess, keyOf, labelsText, mergeKeyed, serialise, serialisedOf, type ContinueKey, type Keyed, type WriteKind } from './mvcc.ts';
import { StoreError, type ListOptions, type ListResult, type ResourceKey, type Store, type StoreEvent, type WatchOptions, type Watcher } from './types.ts';
import { toEvent, WatchHub, type Change } from './watchhub.ts';
import { fromWire, Writer, type BatchResult, type WriteOp } from './writer.ts';

/** SqliteStoreOptions tunes history retention and compaction. */
export interface SqliteStoreOptions {
  /**
   * how long history stays for watch replay and reads at a past revision, in ms (default 300 000: etcd's default
   * 5-minute compaction). Revisions committed before this store was opened count as committed at opening.
   */
  historyMs?: number;
  /**
   * the revision floor: compaction always drops all but the newest this many revisions, however young (default
   * 200 000). Bounds the log and WAL under churn, and lets a small test store compact.
   */
  keepRevisions?: number;
  /** how often compaction runs on its own, in ms (default 60 000; 0 = never on a timer) */
  compactIntervalMs?: number;
  /** compaction also runs after this many committed writes (default 5 000; 0 = never) */
  compactEveryWrites?: number;
  /**
   * how often to look for commits made by other processes sharing the file, in ms (default 50; 0 = only when a
   * read or write of this store runs into them)
   */
  pollIntervalMs?: number;
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
/**
 * BATCHES_IN_FLIGHT: write batches sent to the writer before the first answers. The writer commits them in order and
 * they settle in order; while the event loop is busy, the next turn's writes are committed instead of waiting for it
 * to take in the previous answer (under churn that wait was most of a write's latency).
 */
const BATCHES_IN_FLIGHT = 3;

/** PendingWrite is a queued write: what crosses to the writer, and how the caller is answered. */
interface PendingWrite {
  op: WriteOp;
  /** an object that carried its text (SERIALISED), shallow-copied at call time: the write resolves with it, stamped */
  shell?: KubeObject;
  resolve: (obj: KubeObject) => void;
  reject: (err: unknown) => void;
}

const EVENT_TYPE: Record<WriteKind, StoreEvent['type']> = { create: 'ADDED', update: 'MODIFIED', delete: 'DELETED' };

/** Page is one list page: the stored JSON texts, how many matches follow, and the last key returned. */
interface Page {
  items: string[];
  remaining: number;
  last?: Keyed;
}

/** Past is a key's state at a past revision that the current table no longer shows (changed or deleted since). */
interface Past extends Keyed {
  value: string;
}

/** Mark says that `revision` was committed by time `t` (one per second of writes): compaction by time reads them. */
interface Mark {
  t: number;
  revision: number;
}

interface LogRow {
  id: number;
  /** only when read across resources */
  resource?: string;
  namespace: string;
  name: string;
  created: number;
  deleted: number;
  value: string;
  old_value: string | null;
}

/** changeOf turns a log row into the change a live watcher would have seen. */
function changeOf(resource: string, row: LogRow): Change {
  const type: StoreEvent['type'] = row.created ? 'ADDED' : row.deleted ? 'DELETED' : 'MODIFIED';
  return { revision: row.id, resource, namespace: row.namespace, name: row.name, type, value: row.value, oldValue: row.old_value };
}

/**
 * written is what a committed write resolves with: the stored object parsed, or for an object that carried its text
 * (SERIALISED) the shell it came as with the new resourceVersion — its text is not parsed again.
 */
function written(w: PendingWrite, revision: number, value: string): KubeObject {
  if (w.shell) return { ...w.shell, metadata: { ...w.shell.metadata, resourceVersion: String(revision) } };
  return JSON.parse(value) as KubeObject;
}

/** openSqliteStore opens (creating if needed) the store in the SQLite file at `path`. */
export function openSqliteStore(path: string, opts: SqliteStoreOptions = {}): Store {
  return new SqliteStore(path, opts);
}

class SqliteStore implements Store {
  readonly #db: Database.Database;
  readonly #log: Logger | undefined;
  readonly #keep: number;
  readonly #historyMs: number;
  readonly #marks: Mark[] = [];
  readonly #compactEveryWrites: number;
  readonly #hub: WatchHub;
  readonly #stmts = new Map<string, Database.Statement>();
  /** the thread that commits this store's writes and compaction (started on the first) */
  readonly #writer: Writer;
  /**
   * the batches the writer has now (at most BATCHES_IN_FLIGHT; it commits them in order): a turn's writes go as a
   * batch at once, without waiting for the answer to the previous one to come through a busy event loop
   */
  readonly #inFlight = new Set<Promise<void>>();
  /** per resource, how many watchers read StoreEvent.prev (WatchOptions.prev): only for them do old values come back */
  readonly #prevWatchers = new Map<string, number>();
  /** runs a function in one read transaction: every statement in it sees the same snapshot */
  readonly #snapshot: Database.Transaction<(fn: () => unknown) => unknown>;
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #compactIntervalMs: number;
  /** a compaction due once the history of a burst of writes has aged (see #compactNow) */
  #followUp: NodeJS.Timeout | undefined;
  readonly #poller: NodeJS.Timeout | undefined;
  /**
   * the newest revision this store knows committed; every log row up to it was handed to the watch hub (or waits in
   * #unsent), whichever process wrote it
   */
  #rev: number;
  #compacted: number;
  /** PRAGMA data_version as last looked at: it changes when another connection commits */
  #dataVersion: number;
  #queue: PendingWrite[] = [];
  #flushScheduled = false;
  #closed = false;
  #writesSinceCompact = 0;
  #compaction: Promise<void> | undefined;
  /** committed changes not yet handed to watchers, and the revision they reach */
  #unsent: Change[] = [];
  #unsentRevision = 0;
  #sendScheduled = false;

  constructor(path: string, opts: SqliteStoreOptions) {
    this.#log = opts.logger;
    this.#keep = opts.keepRevisions ?? 200_000;
    this.#historyMs = opts.historyMs ?? 300_000;
    this.#compactEveryWrites = opts.compactEveryWrites ?? 5000;
    const db = openConnection(path);
    db.exec(SCHEMA);
    this.#db = db;
    this.#dataVersion = this.#stmt('PRAGMA data_version').pluck().get() as number;
    this.#rev = this.#head();
    this.#compacted = this.#storedCompacted();
    this.#marks.push({ t: Date.now(), revision: this.#rev });
    this.#hub = new WatchHub((err, ev) => this.#log?.error({ err, resource: ev.resource, revision: ev.revision }, 'store: watch callback threw'));
    this.#writer = new Writer(path);
    this.#snapshot = db.transaction((fn: () => unknown) => fn());
    const interval = opts.compactIntervalMs ?? 60_000;
    this.#compactIntervalMs = interval;
    if (interval > 0) {
      this.#timer = setInterval(() => this.#autoCompact(), interval);
      this.#timer.unref();
    }
    const poll = opts.pollIntervalMs ?? 50;
    if (poll > 0) {
      // not while a batch is out: its commit would be read back here as another process's (the answer brings it)
      this.#poller = setInterval(() => this.#inFlight.size || this.#sync(), poll);
      this.#poller.unref();
    }
  }

  revision(): number {
    this.#sync();
    return this.#rev;
  }

  compactedRevision(): number {
    this.#sync();
    return this.#compacted;
  }

  /** #head is the newest committed revision in the file (the log's sequence survives compaction). */
  #head(): number {
    return (this.#stmt(`SELECT seq FROM sqlite_sequence WHERE name = 'log'`).pluck().get() as number | undefined) ?? 0;
  }

  #storedCompacted(): number {
    return (this.#stmt(`SELECT value FROM meta WHERE key = 'compacted'`).pluck().get() as number | undefined) ?? 0;
  }

  /**
   * #sync looks whether another connection committed since the last look (one PRAGMA; own commits do not change it)
   * and, if so, takes in what it committed: log rows for the watchers, the head revision, the compacted revision.
   * The version is read before the rows, so a commit that races the read is seen again by the next look.
   */
  #sync(): void {
    if (this.#closed) return;
    let v: number;
    try {
      v = this.#stmt('PRAGMA data_version').pluck().get() as number;
      if (v === this.#dataVersion) return;
      this.#dataVersion = v;
      this.#snapshot(() => {
        this.#catchUp(this.#head());
        this.#compacted = Math.max(this.#compacted, this.#storedCompacted());
      });
    } catch (err) {
      this.#log?.error({ err }, 'store: reading other processes\' commits failed');
    }
  }

  /**
   * #catchUp hands the log rows in (#rev, head] — committed by other processes — to the watchers, in revision order.
   * Rows another process compacted before this one read them are lost to this store's watchers: that is logged.
   */
  #catchUp(head: number): void {
    if (head <= this.#rev) return;
    const rows = this.#stmt('SELECT id, resource, namespace, name, created, deleted, value, old_value FROM log WHERE id > ? AND id <= ? ORDER BY id').all(
      this.#rev,
      head,
    ) as LogRow[];
    if ((rows[0]?.id ?? head + 1) !== this.#rev + 1) {
      const compacted = this.#storedCompacted();
      if (compacted > this.#rev) {
        this.#log?.error({ from: this.#rev, compacted }, 'store: history was compacted by another process before this one delivered it; watchers missed changes');
      }
      this.#compacted = Math.max(this.#compacted, compacted);
    }
    for (const row of rows) this.#unsent.push(changeOf(row.resource!, row));
    this.#rev = head;
    this.#mark();
    this.#scheduleSend();
  }

  async get(resource: ResourceKey, namespace: string, name: string): Promise<KubeObject | undefined> {
    this.#open();
    const value = this.#stmt('SELECT value FROM current WHERE resource = ? AND namespace = ? AND name = ?').pluck().get(resource, namespace, name) as
      | string
      | undefined;
    return value === undefined ? undefined : (JSON.parse(value) as KubeObject);
  }

  async getRaw(resource: ResourceKey, namespace: string, name: string): Promise<{ value: string; revision: number } | undefined> {
    this.#open();
    return this.#stmt('SELECT value, revision FROM current WHERE resource = ? AND namespace = ? AND name = ?').get(resource, namespace, name) as
      | { value: string; revision: number }
      | undefined;
  }

  async list(resource: ResourceKey, opts: ListOptions = {}): Promise<ListResult> {
    this.#open();
    return this.#snapshot(() => this.#listAt(resource, opts)) as ListResult;
  }

  /**
   * #listAt runs inside one read transaction: it first takes in commits of other processes up to the snapshot, so the
   * revision it reports is exactly the state it reads.
   */
  #listAt(resource: ResourceKey, opts: ListOptions): ListResult {
    this.#catchUp(this.#head());
    let revision = this.#rev;
    let from: ContinueKey | undefined;
    if (opts.continue) {
      const k = decodeContinue(opts.continue, resource);
      if (typeof k === 'string') throw errors.badRequest(`invalid continue token: ${k}`);
      from = k;
      revision = k.revision;
    } else if (opts.revision !== undefined) {
      revision = opts.revision;
    }
    if (revision > this.#rev) throw new StoreError('TooLarge', `Too large resource version: ${revision}, current: ${this.#rev}`, this.#rev);
    if (revision < this.#rev) this.#compacted = Math.max(this.#compacted, this.#storedCompacted());
    if (revision < this.#compacted) throw new StoreError('Expired', `too old resource version: ${revision} (${this.#compacted})`, this.#compacted);
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
    // A read in the past: the current rows unchanged since `revision`, plus the past state of the keys changed since.
    let past: Past[] = [];
    if (revision < this.#rev) {
      where.push('revision <= ?');
      params.push(revision);
      past = this.#pastStates(resource, opts.namespace, revision, from, opts.labelFilter);
    }
    const limit = opts.limit !== undefined && opts.limit > 0 ? opts.limit : undefined;
    const page = opts.labelFilter
      ? this.#listFiltered(where, params, opts.labelFilter, limit, past)
      : this.#listAll(where, params, limit, past);
    const result: ListResult = { revision, items: page.items };
    if (page.last && page.remaining > 0) {
      result.continue = encodeContinue({ resource, namespace: page.last.namespace, name: page.last.name, revision });
      result.remaining = page.remaining;
    }
    return result;
  }

  /**
   * #pastStates reads, for every key changed after `revision`, its state at `revision`: the old value of its first
   * change after it (none = the key did not exist then). Those log rows are all above the compacted revision.
   */
  #pastStates(resource: string, namespace: string | undefined, revision: number, from: Keyed | undefined, filter: ListOptions['labelFilter']): Past[] {
    let sql = 'SELECT namespace, name, old_value, min(id) FROM log WHERE resource = ? AND id > ?';
    const params: unknown[] = [resource, revision];
    if (namespace !== undefined) {
      sql += ' AND namespace = ?';
      params.push(namespace);
    }
    if (from) {
      sql += ' AND (namespace, name) > (?, ?)';
      params.push(from.namespace, from.name);
    }
    const rows = this.#stmt(`${sql} GROUP BY namespace, name ORDER BY namespace, name`).raw().all(...params) as [string, string, string | null, number][];
    const out: Past[] = [];
    for (const [ns, name, value] of rows) {
      if (value === null) continue;
      if (filter && !filter((JSON.parse(value) as KubeObject).metadata.labels ?? {})) continue;
      out.push({ namespace: ns, name, value });
    }
    return out;
  }

  /** #listAll pages through the current state with no label filter; counting the rest is one index scan. */
  #listAll(where: string[], params: unknown[], limit: number | undefined, past: Past[]): Page {
    const cond = where.join(' AND ');
    if (limit === undefined && past.length === 0) {
      const items = this.#stmt(`SELECT value FROM current WHERE ${cond} ORDER BY namespace, name`).pluck().all(...params) as string[];
      return { items, remaining: 0 };
    }
    const sql = `SELECT namespace, name, value FROM current WHERE ${cond} ORDER BY namespace, name`;
    const rows = (limit === undefined ? this.#stmt(sql).all(...params) : this.#stmt(`${sql} LIMIT ?`).all(...params, limit)) as Past[];
    const merged = mergeKeyed(rows, past, limit);
    const items = merged.map((r) => r.value);
    if (limit === undefined || merged.length < limit) return { items, remaining: 0 };
    const last = merged[merged.length - 1];
    const remaining =
      (this.#stmt(`SELECT count(*) FROM current WHERE ${cond} AND (namespace, name) > (?, ?)`).pluck().get(...params, last.namespace, last.name) as number) +
      past.filter((p) => keyLess(last, p)).length;
    return { items, remaining, last: { namespace: last.namespace, name: last.name } };
  }

  /** #listFiltered checks labels from the labels column first and reads only the values that match. */
  #listFiltered(where: string[], params: unknown[], filter: (labels: Record<string, string>) => boolean, limit: number | undefined, past: Past[]): Page {
    const rows = this.#stmt(`SELECT rowid, namespace, name, labels FROM current WHERE ${where.join(' AND ')} ORDER BY namespace, name`)
      .raw()
      .all(...params) as [number, string, string, string | null][];
    const matching: (Keyed & { rowid: number })[] = [];
    for (const [rowid, namespace, name, labels] of rows) {
      if (filter(labels === null ? {} : (JSON.parse(labels) as Record<string, string>))) matching.push({ rowid, namespace, name });
    }
    const all = mergeKeyed(matching, past);
    const picked = limit === undefined ? all : all.slice(0, limit);
    const byRowid = this.#stmt('SELECT value FROM current WHERE rowid = ?').pluck();
    const items = picked.map((p) => ('value' in p ? p.value : (byRowid.get(p.rowid) as string)));
    const last = picked.at(-1);
    return { items, remaining: all.length - picked.length, last: last && { namespace: last.namespace, name: last.name } };
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
    // Replay and registration happen in one synchronous stretch: no commit of this process can fall between them.
    // The replay reads, in one snapshot, everything up to #rev (taking in other processes' commits first); the
    // listener takes only revisions above #rev, so changes waiting in #unsent are not sent twice.
    // Replayed rows go out at once; live changes follow after their commit.
    let rows: LogRow[] = [];
    if (from !== undefined) {
      this.#snapshot(() => {
        this.#catchUp(this.#head());
        if (from < this.#rev) this.#compacted = Math.max(this.#compacted, this.#storedCompacted());
        if (from < this.#compacted) {
          throw new StoreError('Expired', `too old resource version: ${from} (${this.#compacted})`, this.#compacted);
        }
        if (from < this.#rev) rows = this.#replayRows(resource, opts.namespace, from, this.#rev);
      });
    }
    const w = this.#hub.add(resource, opts.namespace, Math.max(from ?? this.#rev, this.#rev), onEvent, opts.onProgress);
    const wantsPrev = opts.prev !== false;
    if (wantsPrev) this.#prevWatchers.set(resource, (this.#prevWatchers.get(resource) ?? 0) + 1);
    let stopped = false;
    for (const row of rows) {
      if (stopped) break;
      this.#hub.deliver(onEvent, toEvent(changeOf(resource, row)));
    }
    if (!stopped && from !== undefined && from < this.#rev && opts.onProgress) {
      try {
        opts.onProgress(this.#rev);
      } catch (err) {
        this.#log?.error({ err, resource }, 'store: watch progress callback threw');
      }
    }
    return {
      stop: () => {
        if (!stopped && wantsPrev) {
          const n = (this.#prevWatchers.get(resource) ?? 1) - 1;
          if (n > 0) this.#prevWatchers.set(resource, n);
          else this.#prevWatchers.delete(resource);
        }
        stopped = true;
        w.stop();
      },
    };
  }

  #replayRows(resource: string, namespace: string | undefined, from: number, to: number): LogRow[] {
    const cols = 'id, namespace, name, created, deleted, value, old_value';
    return namespace === undefined
      ? (this.#stmt(`SELECT ${cols} FROM log WHERE resource = ? AND id > ? AND id <= ? ORDER BY id`).all(resource, from, to) as LogRow[])
      : (this.#stmt(`SELECT ${cols} FROM log WHERE resource = ? AND id > ? AND id <= ? AND namespace = ? ORDER BY id`).all(resource, from, to, namespace) as LogRow[]);
  }

  async compact(revision?: number): Promise<void> {
    while (this.#compaction) await this.#compaction.catch(() => {});
    if (this.#closed) return;
    this.#compaction = this.#compactNow(revision).finally(() => {
      this.#compaction = undefined;
    });
    return this.#compaction;
  }

  /**
   * #compactNow deletes log rows in (compacted, target] a batch per transaction, yielding between, then truncates the
   * WAL. Another process may compact the same file: each batch starts from the compacted revision stored in the file
   * and never lowers it.
   */
  async #compactNow(revision: number | undefined): Promise<void> {
    this.#writesSinceCompact = 0;
    this.#sync();
    const target = revision === undefined ? compactTarget(this.#rev, this.#compacted, this.#keep, this.#committedBy(Date.now() - this.#historyMs)) : Math.min(revision, this.#rev);
    // writes newer than the history period were kept: when it has passed for them, compact again (a burst of writes
    // faster than the history period would otherwise wait for the next timer or the next many writes)
    if (!this.#closed && revision === undefined && (target ?? 0) < this.#rev && !this.#followUp && this.#historyMs < (this.#compactIntervalMs || Infinity)) {
      this.#followUp = setTimeout(() => {
        this.#followUp = undefined;
        this.#autoCompact();
      }, this.#historyMs + 100);
      this.#followUp.unref();
    }
    if (target === undefined || target <= this.#compacted) return;
    const started = performance.now();
    // on the writer, between write batches: the target is at most #rev, below every revision of a batch still out
    let deleted = 0;
    while (this.#compacted < target) {
      if (this.#closed) return;
      const r = await this.#writer.run('compact', Math.min(this.#compacted + COMPACT_BATCH, target));
      deleted += r.n;
      this.#compacted = Math.max(this.#compacted, r.compacted);
    }
    if (this.#closed) return;
    const cp = await this.#writer.run('checkpoint', null);
    this.#log?.debug({ target, deleted, walBusy: cp?.busy, ms: Math.round(performance.now() - started) }, 'store: compacted');
  }

  /** #committedBy is the newest revision known to have been committed at or before time `t` (0 = none). */
  #committedBy(t: number): number {
    let rev = 0;
    let drop = 0;
    for (const m of this.#marks) {
      if (m.t > t) break;
      rev = m.revision;
      if (m.revision <= this.#compacted) drop++;
    }
    // marks at or below the compacted revision are spent, but the newest of them still answers for its time
    if (drop > 1) this.#marks.splice(0, drop - 1);
    return rev;
  }

  /** #mark records that the current revision was committed now (one mark per second of writes). */
  #mark(): void {
    const now = Date.now();
    const last = this.#marks[this.#marks.length - 1];
    if (last && Math.floor(last.t / 1000) === Math.floor(now / 1000)) {
      last.t = now;
      last.revision = this.#rev;
    } else this.#marks.push({ t: now, revision: this.#rev });
  }

  #autoCompact(): void {
    if (this.#compaction || this.#closed) return;
    this.compact().catch((err) => this.#log?.error({ err }, 'store: compaction failed'));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#followUp) clearTimeout(this.#followUp);
    if (this.#poller) clearInterval(this.#poller);
    this.#flush();
    while (this.#inFlight.size) await Promise.all([...this.#inFlight]);
    if (this.#compaction) await this.#compaction.catch(() => {});
    // the reading connection first: the last one to close checkpoints the WAL, and that is better done on the writer
    this.#db.close();
    await this.#writer.close();
  }

  #open(): void {
    if (this.#closed) throw new Error('store: closed');
  }

  #stmt(sql: string): Database.Statement {
    let s = this.#stmts.get(sql);
    if (!s) this.#stmts.set(sql, (s = this.#db.prepare(sql)));
    return s;
  }

  /**
   * #enqueue queues one write. The object is serialised here, once, with a stand-in for its resourceVersion (an
   * object that carries its text is not serialised again): what crosses to the writer is text.
   */
  #enqueue(kind: WriteKind, resource: string, obj: KubeObject, expectedRevision?: number): Promise<KubeObject> {
    return new Promise<KubeObject>((resolve, reject) => {
      this.#open();
      const { namespace, name } = keyOf(obj);
      const op: WriteOp = { kind, resource, namespace, name, expectedRevision, old: false };
      let shell: KubeObject | undefined;
      if (kind !== 'delete') {
        op.text = serialise(obj); // throws for e.g. a BigInt or a cycle: this write fails alone
        op.labels = labelsText(obj);
        if (serialisedOf(obj)) shell = { ...obj, metadata: { ...obj.metadata } };
      }
      this.#queue.push({ op, shell, resolve, reject });
      if (!this.#flushScheduled && this.#inFlight.size < BATCHES_IN_FLIGHT) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  /**
   * #flush sends every queued write to the writer as one batch (one transaction, one fsync), unless
   * BATCHES_IN_FLIGHT are out: then they go when one answers (group commit).
   */
  #flush(): void {
    this.#flushScheduled = false;
    if (this.#inFlight.size >= BATCHES_IN_FLIGHT || this.#queue.length === 0) return;
    const writes = this.#queue;
    this.#queue = [];
    for (const w of writes) w.op.old = w.op.kind !== 'create' && this.#prevWatchers.has(w.op.resource);
    const batch: Promise<void> = this.#writer
      .run(
        'batch',
        writes.map((w) => w.op),
      )
      .then(
        (r) => this.#settle(writes, r),
        (err) => {
          this.#log?.error({ err, writes: writes.length }, 'store: write batch failed');
          for (const w of writes) w.reject(err);
        },
      )
      .catch((err) => this.#log?.error({ err }, 'store: settling a write batch failed'))
      .finally(() => {
        this.#inFlight.delete(batch);
        this.#flush();
      });
    this.#inFlight.add(batch);
  }

  /**
   * #settle takes in a committed batch: other processes' commits below it go to the watchers first (none in the
   * single-process case), then its own changes — unless a read already took them in from the file (guarded by
   * revision: each is delivered once) — and the writes resolve.
   */
  #settle(writes: PendingWrite[], { head, results }: BatchResult): void {
    if (head > this.#rev) this.#catchUp(head);
    let committed = 0;
    results.forEach((r, i) => {
      const w = writes[i];
      if (!r.ok) {
        w.reject(fromWire(r.error));
        return;
      }
      committed++;
      const { kind, resource, namespace, name } = w.op;
      const value = r.value ?? joinStamped(w.op.text!, r.revision);
      if (r.revision > this.#rev) {
        this.#rev = r.revision;
        const oldValue = r.old !== undefined ? r.old : kind !== 'create' && this.#prevWatchers.has(resource) ? this.#oldValue(r.revision) : null;
        const summary = w.shell && serialisedOf(w.shell)?.summary;
        this.#unsent.push({ revision: r.revision, resource, namespace, name, type: EVENT_TYPE[kind], value, oldValue, ...(summary ? { summary } : {}) });
      }
      w.resolve(written(w, r.revision, value));
    });
    if (committed > 0) {
      this.#mark();
      this.#scheduleSend();
    }
    this.#writesSinceCompact += committed;
    if (this.#compactEveryWrites > 0 && this.#writesSinceCompact >= this.#compactEveryWrites) this.#autoCompact();
  }

  /**
   * #oldValue reads the value a write replaced from its log row, for a watcher that wants prev and started while the
   * write was out. The row is there: compaction targets stay at or below #rev, which was below it.
   */
  #oldValue(revision: number): string | null {
    return (this.#stmt('SELECT old_value FROM log WHERE id = ?').pluck().get(revision) as string | null | undefined) ?? null;
  }

  /** #scheduleSend arranges for what waits in #unsent (up to #rev) to reach the watchers soon. */
  #scheduleSend(): void {
    this.#unsentRevision = this.#rev;
    if (this.#sendScheduled) return;
    this.#sendScheduled = true;
    // after the writes' own continuations: nobody may count on seeing their event by the time a write resolves
    setImmediate(() => this.#send());
  }

  /** #send hands committed changes to the watchers, after the writes settled (delivery is not part of a write). */
  #send(): void {
    this.#sendScheduled = false;
    const changes = this.#unsent;
    this.#unsent = [];
    for (const c of changes) this.#hub.emit(c);
    this.#hub.progress(this.#unsentRevision);
  }
}
