// proberesults: pure probe accounting — thresholds, initial results and probe defaults, as upstream's prober worker.

export type ProbeType = 'liveness' | 'readiness' | 'startup';
export type ProbeResult = 'success' | 'failure' | 'unknown';

/** ProbeSpec is a probe with upstream's defaults applied (seconds). */
export interface ProbeSpec {
  initialDelaySeconds: number;
  periodSeconds: number;
  timeoutSeconds: number;
  successThreshold: number;
  failureThreshold: number;
}

/** probeDefaults fills a v1.Probe's timing fields with upstream defaults (period 10, timeout 1, success 1, failure 3). */
export function probeDefaults(p: any): ProbeSpec {
  return {
    initialDelaySeconds: p.initialDelaySeconds ?? 0,
    periodSeconds: p.periodSeconds || 10,
    timeoutSeconds: p.timeoutSeconds || 1,
    successThreshold: p.successThreshold || 1,
    failureThreshold: p.failureThreshold || 3,
  };
}

/** ProbeState is one worker's accounting: the published result and the run of equal raw results behind it. */
export interface ProbeState {
  result: ProbeResult;
  last?: 'success' | 'failure';
  run: number;
  /** onHold: a liveness/startup failure was published; stop probing until the container is replaced. */
  onHold: boolean;
}

/** initialProbeState: readiness starts failing (not ready), liveness succeeding, startup unknown. */
export function initialProbeState(type: ProbeType): ProbeState {
  return { result: type === 'readiness' ? 'failure' : type === 'liveness' ? 'success' : 'unknown', run: 0, onHold: false };
}

/**
 * recordProbe folds one raw result into the state. The published result flips only after `successThreshold`
 * successes or `failureThreshold` failures in a row. Example with failureThreshold 3: success, fail, fail →
 * still success; a third fail → failure (and, for liveness, onHold).
 */
export function recordProbe(s: ProbeState, type: ProbeType, ok: boolean, spec: Pick<ProbeSpec, 'successThreshold' | 'failureThreshold'>): { state: ProbeState; changed: boolean } {
  const raw = ok ? 'success' : 'failure';
  const run = s.last === raw ? s.run + 1 : 1;
  const next: ProbeState = { ...s, last: raw, run };
  if ((raw === 'failure' && run < spec.failureThreshold) || (raw === 'success' && run < spec.successThreshold)) {
    return { state: next, changed: false };
  }
  const changed = next.result !== raw;
  next.result = raw;
  if ((type === 'liveness' || type === 'startup') && raw === 'failure') {
    next.onHold = true;
    next.run = 0;
  }
  return { state: next, changed };
}

/** probeLabel is the capitalised type used in events: `Liveness probe failed: …`. */
export function probeLabel(type: ProbeType): string {
  return type[0]!.toUpperCase() + type.slice(1);
}

/** httpProbeOk applies upstream's success range for HTTP probes: 200–399. */
export function httpProbeOk(status: number): boolean {
  return status >= 200 && status < 400;
}
