// proberesults.test: probe threshold accounting.
import { describe, expect, it } from 'vitest';
import { httpProbeOk, initialProbeState, probeDefaults, recordProbe } from './proberesults.ts';
import type { ProbeType } from './proberesults.ts';

function run(type: ProbeType, seq: boolean[], th = { successThreshold: 1, failureThreshold: 3 }): string[] {
  let s = initialProbeState(type);
  return seq.map((ok) => {
    s = recordProbe(s, type, ok, th).state;
    return s.result;
  });
}

describe('recordProbe', () => {
  it('liveness fails only after failureThreshold failures in a row', () => {
    expect(run('liveness', [false, false, true, false, false, false])).toEqual(['success', 'success', 'success', 'success', 'success', 'failure']);
  });
  it('readiness starts not ready and needs successThreshold successes', () => {
    expect(run('readiness', [true, true, false, true], { successThreshold: 2, failureThreshold: 1 })).toEqual(['failure', 'success', 'failure', 'failure']);
  });
  it('readiness toggles back and forth', () => {
    expect(run('readiness', [true, false, false, false, true], { successThreshold: 1, failureThreshold: 3 })).toEqual(['success', 'success', 'success', 'failure', 'success']);
  });
  it('holds liveness after publishing a failure', () => {
    let s = initialProbeState('liveness');
    for (let i = 0; i < 3; i++) s = recordProbe(s, 'liveness', false, { successThreshold: 1, failureThreshold: 3 }).state;
    expect(s.onHold).toBe(true);
    expect(s.result).toBe('failure');
  });
  it('reports changes only when the published result flips', () => {
    const s = initialProbeState('startup');
    expect(s.result).toBe('unknown');
    const r = recordProbe(s, 'startup', true, { successThreshold: 1, failureThreshold: 3 });
    expect(r.changed).toBe(true);
    expect(recordProbe(r.state, 'startup', true, { successThreshold: 1, failureThreshold: 3 }).changed).toBe(false);
  });
});

describe('probe helpers', () => {
  it('defaults as upstream', () => {
    expect(probeDefaults({})).toEqual({ initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 });
  });
  it.each([
    [199, false],
    [200, true],
    [302, true],
    [399, true],
    [400, false],
    [500, false],
  ])('http %d → %s', (code, ok) => expect(httpProbeOk(code)).toBe(ok));
});
