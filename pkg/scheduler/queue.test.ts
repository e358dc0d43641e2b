// queue.test: the scheduling queue's order and retry rules with a fake clock.
import { describe, expect, it } from 'vitest';
import { podInfoOf } from './podinfo.ts';
import { SchedulingQueue } from './queue.ts';
import { makePod } from './testing.ts';

function setup() {
  let t = 1_000_000;
  const q = new SchedulingQueue({ now: () => t, initialBackoffMs: 1000, maxBackoffMs: 10_000, maxUnschedulableMs: 30_000 });
  return { q, advance: (ms: number) => (t += ms) };
}

describe('SchedulingQueue', () => {
  it('pops by priority, then arrival; an add of a waiting pod only refreshes it', () => {
    const { q, advance } = setup();
    q.add(podInfoOf(makePod('a')));
    advance(1);
    q.add(podInfoOf(makePod('b', { spec: { priority: 10 } })));
    advance(1);
    q.add(podInfoOf(makePod('c')));
    q.add(podInfoOf(makePod('a')));
    expect([q.tryPop(), q.tryPop(), q.tryPop(), q.tryPop()].map((e) => e?.info.name)).toEqual(['b', 'a', 'c', undefined]);
  });

  it('an unschedulable pod waits for a cluster event, then goes to active once its back-off is over', () => {
    const { q, advance } = setup();
    q.add(podInfoOf(makePod('p')));
    const e = q.tryPop()!;
    const cycle = q.schedulingCycle;
    q.done('default/p');
    q.addUnschedulable(e, cycle);
    expect(q.stats).toMatchObject({ active: 0, unschedulable: 1 });
    // an event inside the 1 s back-off: to backoff, then to active after it
    advance(500);
    q.moveAllToActiveOrBackoff();
    expect(q.stats).toMatchObject({ backoff: 1, unschedulable: 0 });
    q.flush();
    expect(q.stats.backoff).toBe(1);
    advance(600);
    q.flush();
    expect(q.tryPop()?.info.name).toBe('p');
  });

  it('back-off doubles per attempt up to the maximum', () => {
    const { q } = setup();
    q.add(podInfoOf(makePod('p')));
    const e = q.tryPop()!;
    expect(q.backoffMs(e)).toBe(1000);
    e.attempts = 3;
    expect(q.backoffMs(e)).toBe(4000);
    e.attempts = 10;
    expect(q.backoffMs(e)).toBe(10_000);
  });

  it('without any event a parked pod is retried after maxUnschedulableMs', () => {
    const { q, advance } = setup();
    q.add(podInfoOf(makePod('p')));
    const e = q.tryPop()!;
    q.addUnschedulable(e, q.schedulingCycle);
    advance(29_000);
    q.flush();
    expect(q.stats.unschedulable).toBe(1);
    advance(1_000);
    q.flush();
    expect(q.stats.active).toBe(1);
  });

  it('a move request during the attempt sends the failed pod to backoff, not unschedulable', () => {
    const { q } = setup();
    q.add(podInfoOf(makePod('p')));
    const e = q.tryPop()!;
    const cycle = q.schedulingCycle;
    q.moveAllToActiveOrBackoff(); // e.g. a node was added while we were deciding
    q.addUnschedulable(e, cycle);
    expect(q.stats).toMatchObject({ backoff: 1, unschedulable: 0 });
  });

  it('an update that changes the spec of a parked pod moves it; a status-only update does not', () => {
    const { q, advance } = setup();
    const pod = makePod('p');
    q.add(podInfoOf(pod));
    const e = q.tryPop()!;
    q.addUnschedulable(e, q.schedulingCycle);
    q.update(podInfoOf(pod), false);
    expect(q.stats.unschedulable).toBe(1);
    advance(2000);
    q.update(podInfoOf(pod), true);
    expect(q.stats).toMatchObject({ unschedulable: 0, active: 1 });
  });

  it('errors go to backoff; deleted pods leave every area', () => {
    const { q, advance } = setup();
    q.add(podInfoOf(makePod('p')));
    const e = q.tryPop()!;
    q.addBackoff(e);
    expect(q.stats.backoff).toBe(1);
    q.delete('default/p');
    advance(5000);
    q.flush();
    expect(q.tryPop()).toBeUndefined();
  });

  it('an idle queue pops unschedulable pods that back off early, but not pods that erred', () => {
    const { q } = setup();
    q.add(podInfoOf(makePod('u')));
    q.add(podInfoOf(makePod('err')));
    const u = q.tryPop()!;
    const err = q.tryPop()!;
    const cycle = q.schedulingCycle;
    q.moveAllToActiveOrBackoff();
    q.addUnschedulable(u, cycle);
    q.addBackoff(err);
    expect(q.stats.backoff).toBe(2);
    expect(q.tryPop()?.info.name).toBe('u');
    expect(q.tryPop()).toBeUndefined();
  });

  it('pop waits for an add and returns undefined after close', async () => {
    const { q } = setup();
    const got = q.pop();
    q.add(podInfoOf(makePod('p')));
    expect((await got)?.info.name).toBe('p');
    const waiting = q.pop();
    q.close();
    expect(await waiting).toBeUndefined();
  });
});
