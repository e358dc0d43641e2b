// watchhub.test: fan-out rules — parse once, namespace filter, the `after` seam, stop, contained errors.
import { describe, expect, it } from 'vitest';
import type { StoreEvent } from './types.ts';
import { WatchHub, type Change } from './watchhub.ts';

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
});
