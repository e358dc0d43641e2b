// writer: the store's write path off the event loop — a worker thread (writer-worker.ts; one per process, shared by its stores, each with a connection of its own there) commits the write batches and compaction, so no SQL and no fsync of a write runs on the event loop; this side ships finished text and takes back revisions and errors.
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { Serialised, WriteKind } from './mvcc.ts';
import { StoreError, type StoreErrorCode } from './types.ts';
import { workerExecArgv } from '../util/worker.ts';

/** WriteOp is one queued write as it crosses to the writer: the key, the finished text, the precondition. */
export interface WriteOp {
  kind: WriteKind;
  resource: string;
  namespace: string;
  name: string;
  /** create/update: the stored text is `before + JSON.stringify(String(revision)) + after` (mvcc.joinStamped) */
  text?: Serialised;
  /** create/update: the labels column (mvcc.labelsText) */
  labels?: string | null;
  expectedRevision?: number;
  /** answer with the value the write replaced: a watcher of this resource reads StoreEvent.prev */
  old: boolean;
}

/**
 * OpResult is what one write came to inside the batch: its revision, for a delete the stored text (the last state,
 * stamped with the deletion's revision), and the replaced value when it was asked for (null: there was none) — or
 * the error it failed with alone (a precondition, a value that does not parse), having changed nothing.
 */
export type OpResult = { ok: true; revision: number; value?: string; old?: string | null } | { ok: false; error: WireError };

/** BatchResult is a committed batch: the head revision read under the write lock before it, and one result per op. */
export interface BatchResult {
  head: number;
  results: OpResult[];
}

/** CompactResult is one compaction transaction: log rows deleted and the compacted revision stored now. */
export interface CompactResult {
  n: number;
  compacted: number;
}

/** Requests names each request the writer serves, with its argument and result (both cross by structured clone). */
export interface Requests {
  /** apply the writes in one durable transaction (group commit) */
  batch: { arg: WriteOp[]; result: BatchResult };
  /** delete log rows in (stored compacted, arg] and store the compacted revision */
  compact: { arg: number; result: CompactResult };
  /** truncate the WAL (wal_checkpoint(TRUNCATE)) */
  checkpoint: { arg: null; result: { busy: number; log: number; checkpointed: number } | undefined };
  /** close the store's connection */
  close: { arg: null; result: null };
}

export type RequestName = keyof Requests;

export interface WriterRequest {
  id: number;
  /** the store's connection on the thread (opened from `path` by its first request) */
  conn: number;
  path: string;
  type: RequestName;
  arg: unknown;
}

export type WriterReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError };

/** WriterData is what the thread starts with: the port its answers go to. */
export interface WriterData {
  replies: MessagePort;
}

/**
 * WireError is an error as it crosses the thread boundary: a StoreError keeps its code and oldest revision, an
 * SQLite error its code (SQLITE_BUSY, SQLITE_FULL), anything else its message.
 */
export interface WireError {
  message: string;
  store?: StoreErrorCode;
  oldest?: number;
  sqlite?: string;
}

/** toWire describes an error for the message back. */
export function toWire(e: unknown): WireError {
  if (e instanceof StoreError) return { message: e.message, store: e.code, ...(e.oldest !== undefined ? { oldest: e.oldest } : {}) };
  if (e instanceof Database.SqliteError) return { message: e.message, sqlite: e.code };
  return { message: e instanceof Error ? e.message : String(e) };
}

/** fromWire rebuilds the error on this side, of the same class: a StoreError, an SqliteError, or an Error. */
export function fromWire(w: WireError): Error {
  if (w.store) return new StoreError(w.store, w.message, w.oldest);
  if (w.sqlite) return new Database.SqliteError(w.message, w.sqlite);
  return new Error(w.message);
}

export { workerExecArgv };

const WORKER_SCRIPT = fileURLToPath(new URL(`./writer-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url));

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

/**
 * WriterThread is the one writer thread of this process. It starts when a store opens, serves requests one at a
 * time in the order sent, holds the process open only while a request is out, ends shortly after the last store using
 * it closed, and starts again on the next request if it died (the requests it held fail with the reason; the stores'
 * connections are opened again by their next request).
 *
 * One thread, not one per store: starting one costs tens of ms from compiled JS and hundreds from TypeScript sources
 * (each thread loads the type stripper), and a process has one store but tests open many. The stores of one process
 * then commit one after the other, which only tests (several stores in one process) notice.
 */
class WriterThread {
  readonly #pending = new Map<number, Pending>();
  #worker: Worker | undefined;
  /** this side of the thread's answers: message events, or read at once by collect */
  #replies: MessagePort | undefined;
  /** the timer that looks for answers at the start of the next turn (collect) */
  #collector: NodeJS.Timeout | undefined;
  #next = 1;
  #linger: NodeJS.Timeout | undefined;
  /** how many stores have opened a Writer and not closed it */
  users = 0;

  get running(): boolean {
    return this.#worker !== undefined;
  }

  /** warm starts the thread if it is not up, so that a store's first write does not wait for it to boot */
  warm(): void {
    clearTimeout(this.#linger);
    this.#worker ??= this.#spawn();
  }

  run(conn: number, path: string, type: RequestName, arg: unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const worker = this.#worker ?? this.#spawn();
      const id = this.#next++;
      this.#pending.set(id, { resolve, reject });
      if (this.#pending.size === 1) worker.ref();
      worker.postMessage({ id, conn, path, type, arg } satisfies WriterRequest);
      this.#collector ??= setTimeout(() => {
        this.#collector = undefined;
        this.collect();
      }, 0).unref();
    });
  }

  /**
   * collect takes in the answers already there. It runs at the start of the turn after the requests went, and
   * takeWriterAnswers lets the HTTP server run it before each request it reads: a commit takes about a millisecond,
   * and an answer that lands while a busy loop reads requests would otherwise wait for the next turn's poll — a
   * write's caller waiting a turn more than a read's. Answers not taken this way come as message events.
   */
  collect(): void {
    const port = this.#replies;
    if (!port) return;
    for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) this.#answer(m.message as WriterReply);
  }

  #answer(m: WriterReply): void {
    const p = this.#pending.get(m.id);
    if (!p) return;
    this.#pending.delete(m.id);
    if (this.#pending.size === 0) this.#worker?.unref();
    if (m.ok) p.resolve(m.value);
    else p.reject(fromWire(m.error));
  }

  /**
   * release is called when the last store closed: the thread ends after LINGER_MS unless a store uses it again
   * (tests close one store and open the next). It holds the process open meanwhile no more than when idle: not at all.
   */
  release(): void {
    clearTimeout(this.#linger);
    this.#linger = setTimeout(() => {
      const worker = this.#worker;
      if (!worker || this.users > 0 || this.#pending.size > 0) return;
      this.#worker = undefined;
      this.#replies?.close();
      this.#replies = undefined;
      void worker.terminate();
    }, LINGER_MS);
    this.#linger.unref();
  }

  #spawn(): Worker {
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(WORKER_SCRIPT, { execArgv: workerExecArgv(process.execArgv), workerData: { replies: port2 } satisfies WriterData, transferList: [port2] });
    this.#worker = worker;
    this.#replies = port1;
    worker.unref();
    // the worker is referenced while requests are out; its answers' port never holds the process by itself
    port1.on('message', (m: WriterReply) => this.#answer(m));
    port1.unref();
    const lost = (err: Error) => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      this.#replies = undefined;
      port1.close();
      const pending = [...this.#pending.values()];
      this.#pending.clear();
      for (const p of pending) p.reject(err);
    };
    worker.on('error', (err: unknown) => lost(err instanceof Error ? err : new Error(String(err))));
    worker.on('exit', (code) => lost(new Error(`store: the writer thread exited with code ${code}`)));
    return worker;
  }
}

/** takeWriterAnswers takes in the commits the writer thread has answered so far (see WriterThread.collect). */
export function takeWriterAnswers(): void {
  thread.collect();
}

/** how long the thread stays after its last store closed, in ms */
const LINGER_MS = 1000;

const thread = new WriterThread();
let nextConn = 1;

/** Writer is one store's way to the writer thread: its requests run on its own connection to its file, in order. */
export class Writer {
  readonly #path: string;
  readonly #conn = nextConn++;
  #closed = false;

  /** a Writer starts the thread (it boots while the store opens) and keeps it until close */
  constructor(path: string) {
    this.#path = path;
    thread.users++;
    thread.warm();
  }

  /** running says whether the writer thread is up (it starts when a store opens and ends after its last store closed) */
  static get running(): boolean {
    return thread.running;
  }

  /** run sends one request; it settles with the writer's answer, or the error it failed with (same class). */
  run<T extends RequestName>(type: T, arg: Requests[T]['arg']): Promise<Requests[T]['result']> {
    if (this.#closed) return Promise.reject(new Error('store: the writer is closed'));
    return thread.run(this.#conn, this.#path, type, arg) as Promise<Requests[T]['result']>;
  }

  /**
   * close waits for what this store sent and closes its connection (the file is released when it resolves); the
   * thread ends shortly after its last store closed.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.run('close', null);
    } catch {
      // the thread died: the connection went with it
    }
    this.#closed = true;
    if (--thread.users === 0) thread.release();
  }
}
