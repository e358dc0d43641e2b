// store: the persistence layer's one entry — the Store contract and its SQLite implementation.
export * from './types.ts';
export { openSqliteStore, type SqliteStoreOptions } from './sqlite.ts';
export { takeWriterAnswers } from './writer.ts';
