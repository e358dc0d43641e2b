// events: records core/v1 Events through the API without blocking callers, deduplicating repeats as upstream's EventCorrelator.
import type { Logger } from 'pino';
import type { Event, ObjectReference } from 'kubernetes-types/core/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { ApiError } from '../api/errors.ts';
import { lookupKind } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';
import type { ApiClient } from './interface.ts';

const eventInfo = lookupKind('v1', 'Event')!;
/** CACHE_MAX is the size of the dedup cache (upstream's maxLruCacheEntries). */
const CACHE_MAX = 4096;
/** MAX_QUEUE bounds unsent events; beyond it the oldest are dropped (events are best effort, as upstream). */
const MAX_QUEUE = 1000;

/** EventTarget is the object an event is about named by reference (a Pod, possibly one of its containers via fieldPath, or the Node). */
export interface EventTarget {
  kind: string;
  apiVersion?: string;
  namespace?: string;
  name: string;
  uid?: string;
  resourceVersion?: string;
  fieldPath?: string;
}

/** EventSource is who reports: a component (`kubelet`, `replicaset-controller`, `default-scheduler`) and optionally its host. */
export interface EventSource {
  component: string;
  host?: string;
}

export type EventType = 'Normal' | 'Warning';

/** Seen is what the correlator remembers of an Event it wrote. */
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
    const init = ((pod as Pod).spec?.initContainers ?? []).some((c) => c.name === container);
    t.fieldPath = `spec.${init ? 'initContainers' : 'containers'}{${container}}`;
  }
  return t;
}

/** objectReference builds an involvedObject from an object (as upstream's ref.GetReference) or passes a target through. */
export function objectReference(target: KubeObject | EventTarget): ObjectReference {
  if (!('metadata' in target) || !target.metadata) {
    const t = target as EventTarget;
    return { kind: t.kind, apiVersion: t.apiVersion ?? 'v1', namespace: t.namespace, name: t.name, uid: t.uid, resourceVersion: t.resourceVersion, fieldPath: t.fieldPath };
  }
  const o = target as KubeObject;
  return { kind: o.kind, apiVersion: o.apiVersion, namespace: o.metadata.namespace, name: o.metadata.name, uid: o.metadata.uid, resourceVersion: o.metadata.resourceVersion };
}

/** eventName is upstream's `<object>.<hex of the unix time in ns>`; `seq` keeps names from one millisecond distinct. */
export function eventName(objectName: string, nowMs: number, seq: number): string {
  return `${objectName}.${(BigInt(nowMs) * 1_000_000n + BigInt(seq % 1_000_000)).toString(16)}`;
}

/** correlationKey is upstream's getEventKey: source, involved object, type, reason and message. */
function correlationKey(src: EventSource, ref: ObjectReference, type: string, reason: string, message: string): string {
  return [src.component, src.host ?? '', ref.kind, ref.namespace ?? '', ref.name, ref.fieldPath ?? '', ref.uid ?? '', ref.apiVersion ?? '', type, reason, message].join('\u0000');
}

/**
 * EventRecorder sends events one at a time in order, off the caller's path. An event equal to one it already
 * wrote (same source, object, type, reason and message) bumps that Event's `count` and `lastTimestamp` by patch,
 * and re-creates it if it was deleted meanwhile.
 */
export class EventRecorder {
  private readonly client: ApiClient;
  private readonly source: EventSource;
  private readonly log: Logger;
  private readonly seen = new Map<string, Seen>();
  private readonly queue: (() => Promise<void>)[] = [];
  private sending = false;
  private seq = 0;
  private idle: (() => void)[] = [];

  constructor(client: ApiClient, source: EventSource, log: Logger) {
    this.client = client;
    this.source = source;
    this.log = log;
  }

  /** event queues one event about `target`; it returns at once. */
  event(target: KubeObject | EventTarget, type: EventType, reason: string, message: string): void {
    const ref = objectReference(target);
    this.log.debug({ object: `${ref.namespace ?? ''}/${ref.name}`, reason, type }, message);
    if (this.queue.length >= MAX_QUEUE) this.queue.shift();
    const at = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    this.queue.push(() => this.send(ref, type, reason, message, at));
    if (!this.sending) void this.drain();
  }

  /** eventf is event with printf-style %s/%d/%v substitution, as upstream's Eventf. */
  eventf(target: KubeObject | EventTarget, type: EventType, reason: string, format: string, ...args: unknown[]): void {
    let i = 0;
    this.event(target, type, reason, format.replace(/%[sdv]/g, () => String(args[i++])));
  }

  /** flush resolves once every queued event was sent, or after `timeoutMs` (tests, shutdown). */
  async flush(timeoutMs = 2000): Promise<void> {
    if (!this.sending && !this.queue.length) return;
    await new Promise<void>((r) => {
      const t = setTimeout(r, timeoutMs);
      t.unref();
      this.idle.push(() => {
        clearTimeout(t);
        r();
      });
    });
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
    for (const r of this.idle.splice(0)) r();
  }

  private async send(ref: ObjectReference, type: EventType, reason: string, message: string, at: string): Promise<void> {
    const key = correlationKey(this.source, ref, type, reason, message);
    const prev = this.seen.get(key);
    if (prev) {
      prev.count++;
      try {
        await this.client.patch(eventInfo, prev.namespace, prev.name, { count: prev.count, lastTimestamp: at, message }, 'strategic');
        this.touch(key, prev);
        return;
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 404)) throw err;
        // deleted meanwhile (TTL or by hand): re-create it under its name with the running count, as upstream
        await this.create(this.build(ref, type, reason, message, prev.name, prev.namespace, prev.firstTimestamp, at, prev.count));
        this.touch(key, prev);
        return;
      }
    }
    // events about cluster-scoped objects live in `default`, as upstream
    const ns = ref.namespace || 'default';
    const name = eventName(ref.name ?? 'unknown', Date.now(), this.seq++);
    await this.create(this.build(ref, type, reason, message, name, ns, at, at, 1));
    this.touch(key, { name, namespace: ns, count: 1, firstTimestamp: at });
  }

  private async create(ev: Event): Promise<void> {
    await this.client.create(eventInfo, ev.metadata.namespace, ev as unknown as KubeObject);
  }

  private build(ref: ObjectReference, type: EventType, reason: string, message: string, name: string, namespace: string, first: string, last: string, count: number): Event {
    const involved: ObjectReference = {};
    for (const [k, v] of Object.entries(ref) as [keyof ObjectReference, string | undefined][]) if (v !== undefined && v !== '') involved[k] = v;
    return {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace },
      involvedObject: involved,
      reason,
      message,
      source: this.source.host ? { component: this.source.component, host: this.source.host } : { component: this.source.component },
      firstTimestamp: first,
      lastTimestamp: last,
      count,
      type,
      reportingComponent: this.source.component,
      reportingInstance: this.source.host ?? '',
    };
  }

  private touch(key: string, s: Seen): void {
    this.seen.delete(key);
    this.seen.set(key, s);
    if (this.seen.size > CACHE_MAX) this.seen.delete(this.seen.keys().next().value!);
  }
}
