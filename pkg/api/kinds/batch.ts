// batch: defaults, generated selectors, validation and update rules for Job and CronJob.
import type { FieldError } from '../errors.ts';
import { field } from '../errors.ts';
import type { KubeObject } from '../types.ts';
import type { KindRules, LabelSelector } from './meta.ts';
import { ensure, maxLenError, nameIsDNSSubdomain, selectorMatches, specOf, validateImmutable, validateLabelSelector, validateNonnegative } from './meta.ts';
import { defaultPodTemplate, validatePodTemplate } from './podspec.ts';

type Obj = Record<string, any>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Labels upstream's job strategy puts on a Job's pod template and selector. */
export const JOB_LABELS = {
  controllerUid: 'batch.kubernetes.io/controller-uid',
  jobName: 'batch.kubernetes.io/job-name',
  legacyControllerUid: 'controller-uid',
  legacyJobName: 'job-name',
};

/**
 * generateJobSelector is upstream's generateSelector: unless spec.manualSelector is true, label the template with the
 * job's name and uid (new and legacy keys) and select on `batch.kubernetes.io/controller-uid`.
 */
export function generateJobSelector(job: KubeObject): void {
  const spec = ensure(job, 'spec');
  if (spec.manualSelector === true) return;
  const uid = job.metadata?.uid;
  if (!uid) return;
  const tpl = ensure(spec, 'template');
  const meta = ensure(tpl, 'metadata');
  const labels = ensure(meta, 'labels');
  for (const k of [JOB_LABELS.legacyJobName, JOB_LABELS.jobName]) if (!(k in labels)) labels[k] = job.metadata.name ?? '';
  for (const k of [JOB_LABELS.legacyControllerUid, JOB_LABELS.controllerUid]) if (!(k in labels)) labels[k] = uid;
  const sel = ensure(spec, 'selector');
  const ml = ensure(sel, 'matchLabels');
  if (!(JOB_LABELS.controllerUid in ml)) ml[JOB_LABELS.controllerUid] = uid;
}

/** defaultJobSpec applies SetDefaults_Job's spec part (not the template defaults). */
function defaultJobSpec(spec: Obj): void {
  if (spec.completions == null && spec.parallelism == null) {
    spec.completions = 1;
    spec.parallelism = 1;
  }
  spec.parallelism ??= 1;
  spec.backoffLimit ??= spec.backoffLimitPerIndex != null ? 2147483647 : 6;
  spec.completionMode ||= 'NonIndexed';
  spec.suspend ??= false;
  spec.podReplacementPolicy ||= spec.podFailurePolicy ? 'Failed' : 'TerminatingOrFailed';
}

/** validateJobSpec checks counts, completion mode, template and restartPolicy (OnFailure or Never) at path. */
function validateJobSpec(spec: Obj, path: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const k of ['parallelism', 'completions', 'activeDeadlineSeconds', 'backoffLimit', 'ttlSecondsAfterFinished', 'backoffLimitPerIndex', 'maxFailedIndexes']) {
    errs.push(...validateNonnegative(spec[k], `${path}.${k}`));
  }
  const mode = spec.completionMode;
  if (mode != null) {
    if (mode !== 'NonIndexed' && mode !== 'Indexed') errs.push(field.notSupported(`${path}.completionMode`, mode, ['NonIndexed', 'Indexed']));
    if (mode === 'Indexed' && spec.completions == null) errs.push(field.required(`${path}.completions`, 'when completion mode is Indexed'));
  }
  if (spec.podReplacementPolicy != null && !['TerminatingOrFailed', 'Failed'].includes(spec.podReplacementPolicy)) {
    errs.push(field.notSupported(`${path}.podReplacementPolicy`, spec.podReplacementPolicy, ['TerminatingOrFailed', 'Failed']));
  }
  const tpl = spec.template;
  if (!isObj(tpl)) {
    errs.push(field.required(`${path}.template`, ''));
    return errs;
  }
  errs.push(...validatePodTemplate(tpl, `${path}.template`));
  const rp = tpl.spec?.restartPolicy;
  if (rp !== 'OnFailure' && rp !== 'Never') errs.push(field.notSupported(`${path}.template.spec.restartPolicy`, rp ?? '', ['OnFailure', 'Never']));
  return errs;
}

// ---------------------------------------------------------------- Job

export const job: KindRules = {
  nameRule: nameIsDNSSubdomain,
  defaults(obj, old) {
    const spec = ensure(obj, 'spec');
    defaultJobSpec(spec);
    // upstream generates the selector in PrepareForCreate and then defaults labels from the template again on read,
    // so a created Job shows its template's (generated) labels unless it set its own
    if (!old) generateJobSelector(obj);
    const labels = spec.template?.metadata?.labels;
    if (isObj(labels) && (!obj.metadata.labels || Object.keys(obj.metadata.labels).length === 0)) obj.metadata.labels = { ...labels };
    defaultPodTemplate(spec.template);
  },
  validate(obj) {
    const spec = specOf(obj);
    const errs: FieldError[] = [];
    const sel = spec.selector as LabelSelector | undefined;
    if (!spec.manualSelector) {
      const uid = obj.metadata?.uid;
      const ml = sel?.matchLabels ?? {};
      if (uid && (ml[JOB_LABELS.controllerUid] !== uid || (sel?.matchExpressions ?? []).length > 0)) {
        errs.push(field.invalid('spec.selector', sel ?? null, '`selector` not auto-generated'));
      }
    }
    errs.push(...validateJobSpec(spec, 'spec'));
    if (sel == null) errs.push(field.required('spec.selector', ''));
    else {
      errs.push(...validateLabelSelector(sel, 'spec.selector'));
      const labels = spec.template?.metadata?.labels ?? {};
      if (isObj(spec.template) && !selectorMatches(sel, labels)) {
        errs.push(field.invalid('spec.template.metadata.labels', labels, '`selector` does not match template `labels`'));
      }
    }
    return errs;
  },
  validateUpdate(next, old) {
    const a = specOf(next);
    const b = specOf(old);
    return [
      ...validateImmutable(a.completions, b.completions, 'spec.completions'),
      ...validateImmutable(a.selector, b.selector, 'spec.selector'),
      ...validateImmutable(a.template, b.template, 'spec.template'),
      ...validateImmutable(a.completionMode, b.completionMode, 'spec.completionMode'),
      ...validateImmutable(a.podFailurePolicy, b.podFailurePolicy, 'spec.podFailurePolicy'),
      ...validateImmutable(a.backoffLimitPerIndex, b.backoffLimitPerIndex, 'spec.backoffLimitPerIndex'),
    ];
  },
  fields(obj) {
    return { 'status.successful': String(obj.status?.succeeded ?? 0) };
  },
};

// ---------------------------------------------------------------- CronJob

const descriptors = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

/** scheduleError returns robfig/cron's complaint about a schedule, or '' when its shape is acceptable. */
export function scheduleError(schedule: string): string {
  let s = schedule.trim();
  if (/^(CRON_)?TZ=\S+\s/.test(s)) s = s.replace(/^(CRON_)?TZ=\S+\s+/, '');
  if (s.startsWith('@')) {
    if (descriptors.includes(s)) return '';
    if (/^@every\s+\S+$/.test(s)) return '';
    return `unrecognized descriptor: ${s}`;
  }
  const fields = s.split(/\s+/).filter(Boolean);
  if (fields.length !== 5) return `expected exactly 5 fields, found ${fields.length}: [${fields.join(' ')}]`;
  const ok = /^[0-9A-Za-z*?,\-/]+$/;
  for (const f of fields) if (!ok.test(f)) return `failed to parse int from ${f}`;
  return '';
}

export const cronJob: KindRules = {
  nameRule: nameIsDNSSubdomain,
  defaults(obj) {
    const spec = ensure(obj, 'spec');
    spec.concurrencyPolicy ||= 'Allow';
    spec.suspend ??= false;
    spec.successfulJobsHistoryLimit ??= 3;
    spec.failedJobsHistoryLimit ??= 1;
    defaultPodTemplate(spec.jobTemplate?.spec?.template);
  },
  validate(obj) {
    const spec = specOf(obj);
    const errs: FieldError[] = [];
    const name = obj.metadata?.name ?? '';
    if (name.length > 52) errs.push(field.invalid('metadata.name', name, maxLenError(52)));
    if (!spec.schedule) errs.push(field.required('spec.schedule', ''));
    else {
      const msg = scheduleError(String(spec.schedule));
      if (msg) errs.push(field.invalid('spec.schedule', spec.schedule, msg));
    }
    errs.push(...validateNonnegative(spec.startingDeadlineSeconds, 'spec.startingDeadlineSeconds'));
    if (!spec.concurrencyPolicy) errs.push(field.required('spec.concurrencyPolicy', ''));
    else if (!['Allow', 'Forbid', 'Replace'].includes(spec.concurrencyPolicy)) errs.push(field.notSupported('spec.concurrencyPolicy', spec.concurrencyPolicy, ['Allow', 'Forbid', 'Replace']));
    const jt = spec.jobTemplate;
    if (!isObj(jt) || !isObj(jt.spec)) errs.push(field.required('spec.jobTemplate.spec', ''));
    else {
      errs.push(...validateJobSpec(jt.spec, 'spec.jobTemplate.spec'));
      if (jt.spec.manualSelector === true) errs.push(field.notSupported('spec.jobTemplate.spec.manualSelector', true, ['nil', 'false']));
      if (jt.spec.selector != null) errs.push(field.invalid('spec.jobTemplate.spec.selector', jt.spec.selector, '`selector` will be auto-generated'));
    }
    errs.push(...validateNonnegative(spec.successfulJobsHistoryLimit, 'spec.successfulJobsHistoryLimit'));
    errs.push(...validateNonnegative(spec.failedJobsHistoryLimit, 'spec.failedJobsHistoryLimit'));
    return errs;
  },
};
