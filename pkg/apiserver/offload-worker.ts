// offload-worker: the worker thread behind offload.ts — at a lower CPU priority than the event loop, runs one pure task at a time (parse a large YAML body, decode a body, compute a large write) and posts the value, or the ApiError's Status, back.
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { ApiError, errors } from '../api/errors.ts';
import { decodeBody, decodeYaml } from './negotiate.ts';
import { computeCreate, computeUpdate } from './offload-compute.ts';
import { WORKER_NICE, type OffloadReply, type OffloadRequest, type TaskName, type Tasks } from './offload.ts';

/** TASKS are the pure functions a worker runs; arguments and results cross by structured clone. */
const TASKS: { [T in TaskName]: (arg: Tasks[T]['arg']) => Tasks[T]['result'] } = {
  yaml: (text) => decodeYaml(text),
  decode: ({ bytes, contentType }) =>
    decodeBody(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), contentType, () => {
      throw errors.unsupportedMediaType(contentType ?? '');
    }),
  create: computeCreate,
  update: computeUpdate,
};

/** lowerPriority sets this thread's nice value to WORKER_NICE (Linux: a thread is a task with its own, /proc/thread-self names it). */
function lowerPriority(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, WORKER_NICE);
  } catch {
    // not Linux, or no /proc: the thread keeps the process's priority
  }
}
lowerPriority();

parentPort!.on('message', (m: OffloadRequest) => {
  let reply: OffloadReply;
  try {
    reply = { id: m.id, ok: true, value: (TASKS[m.task] as (arg: unknown) => unknown)(m.arg) };
  } catch (e) {
    reply = e instanceof ApiError ? { id: m.id, ok: false, status: e.status } : { id: m.id, ok: false, message: (e as Error)?.message ?? String(e) };
  }
  parentPort!.postMessage(reply);
});
