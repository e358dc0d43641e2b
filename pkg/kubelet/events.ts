// events: records core/v1 Events through the API, aggregating repeats by bumping count, without blocking callers.
import type { Logger } from 'pino';
import { ApiError } from '../api/errors.ts';
import { lookupKind } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';
import type { Client } from '../client/index.ts';

const eventInfo = lookupKind('v1', 'Event')!;
const CACHE_MAX = 4096;
/** MAX_QUEUE bounds unsent events; beyond it the oldest are dropped (events are best effort, as upstream). */
const MAX_QUEUE = 1000;

/** EventTarget is the object an event is about (a Pod, possibly one of its containers via fieldPath, or the Node). */
export interface EventTarget {
  kind: string;
  apiVersion?: string;
  namespace?: string;
  name: string;
  uid?: string;
  fieldPath?: string;
}

interface Seen {
  name: string;
  namespace: string;
  count: number;
  firstTimestamp: string;
}

/** podTarget names a pod, or one of its containers as upstream's fieldPath `spec.containers{name}`. */
export function podTarget(pod: KubeObject, container?: string): EventTarget {
  const t: EventTarget = { kind: 'Pod', apiVersion: 'v1', namespace: pod.metadata.namespace, name: pod.metadata.name!, uid: pod.metadata.uid };
  if (container) {
    const init = (pod.spec?.initContainers ?? []).some((c: any) => c.name === container);
    t.fieldPath = `spec.${init ? 'initContainers' : 'containers'}{${container}}`;
  }
  return t;
}

/** EventRecorder sends events one at a time in order; equal events (object, reason, message, type) bump a count. */
export class EventRecorder {
  private readonly client: Client;
  private readonly node: string;
  private readonly log: Logger;
  private readonly seen = new Map<string, Seen>();
  private readonly queue: (() => Promise<void>)[] = [];
  private sending = false;
  private seq = 0;

  constructor(client: Client, node: string, log: Logger) {
    this.client = client;
    this.node = node;
    this.log = log;
  }

  /** event queues one event; it returns at once. */
  event(target: EventTarget, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.log.debug({ object: `${target.namespace ?? ''}/${target.name}`, reason, type }, message);
    if (this.queue.length >= MAX_QUEUE) this.queue.shift();
    const at = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    this.queue.push(() => this.send(target, type, reason, message, at));
    if (!this.sending) void this.drain();
  }

  /** flush resolves once every queued event was sent, or after `timeoutMs` (tests, shutdown). */
  async flush(timeoutMs = 2000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while ((this.sending || this.queue.length) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  }

  private async drain(): Promise<void> {
    this.sending = true;
    while (this.queue.length) {
      const job = this.queue.shift()!;
      try {
        await job();
      } catch (err) {
        this.log.debug({ err }, 'could not record event');
      }
    }
    this.sending = false;
  }

  private async send(t: EventTarget, type: string, reason: string, message: string, at: string): Promise<void> {
    const ns = t.namespace ?? 'default';
    const key = `${t.kind}|${ns}|${t.name}|${t.uid ?? ''}|${t.fieldPath ?? ''}|${type}|${reason}|${message}`;
    const prev = this.seen.get(key);
    if (prev) {
      prev.count++;
      try {
        await this.client.patch(eventInfo, prev.namespace, prev.name, { count: prev.count, lastTimestamp: at }, 'merge');
        this.touch(key, prev);
        return;
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 404)) throw err;
        this.seen.delete(key);
      }
    }
    const name = `${t.name}.${(BigInt(Date.now()) * 1_000_000n + BigInt(this.seq++ % 1_000_000)).toString(16)}`;
    const involved: Record<string, unknown> = { kind: t.kind, namespace: t.kind === 'Node' ? undefined : ns, name: t.name, uid: t.uid, apiVersion: t.apiVersion ?? 'v1' };
    if (t.fieldPath) involved.fieldPath = t.fieldPath;
    const ev: KubeObject = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace: ns },
      involvedObject: involved,
      reason,
      message,
      source: { component: 'kubelet', host: this.node },
      firstTimestamp: at,
      lastTimestamp: at,
      count: 1,
      type,
      eventTime: null,
      reportingComponent: 'kubelet',
      reportingInstance: this.node,
    };
    await this.client.create(eventInfo, ns, ev);
    this.touch(key, { name, namespace: ns, count: 1, firstTimestamp: at });
  }

  private touch(key: string, s: Seen): void {
    this.seen.delete(key);
    this.seen.set(key, s);
    if (this.seen.size > CACHE_MAX) this.seen.delete(this.seen.keys().next().value!);
  }
}
