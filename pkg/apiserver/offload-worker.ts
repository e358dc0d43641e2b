// offload-worker: the worker thread behind offload.ts — runs one pure task at a time (parse a large YAML body, decode a body, compute a large write) and posts the value, or the ApiError's Status, back.
import { parentPort } from 'node:worker_threads';
import { ApiError, errors } from '../api/errors.ts';
import { decodeBody, decodeYaml } from './negotiate.ts';
import { computeCreate, computeUpdate } from './offload-compute.ts';
import type { OffloadReply, OffloadRequest, TaskName, Tasks } from './offload.ts';

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

parentPort!.on('message', (m: OffloadRequest) => {
  let reply: OffloadReply;
  try {
    reply = { id: m.id, ok: true, value: (TASKS[m.task] as (arg: unknown) => unknown)(m.arg) };
  } catch (e) {
    reply = e instanceof ApiError ? { id: m.id, ok: false, status: e.status } : { id: m.id, ok: false, message: (e as Error)?.message ?? String(e) };
  }
  parentPort!.postMessage(reply);
});
