// offload: a small pool of worker threads for CPU-heavy pure work on request bodies (a large YAML body), so one request never stalls the event loop for every other client.
import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Status } from '../api/types.ts';
import { ApiError, errors } from '../api/errors.ts';

/** OffloadRequest is one task for a worker. */
export interface OffloadRequest {
  id: number;
  task: 'yaml';
  arg: string;
}

/** OffloadReply is a worker's answer: the value, an ApiError's Status, or another error's message. */
export type OffloadReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; status?: Status; message?: string };

interface Job {
  req: OffloadRequest;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

interface Slot {
  worker: Worker;
  job?: Job;
  idle?: NodeJS.Timeout;
}

const WORKER_SCRIPT = fileURLToPath(new URL(`./offload-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url));

/**
 * OffloadPool runs tasks on at most `size` worker threads (started on first use, ended after `idleMs` without work so
 * an idle server holds none), one task per worker at a time; the rest wait in arrival order. The queue is bounded by
 * the in-flight request limits, since each task belongs to a request being served.
 */
export class OffloadPool {
  readonly #size: number;
  readonly #idleMs: number;
  readonly #slots: Slot[] = [];
  readonly #queue: Job[] = [];
  #next = 1;
  #closed = false;

  constructor(opts: { size?: number; idleMs?: number } = {}) {
    this.#size = Math.max(1, opts.size ?? Math.min(2, availableParallelism()));
    this.#idleMs = opts.idleMs ?? 30_000;
  }

  /** run does one task on a worker; an ApiError thrown there is thrown here as the same ApiError. */
  run(task: OffloadRequest['task'], arg: string): Promise<unknown> {
    if (this.#closed) return Promise.reject(errors.internal('the server is shutting down'));
    return new Promise((resolve, reject) => {
      this.#queue.push({ req: { id: this.#next++, task, arg }, resolve, reject });
      this.#pump();
    });
  }

  /** workers is how many threads are running now. */
  get workers(): number {
    return this.#slots.length;
  }

  close(): void {
    this.#closed = true;
    for (const j of this.#queue.splice(0)) j.reject(errors.internal('the server is shutting down'));
    for (const s of this.#slots.splice(0)) {
      clearTimeout(s.idle);
      s.job?.reject(errors.internal('the server is shutting down'));
      void s.worker.terminate();
    }
  }

  #pump(): void {
    while (this.#queue.length) {
      let slot = this.#slots.find((s) => !s.job);
      if (!slot) {
        if (this.#slots.length >= this.#size) return;
        slot = this.#spawn();
      }
      const job = this.#queue.shift()!;
      clearTimeout(slot.idle);
      slot.job = job;
      slot.worker.ref();
      slot.worker.postMessage(job.req);
    }
  }

  #spawn(): Slot {
    const worker = new Worker(WORKER_SCRIPT);
    const slot: Slot = { worker };
    worker.on('message', (m: OffloadReply) => {
      const job = slot.job;
      if (!job || job.req.id !== m.id) return;
      slot.job = undefined;
      if (m.ok) job.resolve(m.value);
      else job.reject(m.status ? new ApiError(m.status) : errors.internal(m.message ?? 'worker failed'));
      this.#rest(slot);
      this.#pump();
    });
    const lost = (err: unknown) => {
      const i = this.#slots.indexOf(slot);
      if (i < 0) return;
      this.#slots.splice(i, 1);
      clearTimeout(slot.idle);
      slot.job?.reject(errors.internal(`worker failed: ${(err as Error)?.message ?? err}`));
      slot.job = undefined;
      this.#pump();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`exited with ${code}`)));
    this.#slots.push(slot);
    return slot;
  }

  /** #rest lets an idle worker not hold the process open, and ends it after idleMs. */
  #rest(slot: Slot): void {
    slot.worker.unref();
    slot.idle = setTimeout(() => {
      const i = this.#slots.indexOf(slot);
      if (i < 0 || slot.job) return;
      this.#slots.splice(i, 1);
      void slot.worker.terminate();
    }, this.#idleMs);
    slot.idle.unref();
  }
}
