// offload: a small pool of worker threads for CPU-heavy pure work on request bodies (a large YAML body, the whole compute of a large write), so one request never stalls the event loop for every other client.
import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { KubeObject, Status } from '../api/types.ts';
import { ApiError, errors } from '../api/errors.ts';
import type { CreateResult, CreateTask, UpdateResult, UpdateTask } from './offload-compute.ts';
import { mediaType } from './negotiate.ts';
import { workerExecArgv } from '../util/worker.ts';

/** Tasks names each task a worker runs with its argument and result (both cross by structured clone). */
export interface Tasks {
  /** parse one YAML document (negotiate.decodeYaml) */
  yaml: { arg: string; result: unknown };
  /** decode a body (negotiate.decodeBody) */
  decode: { arg: { bytes: Uint8Array; contentType: string | undefined }; result: unknown };
  /** compute a create (offload-compute.computeCreate) */
  create: { arg: CreateTask; result: CreateResult };
  /** compute one attempt of an update or patch (offload-compute.computeUpdate) */
  update: { arg: UpdateTask; result: UpdateResult };
}

export type TaskName = keyof Tasks;

/** OffloadRequest is one task for a worker. */
export interface OffloadRequest {
  id: number;
  task: TaskName;
  arg: unknown;
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

/**
 * WORKER_NICE is the workers' nice value: they yield the CPU to the event loop. On a busy machine (a 2-core VM, other
 * work beside the server) a second of compute would otherwise take the event loop's share of a core, and every request
 * would wait longer than the compute ever blocked it; at nice 10 the scheduler gives the loop ~9 of 10 slices when
 * both want one.
 */
export const WORKER_NICE = 10;

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
  run<T extends TaskName>(task: T, arg: Tasks[T]['arg']): Promise<Tasks[T]['result']> {
    if (this.#closed) return Promise.reject(errors.internal('the server is shutting down'));
    return new Promise((resolve, reject) => {
      this.#queue.push({ req: { id: this.#next++, task, arg }, resolve: resolve as (v: unknown) => void, reject });
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
    const worker = new Worker(WORKER_SCRIPT, { execArgv: workerExecArgv(process.execArgv) });
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

/**
 * OFFLOAD_WRITE_BYTES and OFFLOAD_WRITE_VALUES: a write whose body, or whose stored object, is this large and holds
 * this many values or more (commas and line breaks counted) is computed on a worker. The compute (decode, patch,
 * defaults, validation, managedFields) costs by the values: ~1 ms per 50–100 of them on the event loop, so 1,000 are
 * ~10–20 ms, where a worker's round trip starts to pay; a large body of few values (one long string) is cheap inline
 * and keeps a worker (and its copy of the schemas) from starting.
 */
export const OFFLOAD_WRITE_BYTES = 64 * 1024;
export const OFFLOAD_WRITE_VALUES = 1000;

/** heavyWrite: `text` (a body's bytes or a stored object's JSON) is large enough to compute on a worker. */
export function heavyWrite(text: Buffer | string): boolean {
  if (text.length < OFFLOAD_WRITE_BYTES) return false;
  let n = 0;
  // counts up to the bound only: a body of a million values costs a thousand searches here
  const reaches = (find: (from: number) => number) => {
    for (let at = find(0); at >= 0; at = find(at + 1)) if (++n >= OFFLOAD_WRITE_VALUES) return true;
    return false;
  };
  if (typeof text === 'string') return reaches((f) => text.indexOf(',', f)) || reaches((f) => text.indexOf('\n', f));
  return reaches((f) => text.indexOf(0x2c, f)) || reaches((f) => text.indexOf(0x0a, f));
}

/** media types a worker decodes (protobuf bodies are decoded where they arrive) */
const WORKER_DECODED = new Set(['', 'application/json', 'application/yaml', 'application/apply-patch+yaml', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/json-patch+json']);

/**
 * LargeBody is a write's body left undecoded for the registry to hand to a worker with the rest of the write's
 * compute; decoding it gives exactly what decodeBody would (the same errors, in the same order against the rest).
 */
export class LargeBody {
  readonly bytes: Buffer;
  readonly contentType: string | undefined;
  constructor(bytes: Buffer, contentType: string | undefined) {
    this.bytes = bytes;
    this.contentType = contentType;
  }

  /** of is a LargeBody for a body heavy enough (heavyWrite), in a media type a worker decodes; undefined for any other. */
  static of(body: Buffer | undefined, contentType: string | undefined): LargeBody | undefined {
    if (!body || !WORKER_DECODED.has(mediaType(contentType)) || !heavyWrite(body)) return undefined;
    return new LargeBody(body, contentType);
  }
}

/** serialised texts of lazy objects not read or changed yet */
const TEXTS = new WeakMap<object, string>();

/**
 * lazyObject is the object `text` holds, parsed only when something looks into it: rendering it as JSON
 * (serialisedText) costs nothing more. Any access parses it once and makes it an ordinary object; from then on
 * serialisedText is undefined, since it may change.
 */
export function lazyObject(text: string): KubeObject {
  const target: Record<string, unknown> = {};
  let parsed = false;
  const ensure = () => {
    if (parsed) return;
    parsed = true;
    TEXTS.delete(proxy);
    Object.assign(target, JSON.parse(text));
  };
  const handler: ProxyHandler<Record<string, unknown>> = {};
  for (const trap of ['set', 'has', 'ownKeys', 'getOwnPropertyDescriptor', 'defineProperty', 'deleteProperty'] as const) {
    (handler as Record<string, unknown>)[trap] = (...args: unknown[]) => {
      ensure();
      return (Reflect[trap] as (...a: unknown[]) => unknown)(...args);
    };
  }
  // resolving a promise with the object asks for `then`, inspecting it for symbols: no Kubernetes object has either
  handler.get = (t, key, receiver) => {
    if (!parsed && (key === 'then' || typeof key === 'symbol')) return undefined;
    ensure();
    return Reflect.get(t, key, receiver);
  };
  const proxy = new Proxy(target, handler);
  TEXTS.set(proxy, text);
  return proxy as KubeObject;
}

/** serialisedText is JSON.stringify(obj) of a lazy object that nothing read yet; undefined for any other object. */
export function serialisedText(obj: object): string | undefined {
  return TEXTS.get(obj);
}

/**
 * typedText: the object JSON `text` (as JSON.stringify makes it) carries `apiVersion` and `kind` with these values, as
 * its first two or its last two members — where a decoded body puts them (kubectl sends them first; a body without
 * them gets them appended). False says only that this cheap look did not find them: parse to know.
 */
export function typedText(text: string, apiVersion: string, kind: string): boolean {
  const pair = `"apiVersion":${JSON.stringify(apiVersion)},"kind":${JSON.stringify(kind)}`;
  // the last two: a top-level member's key follows a comma, and the final string ends right before the closing brace
  return text.startsWith(`{${pair},`) || text === `{${pair}}` || (text.endsWith(`,${pair}}`) && text.startsWith('{'));
}
