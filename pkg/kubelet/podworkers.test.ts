// podworkers.test: one worker per uid, newest update wins, phases and retries.
import { describe, expect, it } from 'vitest';
import { PodWorkers } from './podworkers.ts';
import type { WorkerPhase } from './podworkers.ts';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

describe('PodWorkers', () => {
  it('never runs one uid twice at once and keeps only the newest pending update', async () => {
    const seen: string[] = [];
    let active = 0;
    let maxActive = 0;
    let release!: () => void;
    const w = new PodWorkers<string>(async (_uid, u) => {
      active++;
      maxActive = Math.max(maxActive, active);
      seen.push(u);
      if (u === 'first') await new Promise<void>((r) => (release = r));
      active--;
      return {};
    });
    w.updatePod('a', 'first');
    w.updatePod('a', 'second');
    w.updatePod('a', 'third');
    await tick();
    release();
    await w.idle();
    expect(seen).toEqual(['first', 'third']);
    expect(maxActive).toBe(1);
  });

  it('runs different uids concurrently', async () => {
    let active = 0;
    let maxActive = 0;
    const w = new PodWorkers<string>(async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      await tick(10);
      active--;
      return {};
    });
    w.updatePod('a', 'x');
    w.updatePod('b', 'x');
    await w.idle();
    expect(maxActive).toBe(2);
  });

  it('moves sync → terminating → terminated and then ignores updates', async () => {
    const phases: WorkerPhase[] = [];
    const w = new PodWorkers<string>(async (_uid, _u, phase) => {
      phases.push(phase);
      return phase === 'terminating' ? { phase: 'terminated' } : {};
    });
    w.updatePod('a', 'x');
    await w.idle();
    w.updatePod('a', 'x', true);
    await w.idle();
    w.updatePod('a', 'x');
    await w.idle();
    expect(phases).toEqual(['sync', 'terminating']);
    expect(w.phase('a')).toBe('terminated');
  });

  it('retries a failing sync and honours requeueAfterMs', async () => {
    let n = 0;
    const errors: unknown[] = [];
    const w = new PodWorkers<string>(
      async () => {
        n++;
        if (n === 1) throw new Error('boom');
        if (n === 2) return { requeueAfterMs: 5 };
        return {};
      },
      { retryMs: 5, onError: (_u, e) => errors.push(e) },
    );
    w.updatePod('a', 'x');
    await tick(60);
    await w.idle();
    expect(n).toBe(3);
    expect(errors).toHaveLength(1);
    w.close();
  });
});
