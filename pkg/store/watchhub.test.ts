// watchhub.test: fan-out rules — parse once and only when read, namespace filter, the `after` seam, stop, contained errors.
import { describe, expect, it } from 'vitest';
import type { StoreEvent } from './types.ts';
import { LAZY_BYTES, WatchHub, type Change } from './watchhub.ts';

function change(revision: number, namespace = 'ns', type: Change['type'] = 'MODIFIED'): Change {
  return { revision, resource: 'pods', namespace, name: 'a', type, value: `{"metadata":{"name":"a","resourceVersion":"${revision}"}}`, oldValue: '{"metadata":{"name":"a"}}' };
}

describe('WatchHub', () => {
  it('shares one parsed event between listeners and filters by namespace and revision', () => {
    const errs: unknown[] = [];
    const hub = new WatchHub((err) => errs.push(err));
    const a: StoreEvent[] = [];
    const b: StoreEvent[] = [];
    const other: StoreEvent[] = [];
    hub.add('pods', undefined, 0, (ev) => a.push(ev));
    hub.add('pods', 'ns', 1, (ev) => b.push(ev));
    hub.add('pods', 'other', 0, (ev) => other.push(ev));
    hub.add('pods', undefined, 0, () => {
      throw new Error('boom');
    });
    hub.emit(change(1));
    hub.emit(change(2));
    expect(a.map((e) => e.revision)).toEqual([1, 2]);
    expect(b.map((e) => e.revision)).toEqual([2]);
    expect(b[0]).toBe(a[1]);
    expect(a[0].prev).toEqual({ metadata: { name: 'a' } });
    expect(other).toEqual([]);
    expect(errs).toHaveLength(2);
  });

  it('ADDED has no prev; stop() during delivery skips the stopped listener', () => {
    const hub = new WatchHub(() => {});
    const got: string[] = [];
    let w2 = { stop() {} };
    hub.add('pods', undefined, 0, (ev) => {
      got.push(`1:${ev.type}:${ev.prev === undefined}`);
      w2.stop();
    });
    w2 = hub.add('pods', undefined, 0, () => got.push('2'));
    hub.emit(change(1, 'ns', 'ADDED'));
    expect(got).toEqual(['1:ADDED:true']);
    expect(hub.count()).toBe(1);
  });

  it('parses a large value only when a listener reads the object; the key and summary come without it', () => {
    const hub = new WatchHub(() => {});
    const seen: string[] = [];
    const summary = { apiVersion: 'v1', kind: 'Pod', namespace: 'ns', name: 'a', labels: { x: '1' }, fields: { 'metadata.name': 'a' } };
    // not JSON: reading the object would throw, routing by key and summary does not
    const large = 'not json'.padEnd(LAZY_BYTES, ' ');
    hub.add('pods', undefined, 0, (ev) => seen.push(`${ev.namespace}/${ev.name} ${ev.summary?.labels?.x} ${ev.value === large}`));
    hub.emit({ ...change(1), value: large, summary });
    expect(seen).toEqual(['ns/a 1 true']);
    const evs: StoreEvent[] = [];
    hub.add('pods', undefined, 0, (ev) => evs.push(ev));
    hub.emit({ ...change(2), value: large });
    expect(() => evs[0].object).toThrow(SyntaxError);
    const big = JSON.stringify({ metadata: { name: 'a', resourceVersion: '3' }, data: { blob: 'x'.repeat(LAZY_BYTES) } });
    hub.emit({ ...change(3), value: big });
    expect(evs[1].object).toBe(evs[1].object);
    expect(evs[1].object.metadata.resourceVersion).toBe('3');
    expect({ ...evs[1] }.object).toEqual(JSON.parse(big));
    // a small value is parsed at once, into a plain property
    hub.emit(change(4));
    expect(Object.getOwnPropertyDescriptor(evs[2], 'object')?.value).toEqual({ metadata: { name: 'a', resourceVersion: '4' } });
  });
});
