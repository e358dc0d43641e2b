// watchhub: fans committed changes out to in-process watchers; each committed value is parsed once, when a watcher first reads it, and shared.
import type { KubeObject } from '../api/types.ts';
import type { ObjectSummary, StoreEvent, Watcher } from './types.ts';

/** Change is one committed log row as the store hands it over: JSON text, not yet parsed. */
export interface Change {
  revision: number;
  resource: string;
  namespace: string;
  name: string;
  type: StoreEvent['type'];
  value: string;
  /** the previous value, for MODIFIED and DELETED */
  oldValue: string | null;
  /** what the write knew of the value (mvcc.Serialised.summary) */
  summary?: ObjectSummary;
}

interface Listener {
  namespace?: string;
  /** deliver only changes with a greater revision: guards the seam between replay and live events */
  after: number;
  onEvent: (ev: StoreEvent) => void;
  onProgress?: (revision: number) => void;
}

/**
 * LAZY_BYTES: a value this long or longer is parsed only when a watcher reads the event's object. Shorter ones are
 * parsed at once: every watcher of an ordinary event reads it, and a plain property is cheaper than an accessor on
 * that path (~8% of a small create's CPU).
 */
export const LAZY_BYTES = 64 * 1024;

/**
 * toEvent makes the event watchers receive from a change. A large value's `object` is parsed when first read, and so
 * is the object of a change that carries its summary; `prev` always: a watcher that routes by the key, the summary
 * and the text (the watch cache) never parses those.
 */
export function toEvent(c: Change): StoreEvent {
  const value = c.value;
  let ev: StoreEvent;
  if (value.length < LAZY_BYTES && !c.summary) {
    ev = { type: c.type, revision: c.revision, resource: c.resource, namespace: c.namespace, name: c.name, value, object: JSON.parse(value) as KubeObject };
  } else {
    ev = { type: c.type, revision: c.revision, resource: c.resource, namespace: c.namespace, name: c.name, value } as StoreEvent;
    let object: KubeObject | undefined;
    Object.defineProperty(ev, 'object', { enumerable: true, get: () => (object ??= JSON.parse(value) as KubeObject) });
  }
  if (c.summary) ev.summary = c.summary;
  const old = c.oldValue;
  if (old !== null && c.type !== 'ADDED') {
    let prev: KubeObject | undefined;
    Object.defineProperty(ev, 'prev', { enumerable: true, get: () => (prev ??= JSON.parse(old) as KubeObject) });
  }
  return ev;
}

/**
 * WatchHub keeps the listeners per resource. emit() delivers at once, in call order (the store calls it after
 * commit, off the write's path); a throwing
 * listener is reported to `onError` and does not keep the others from their event. The event object is
 * shared between listeners: they must not mutate it.
 */
export class WatchHub {
  readonly #byResource = new Map<string, Set<Listener>>();
  readonly #onError: (err: unknown, ev: StoreEvent) => void;

  constructor(onError: (err: unknown, ev: StoreEvent) => void) {
    this.#onError = onError;
  }

  /** add registers a listener for changes of `resource` (in `namespace`, if given) with revision > `after`. */
  add(resource: string, namespace: string | undefined, after: number, onEvent: (ev: StoreEvent) => void, onProgress?: (revision: number) => void): Watcher {
    const l: Listener = { namespace, after, onEvent, onProgress };
    let set = this.#byResource.get(resource);
    if (!set) this.#byResource.set(resource, (set = new Set()));
    const listeners = set;
    listeners.add(l);
    return {
      stop: () => {
        listeners.delete(l);
        if (listeners.size === 0 && this.#byResource.get(resource) === listeners) this.#byResource.delete(resource);
      },
    };
  }

  /** count is how many listeners are registered (all resources). */
  count(): number {
    let n = 0;
    for (const s of this.#byResource.values()) n += s.size;
    return n;
  }

  /** emit delivers one committed change as one event shared by its listeners (parsed at most once, when read). */
  emit(c: Change): void {
    const set = this.#byResource.get(c.resource);
    if (!set) return;
    let ev: StoreEvent | undefined;
    for (const l of [...set]) {
      if (c.revision <= l.after || (l.namespace !== undefined && l.namespace !== c.namespace)) continue;
      if (!set.has(l)) continue; // stopped by an earlier listener of this same event
      ev ??= toEvent(c);
      this.deliver(l.onEvent, ev);
    }
  }

  /** progress tells every listener that wants it that all changes up to `revision` were emitted. */
  progress(revision: number): void {
    for (const set of this.#byResource.values()) {
      for (const l of [...set]) {
        if (!l.onProgress || revision <= l.after || !set.has(l)) continue;
        try {
          l.onProgress(revision);
        } catch (err) {
          this.#onError(err, { type: 'MODIFIED', revision, resource: '', object: { metadata: {} } });
        }
      }
    }
  }

  /** deliver calls one listener, containing what it throws. */
  deliver(onEvent: (ev: StoreEvent) => void, ev: StoreEvent): void {
    try {
      onEvent(ev);
    } catch (err) {
      this.#onError(err, ev);
    }
  }
}
