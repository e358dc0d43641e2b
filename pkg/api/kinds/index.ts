// kinds: the one entry for per-kind defaulting, validation, field-selector fields and spec-change detection.
import type { FieldError } from '../errors.ts';
import type { ResourceInfo } from '../resources.ts';
import type { KubeObject } from '../types.ts';
import { controllerRevision, daemonSet, deployment, replicaSet, statefulSet } from './apps.ts';
import { cronJob, job } from './batch.ts';
import { certificateSigningRequest } from './certificates.ts';
import { lease } from './coordination.ts';
import { endpointSlice } from './discovery.ts';
import { clusterRole, clusterRoleBinding, role, roleBinding } from './rbac.ts';
import {
  configMap,
  endpoints,
  event,
  namespace,
  node,
  persistentVolume,
  persistentVolumeClaim,
  pod,
  replicationController,
  secret,
  service,
  serviceAccount,
} from './core.ts';
import type { KindRules } from './meta.ts';
import { deepEqual, nameIsDNSSubdomain, validateObjectMeta, validateObjectMetaUpdate } from './meta.ts';

const rules: Record<string, KindRules> = {
  '/Pod': pod,
  '/Service': service,
  '/ReplicationController': replicationController,
  '/Namespace': namespace,
  '/Node': node,
  '/Endpoints': endpoints,
  '/ConfigMap': configMap,
  '/Secret': secret,
  '/Event': event,
  '/PersistentVolumeClaim': persistentVolumeClaim,
  '/PersistentVolume': persistentVolume,
  '/ServiceAccount': serviceAccount,
  'apps/Deployment': deployment,
  'apps/ReplicaSet': replicaSet,
  'apps/StatefulSet': statefulSet,
  'apps/DaemonSet': daemonSet,
  'apps/ControllerRevision': controllerRevision,
  'batch/Job': job,
  'batch/CronJob': cronJob,
  'certificates.k8s.io/CertificateSigningRequest': certificateSigningRequest,
  'coordination.k8s.io/Lease': lease,
  'discovery.k8s.io/EndpointSlice': endpointSlice,
  'rbac.authorization.k8s.io/Role': role,
  'rbac.authorization.k8s.io/ClusterRole': clusterRole,
  'rbac.authorization.k8s.io/RoleBinding': roleBinding,
  'rbac.authorization.k8s.io/ClusterRoleBinding': clusterRoleBinding,
};

const fallback: KindRules = { nameRule: nameIsDNSSubdomain };

/** rulesFor returns a kind's rules; unknown kinds get only the ObjectMeta checks. */
function rulesFor(info: ResourceInfo): KindRules {
  return rules[`${info.group}/${info.kind}`] ?? fallback;
}

/** statusKeepsAnnotations tells whether a /status write of this kind stores its annotations too. */
export function statusKeepsAnnotations(info: ResourceInfo): boolean {
  return rulesFor(info).statusKeepsAnnotations === true;
}

/**
 * applyDefaults mutates obj in place with upstream's defaults for its kind (and, for Pods, what upstream's admission
 * plugins add on create). Pass old on update: create-only defaults (pod admission fields, the Job selector, the
 * Namespace finalizer) are skipped then. Job selector generation needs obj.metadata.uid set beforehand.
 */
export function applyDefaults(info: ResourceInfo, obj: KubeObject, old?: KubeObject): void {
  if (!obj || typeof obj !== 'object') return;
  if (!obj.metadata || typeof obj.metadata !== 'object') obj.metadata = {};
  rulesFor(info).defaults?.(obj, old);
}

/**
 * validate returns upstream-style field errors for obj (empty when valid): ObjectMeta rules for every kind, the kind's
 * own rules, and with old given the update rules (immutable fields). Call it after applyDefaults.
 */
export function validate(info: ResourceInfo, obj: KubeObject, old?: KubeObject): FieldError[] {
  const r = rulesFor(info);
  const errs = validateObjectMeta(obj?.metadata, { namespaced: info.namespaced, nameRule: r.nameRule });
  if (!obj?.metadata || typeof obj.metadata !== 'object') return errs;
  errs.push(...(r.validate?.(obj) ?? []));
  if (old) {
    errs.push(...validateObjectMetaUpdate(obj.metadata, old.metadata ?? {}));
    errs.push(...(r.validateUpdate?.(obj, old) ?? []));
  }
  return errs;
}

/**
 * validateStatusUpdate returns the field errors of a write to /status (`next` is the stored object with the request's
 * status): ObjectMeta and its update rules, then the kind's status rules, or, for a kind without them, its whole
 * validation as validate does.
 */
export function validateStatusUpdate(info: ResourceInfo, next: KubeObject, old: KubeObject): FieldError[] {
  const r = rulesFor(info);
  if (!r.validateStatusUpdate) return validate(info, next, old);
  const errs = validateObjectMeta(next.metadata, { namespaced: info.namespaced, nameRule: r.nameRule });
  errs.push(...validateObjectMetaUpdate(next.metadata, old.metadata ?? {}));
  errs.push(...r.validateStatusUpdate(next, old));
  return errs;
}

/**
 * resetFields are the top-level fields whose changes a write through this endpoint does not own in managedFields
 * (upstream's ResetFieldsStrategy): for a kind with a status subresource, the main resource resets status and /status
 * resets spec; namespaces/finalize resets status, a CSR's /approval its spec.
 */
export function resetFields(info: ResourceInfo, subresource: string | undefined): readonly string[] {
  switch (subresource) {
    case undefined:
      return info.subresources.includes('status') ? STATUS : NONE;
    case 'status':
    case 'approval':
      return SPEC;
    case 'finalize':
      return STATUS;
    default:
      return NONE;
  }
}
const STATUS = ['status'] as const;
const SPEC = ['spec'] as const;
const NONE = [] as const;

/**
 * fieldsOf returns the field-selector fields upstream supports for obj's kind: metadata.name (and metadata.namespace for
 * namespaced kinds) plus the kind's own (`spec.nodeName` for pods, `type` for secrets …). Missing values are "".
 */
export function fieldsOf(info: ResourceInfo, obj: KubeObject): Record<string, string> {
  const out: Record<string, string> = { 'metadata.name': obj.metadata?.name ?? '' };
  if (info.namespaced) out['metadata.namespace'] = obj.metadata?.namespace ?? '';
  return { ...out, ...(rulesFor(info).fields?.(obj) ?? {}) };
}

/**
 * isSpecChange reports whether an update changed anything outside metadata and status, which is when upstream bumps
 * metadata.generation. Kinds without a status subresource (ConfigMap, Secret …) do not use generation: always false.
 */
export function isSpecChange(info: ResourceInfo, old: KubeObject, next: KubeObject): boolean {
  if (!info.subresources.includes('status')) return false;
  const strip = (o: KubeObject): Record<string, unknown> => {
    const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o ?? ({} as KubeObject);
    return rest;
  };
  return !deepEqual(strip(old), strip(next));
}

export type { KindRules } from './meta.ts';
export { isDNS1035Label, isDNS1123Label, isDNS1123Subdomain, isQualifiedName, isValidLabelValue, selectorMatches, validateLabelSelector } from './meta.ts';
export { qosClassOf, imageTag } from './podspec.ts';
export { generateJobSelector, JOB_LABELS } from './batch.ts';
