// apps: defaults, validation and update rules for Deployment, ReplicaSet, StatefulSet, DaemonSet and ControllerRevision.
import type { FieldError } from '../errors.ts';
import { field } from '../errors.ts';
import type { KubeObject } from '../types.ts';
import { defaultPVC, validatePVCSpec } from './core.ts';
import type { KindRules, LabelSelector } from './meta.ts';
import {
  deepEqual,
  ensure,
  IS_NEGATIVE,
  nameIsDNSSubdomain,
  regexError,
  selectorIsEmpty,
  selectorMatches,
  specOf,
  validateImmutable,
  validateLabelSelector,
  validateNonnegative,
} from './meta.ts';
import { defaultPodTemplate, validatePodTemplate } from './podspec.ts';

type Obj = Record<string, any>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const listOf = (v: unknown): Obj[] => (Array.isArray(v) ? v : []);

/** validateIntOrPercent is upstream's ValidatePositiveIntOrPercent plus IsNotMoreThan100Percent when max100. */
export function validateIntOrPercent(v: unknown, path: string, max100: boolean): FieldError[] {
  if (v === undefined || v === null) return [];
  if (typeof v === 'string') {
    if (!/^[0-9]+%$/.test(v)) return [field.invalid(path, v, regexError("a valid percent string must be a numeric string followed by an ending '%'", '[0-9]+%', '1%', '93%'))];
    if (max100 && Number(v.slice(0, -1)) > 100) return [field.invalid(path, v, 'must not be greater than 100%')];
    return [];
  }
  if (typeof v === 'number' && Number.isInteger(v)) return v < 0 ? [field.invalid(path, v, IS_NEGATIVE)] : [];
  return [field.invalid(path, v, "must be an integer or percentage (e.g '5%')")];
}

/** intOrPercentValue reads 25 from '25%' or 25, as upstream's getIntOrPercentValue does. */
function intOrPercentValue(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^[0-9]+%$/.test(v)) return Number(v.slice(0, -1));
  return 0;
}

/**
 * validateSelectorAndTemplate checks a workload's selector and pod template the way every apps kind does:
 * selector required and valid, not empty, matching the template labels, template valid, restartPolicy Always.
 */
function validateSelectorAndTemplate(spec: Obj, kind: string, emptyWord: string): FieldError[] {
  const errs: FieldError[] = [];
  const sel = spec.selector as LabelSelector | undefined;
  if (sel === undefined || sel === null) errs.push(field.required('spec.selector', ''));
  else {
    errs.push(...validateLabelSelector(sel, 'spec.selector'));
    if (selectorIsEmpty(sel)) errs.push(field.invalid('spec.selector', sel, `empty selector is invalid for ${emptyWord}`));
  }
  const tpl = spec.template;
  if (!isObj(tpl)) {
    errs.push(field.required('spec.template', ''));
    return errs;
  }
  const labels = tpl.metadata?.labels ?? {};
  if (isObj(sel) && !selectorIsEmpty(sel) && !selectorMatches(sel, labels)) {
    errs.push(field.invalid('spec.template.metadata.labels', labels, '`selector` does not match template `labels`'));
  } else if (!isObj(sel)) {
    errs.push(field.invalid('spec.template.metadata.labels', labels, '`selector` does not match template `labels`'));
  }
  errs.push(...validatePodTemplate(tpl, 'spec.template'));
  const rp = tpl.spec?.restartPolicy;
  if (rp && rp !== 'Always') errs.push(field.notSupported('spec.template.spec.restartPolicy', rp, ['Always']));
  if (tpl.spec?.activeDeadlineSeconds !== undefined && tpl.spec?.activeDeadlineSeconds !== null) {
    errs.push(field.forbidden('spec.template.spec.activeDeadlineSeconds', `activeDeadlineSeconds in ${kind} is not Supported`));
  }
  return errs;
}

function selectorImmutable(next: KubeObject, old: KubeObject): FieldError[] {
  return validateImmutable(specOf(next).selector, specOf(old).selector, 'spec.selector');
}

// ---------------------------------------------------------------- Deployment

export const deployment: KindRules = {
  statusKeepsAnnotations: true,
  nameRule: nameIsDNSSubdomain,
  defaults(obj) {
    const spec = ensure(obj, 'spec');
    spec.replicas ??= 1;
    const strategy = ensure(spec, 'strategy');
    strategy.type ||= 'RollingUpdate';
    if (strategy.type === 'RollingUpdate') {
      const ru = ensure(strategy, 'rollingUpdate');
      ru.maxUnavailable ??= '25%';
      ru.maxSurge ??= '25%';
    }
    spec.revisionHistoryLimit ??= 10;
    spec.progressDeadlineSeconds ??= 600;
    defaultPodTemplate(spec.template);
  },
  validate(obj) {
    const spec = specOf(obj);
    const errs: FieldError[] = [];
    errs.push(...validateNonnegative(spec.replicas, 'spec.replicas'));
    errs.push(...validateSelectorAndTemplate(spec, 'ReplicaSet', 'deployment'));
    const strategy: Obj = isObj(spec.strategy) ? spec.strategy : {};
    switch (strategy.type) {
      case 'Recreate':
        if (strategy.rollingUpdate !== undefined && strategy.rollingUpdate !== null) {
          errs.push(field.forbidden('spec.strategy.rollingUpdate', "may not be specified when strategy `type` is 'Recreate'"));
        }
        break;
      case 'RollingUpdate': {
        const ru = strategy.rollingUpdate;
        if (!isObj(ru)) {
          errs.push(field.required('spec.strategy.rollingUpdate', 'this should be defaulted and never be nil'));
          break;
        }
        errs.push(...validateIntOrPercent(ru.maxUnavailable, 'spec.strategy.rollingUpdate.maxUnavailable', false));
        errs.push(...validateIntOrPercent(ru.maxSurge, 'spec.strategy.rollingUpdate.maxSurge', false));
        if (intOrPercentValue(ru.maxUnavailable) === 0 && intOrPercentValue(ru.maxSurge) === 0) {
          errs.push(field.invalid('spec.strategy.rollingUpdate.maxUnavailable', ru.maxUnavailable, 'may not be 0 when `maxSurge` is 0'));
        }
        if (typeof ru.maxUnavailable === 'string' && intOrPercentValue(ru.maxUnavailable) > 100) {
          errs.push(field.invalid('spec.strategy.rollingUpdate.maxUnavailable', ru.maxUnavailable, 'must not be greater than 100%'));
        }
        break;
      }
      default:
        errs.push(field.notSupported('spec.strategy.type', strategy.type ?? '', ['Recreate', 'RollingUpdate']));
    }
    errs.push(...validateNonnegative(spec.minReadySeconds, 'spec.minReadySeconds'));
    errs.push(...validateNonnegative(spec.revisionHistoryLimit, 'spec.revisionHistoryLimit'));
    if (spec.progressDeadlineSeconds !== undefined && spec.progressDeadlineSeconds !== null) {
      errs.push(...validateNonnegative(spec.progressDeadlineSeconds, 'spec.progressDeadlineSeconds'));
      if (spec.progressDeadlineSeconds <= (spec.minReadySeconds ?? 0)) {
        errs.push(field.invalid('spec.progressDeadlineSeconds', spec.progressDeadlineSeconds, 'must be greater than minReadySeconds'));
      }
    }
    return errs;
  },
  validateUpdate: selectorImmutable,
};

// ---------------------------------------------------------------- ReplicaSet

export const replicaSet: KindRules = {
  statusKeepsAnnotations: true,
  nameRule: nameIsDNSSubdomain,
  defaults(obj) {
    const spec = ensure(obj, 'spec');
    spec.replicas ??= 1;
    defaultPodTemplate(spec.template);
  },
  validate(obj) {
    const spec = specOf(obj);
    return [
      ...validateNonnegative(spec.replicas, 'spec.replicas'),
      ...validateNonnegative(spec.minReadySeconds, 'spec.minReadySeconds'),
      ...validateSelectorAndTemplate(spec, 'ReplicaSet', 'deployment'),
    ];
  },
  validateUpdate: selectorImmutable,
  fields(obj) {
    return { 'status.replicas': String(obj.status?.replicas ?? 0) };
  },
};

// ---------------------------------------------------------------- StatefulSet

export const statefulSet: KindRules = {
  statusKeepsAnnotations: true,
  nameRule: nameIsDNSSubdomain,
  defaults(obj) {
    const spec = ensure(obj, 'spec');
    spec.podManagementPolicy ||= 'OrderedReady';
    const us = ensure(spec, 'updateStrategy');
    if (!us.type) {
      us.type = 'RollingUpdate';
      us.rollingUpdate ??= {};
    }
    if (us.type === 'RollingUpdate' && isObj(us.rollingUpdate)) us.rollingUpdate.partition ??= 0;
    const policy = ensure(spec, 'persistentVolumeClaimRetentionPolicy');
    policy.whenDeleted ||= 'Retain';
    policy.whenScaled ||= 'Retain';
    spec.replicas ??= 1;
    spec.revisionHistoryLimit ??= 10;
    defaultPodTemplate(spec.template);
    for (const t of listOf(spec.volumeClaimTemplates)) {
      t.apiVersion ??= 'v1';
      t.kind ??= 'PersistentVolumeClaim';
      defaultPVC(t, true);
    }
  },
  validate(obj) {
    const spec = specOf(obj);
    const errs: FieldError[] = [];
    const pmp = spec.podManagementPolicy;
    if (!pmp) errs.push(field.required('spec.podManagementPolicy', ''));
    else if (pmp !== 'OrderedReady' && pmp !== 'Parallel') errs.push(field.invalid('spec.podManagementPolicy', pmp, "must be 'OrderedReady' or 'Parallel'"));
    const us: Obj = isObj(spec.updateStrategy) ? spec.updateStrategy : {};
    switch (us.type) {
      case undefined:
      case '':
        errs.push(field.required('spec.updateStrategy', ''));
        break;
      case 'OnDelete':
        if (us.rollingUpdate) errs.push(field.invalid('spec.updateStrategy.rollingUpdate', us.rollingUpdate, "only allowed for updateStrategy 'RollingUpdate'"));
        break;
      case 'RollingUpdate':
        if (isObj(us.rollingUpdate)) {
          errs.push(...validateNonnegative(us.rollingUpdate.partition, 'spec.updateStrategy.rollingUpdate.partition'));
          errs.push(...validateIntOrPercent(us.rollingUpdate.maxUnavailable, 'spec.updateStrategy.rollingUpdate.maxUnavailable', true));
        }
        break;
      default:
        errs.push(field.invalid('spec.updateStrategy', us, "must be 'RollingUpdate' or 'OnDelete'"));
    }
    const policy = spec.persistentVolumeClaimRetentionPolicy;
    if (isObj(policy)) {
      for (const k of ['whenDeleted', 'whenScaled']) {
        if (policy[k] && !['Retain', 'Delete'].includes(policy[k])) errs.push(field.notSupported(`spec.persistentVolumeClaimRetentionPolicy.${k}`, policy[k], ['Retain', 'Delete']));
      }
    }
    errs.push(...validateNonnegative(spec.replicas, 'spec.replicas'));
    errs.push(...validateNonnegative(spec.minReadySeconds, 'spec.minReadySeconds'));
    errs.push(...validateNonnegative(spec.revisionHistoryLimit, 'spec.revisionHistoryLimit'));
    if (isObj(spec.ordinals)) errs.push(...validateNonnegative(spec.ordinals.start, 'spec.ordinals.start'));
    errs.push(...validateSelectorAndTemplate(spec, 'StatefulSet', 'statefulset'));
    listOf(spec.volumeClaimTemplates).forEach((t, i) => {
      const p = `spec.volumeClaimTemplates[${i}]`;
      if (!t.metadata?.name) errs.push(field.required(`${p}.metadata.name`, ''));
      errs.push(...validatePVCSpec(t.spec, `${p}.spec`));
    });
    return errs;
  },
  validateUpdate(next, old) {
    const a = structuredClone(specOf(next));
    const b = specOf(old);
    for (const k of ['replicas', 'template', 'updateStrategy', 'minReadySeconds', 'ordinals', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy']) a[k] = b[k];
    if (!deepEqual(a, b)) {
      return [field.forbidden('spec', "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")];
    }
    return [];
  },
};

// ---------------------------------------------------------------- DaemonSet

export const daemonSet: KindRules = {
  statusKeepsAnnotations: true,
  nameRule: nameIsDNSSubdomain,
  defaults(obj) {
    const spec = ensure(obj, 'spec');
    const us = ensure(spec, 'updateStrategy');
    us.type ||= 'RollingUpdate';
    if (us.type === 'RollingUpdate') {
      const ru = ensure(us, 'rollingUpdate');
      ru.maxUnavailable ??= 1;
      ru.maxSurge ??= 0;
    }
    spec.revisionHistoryLimit ??= 10;
    defaultPodTemplate(spec.template);
  },
  validate(obj) {
    const spec = specOf(obj);
    const errs = validateSelectorAndTemplate(spec, 'DaemonSet', 'daemonset');
    errs.push(...validateNonnegative(spec.minReadySeconds, 'spec.minReadySeconds'));
    errs.push(...validateNonnegative(spec.revisionHistoryLimit, 'spec.revisionHistoryLimit'));
    const us: Obj = isObj(spec.updateStrategy) ? spec.updateStrategy : {};
    switch (us.type) {
      case 'OnDelete':
        break;
      case 'RollingUpdate': {
        const ru = us.rollingUpdate;
        if (!isObj(ru)) {
          errs.push(field.required('spec.updateStrategy.rollingUpdate', ''));
          break;
        }
        errs.push(...validateIntOrPercent(ru.maxUnavailable, 'spec.updateStrategy.rollingUpdate.maxUnavailable', true));
        errs.push(...validateIntOrPercent(ru.maxSurge, 'spec.updateStrategy.rollingUpdate.maxSurge', true));
        const unavailable = intOrPercentValue(ru.maxUnavailable) !== 0;
        const surge = intOrPercentValue(ru.maxSurge) !== 0;
        if (unavailable && surge) errs.push(field.invalid('spec.updateStrategy.rollingUpdate.maxSurge', ru.maxSurge, 'may not be set when maxUnavailable is non-zero'));
        if (!unavailable && !surge) errs.push(field.required('spec.updateStrategy.rollingUpdate.maxUnavailable', 'cannot be 0 when maxSurge is 0'));
        break;
      }
      default:
        errs.push(field.notSupported('spec.updateStrategy', us.type ?? '', ['RollingUpdate', 'OnDelete']));
    }
    return errs;
  },
  validateUpdate: selectorImmutable,
};

// ---------------------------------------------------------------- ControllerRevision

export const controllerRevision: KindRules = {
  nameRule: nameIsDNSSubdomain,
  validate(obj) {
    const errs: FieldError[] = [];
    if (obj.data === undefined || obj.data === null) errs.push(field.required('data', 'data is mandatory'));
    errs.push(...validateNonnegative(obj.revision, 'revision'));
    return errs;
  },
  validateUpdate(next, old) {
    return validateImmutable(next.data, old.data, 'data');
  },
};
