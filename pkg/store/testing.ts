// testing: a SQLite store in a fresh temporary directory, for the unit tests of what stands on the store.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore, type SqliteStoreOptions } from './sqlite.ts';
import type { Store } from './types.ts';

/** TempStore is a store whose file lives in a directory of its own; close() closes the store and removes the directory. */
export interface TempStore {
  store: Store;
  dir: string;
  close(): Promise<void>;
}

/**
 * openTempStore opens a store in a new directory under the system's temporary one (named `kubeling-<prefix>-…`).
 * Background compaction is off unless `opts` asks for it, so what a test wrote stays readable at its revisions.
 */
export function openTempStore(prefix: string, opts: SqliteStoreOptions = {}): TempStore {
  const dir = mkdtempSync(join(tmpdir(), `kubeling-${prefix}-`));
  const store = openSqliteStore(join(dir, 'state.db'), { compactIntervalMs: 0, ...opts });
  return {
    store,
    dir,
    close: async () => {
      try {
        await store.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
