// connection: how every connection to a store's SQLite file is opened, the reading one (sqlite.ts) and the writing one
// (writer-worker.ts) alike.
import Database from 'better-sqlite3';

/** PAGE_CACHE_KIB is each connection's page cache (PRAGMA cache_size). */
const PAGE_CACHE_KIB = 4096;

/**
 * openConnection opens a store's file: WAL, synchronous = FULL (a commit is durable when it returns), a 5 s busy
 * timeout for another process's write lock, the WAL truncated to 4 MiB after checkpoints, and 4 MiB of page cache
 * (better-sqlite3 defaults to 16 MiB a connection, malloc'd and never given back; reads that miss it come from the
 * kernel's page cache, and objects read often are served by the watch cache).
 */
export function openConnection(path: string): Database.Database {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_size_limit = 4194304');
  db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
  return db;
}
