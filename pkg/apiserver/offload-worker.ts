// offload-worker: the worker thread behind offload.ts — runs one pure task at a time (parse a large YAML body) and posts the value, or the ApiError's Status, back.
import { parentPort } from 'node:worker_threads';
import { ApiError } from '../api/errors.ts';
import { decodeYaml } from './negotiate.ts';
import type { OffloadReply, OffloadRequest } from './offload.ts';

/** TASKS are the pure functions a worker runs; arguments and results cross by structured clone. */
const TASKS: Record<OffloadRequest['task'], (arg: string) => unknown> = {
  yaml: (text) => decodeYaml(text),
};

parentPort!.on('message', (m: OffloadRequest) => {
  let reply: OffloadReply;
  try {
    reply = { id: m.id, ok: true, value: TASKS[m.task](m.arg) };
  } catch (e) {
    reply = e instanceof ApiError ? { id: m.id, ok: false, status: e.status } : { id: m.id, ok: false, message: (e as Error)?.message ?? String(e) };
  }
  parentPort!.postMessage(reply);
});
