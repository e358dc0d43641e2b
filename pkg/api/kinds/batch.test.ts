// batch.test: Job and CronJob defaults, generated selectors, validation and immutability; Lease checks.
import { describe, expect, it } from 'vitest';
import { fieldErrorText } from '../errors.ts';
import { lookupKind } from '../resources.ts';
import type { KubeObject } from '../types.ts';
import { applyDefaults, validate } from './index.ts';
import { scheduleError } from './batch.ts';

const JOB = lookupKind('batch/v1', 'Job')!;
const CRON = lookupKind('batch/v1', 'CronJob')!;
const LEASE = lookupKind('coordination.k8s.io/v1', 'Lease')!;

function job(spec: Record<string, unknown> = {}, restartPolicy = 'Never'): KubeObject {
  const j: KubeObject = {
    metadata: { name: 'pi', namespace: 'default', uid: 'uid-9' },
    spec: { template: { spec: { restartPolicy, containers: [{ name: 'pi', image: 'perl' }] } }, ...spec },
  };
  applyDefaults(JOB, j);
  return j;
}

describe('Job', () => {
  it('defaults and generates the selector from the uid', () => {
    const j = job();
    expect(j.spec).toMatchObject({ completions: 1, parallelism: 1, backoffLimit: 6, completionMode: 'NonIndexed', suspend: false, podReplacementPolicy: 'TerminatingOrFailed' });
    expect(j.spec.manualSelector).toBeUndefined();
    expect(j.spec.selector).toEqual({ matchLabels: { 'batch.kubernetes.io/controller-uid': 'uid-9' } });
    const labels = { 'batch.kubernetes.io/controller-uid': 'uid-9', 'batch.kubernetes.io/job-name': 'pi', 'controller-uid': 'uid-9', 'job-name': 'pi' };
    expect(j.spec.template.metadata.labels).toEqual(labels);
    expect(j.metadata.labels).toEqual(labels);
    expect(validate(JOB, j)).toEqual([]);
  });
  it('parallelism alone leaves completions unset', () => {
    expect(job({ parallelism: 3 }).spec.completions).toBeUndefined();
  });
  it('requires restartPolicy OnFailure or Never', () => {
    expect(validate(JOB, job({}, 'Always')).map(fieldErrorText)).toEqual(['spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"']);
  });
  it('checks counts', () => {
    expect(validate(JOB, job({ backoffLimit: -1 })).map(fieldErrorText)).toEqual(['spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0']);
  });
  it('manual selectors must match the template', () => {
    const j = job({ manualSelector: true, selector: { matchLabels: { a: 'b' } } });
    expect(validate(JOB, j).map(fieldErrorText)).toEqual(['spec.template.metadata.labels: Invalid value: {}: `selector` does not match template `labels`']);
  });
  it('keeps selector and template immutable but allows parallelism and suspend changes', () => {
    const old = job();
    const ok = structuredClone(old);
    ok.spec.parallelism = 3;
    ok.spec.suspend = true;
    expect(validate(JOB, ok, old)).toEqual([]);
    const bad = structuredClone(old);
    bad.spec.template.spec.containers[0].image = 'perl:2';
    expect(validate(JOB, bad, old).map((e) => `${e.field}: ${e.detail}`)).toEqual(['spec.template: field is immutable']);
  });
});

describe('CronJob', () => {
  const cron = (spec: Record<string, unknown>) => {
    const c: KubeObject = {
      metadata: { name: 'hello', namespace: 'default' },
      spec: { jobTemplate: { spec: { template: { spec: { restartPolicy: 'OnFailure', containers: [{ name: 'c', image: 'busybox' }] } } } }, ...spec },
    };
    applyDefaults(CRON, c);
    return c;
  };
  it('defaults', () => {
    const c = cron({ schedule: '*/1 * * * *' });
    expect(c.spec).toMatchObject({ concurrencyPolicy: 'Allow', suspend: false, successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 1 });
    expect(c.spec.jobTemplate.spec.template.spec.dnsPolicy).toBe('ClusterFirst');
    expect(c.spec.jobTemplate.spec.backoffLimit).toBeUndefined();
    expect(validate(CRON, c)).toEqual([]);
  });
  it('requires a schedule of five fields', () => {
    expect(validate(CRON, cron({})).map(fieldErrorText)).toEqual(['spec.schedule: Required value']);
    expect(validate(CRON, cron({ schedule: 'often' })).map(fieldErrorText)).toEqual(['spec.schedule: Invalid value: "often": expected exactly 5 fields, found 1: [often]']);
    expect(scheduleError('@hourly')).toBe('');
    expect(scheduleError('@every 5m')).toBe('');
    expect(scheduleError('@sometimes')).toBe('unrecognized descriptor: @sometimes');
  });
});

describe('Lease', () => {
  it('checks durations', () => {
    const l: KubeObject = { metadata: { name: 'n1', namespace: 'kube-node-lease' }, spec: { holderIdentity: 'n1', leaseDurationSeconds: 0 } };
    applyDefaults(LEASE, l);
    expect(validate(LEASE, l).map(fieldErrorText)).toEqual(['spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0']);
    l.spec.leaseDurationSeconds = 40;
    l.spec.renewTime = '2024-01-01T00:00:00.000000Z';
    expect(validate(LEASE, l)).toEqual([]);
  });
});
