// coordination: validation for coordination.k8s.io/v1 Lease (node heartbeats, leader election).
import type { FieldError } from '../errors.ts';
import { field } from '../errors.ts';
import type { KindRules } from './meta.ts';
import { IS_NEGATIVE, nameIsDNSSubdomain, specOf } from './meta.ts';

export const lease: KindRules = {
  nameRule: nameIsDNSSubdomain,
  validate(obj) {
    const spec = specOf(obj);
    const errs: FieldError[] = [];
    const d = spec.leaseDurationSeconds;
    if (d !== undefined && d !== null && !(Number.isInteger(d) && d > 0)) errs.push(field.invalid('spec.leaseDurationSeconds', d, 'must be greater than 0'));
    const t = spec.leaseTransitions;
    if (t !== undefined && t !== null && !(Number.isInteger(t) && t >= 0)) errs.push(field.invalid('spec.leaseTransitions', t, IS_NEGATIVE));
    for (const k of ['acquireTime', 'renewTime']) {
      const v = spec[k];
      if (v !== undefined && v !== null && (typeof v !== 'string' || Number.isNaN(Date.parse(v)))) errs.push(field.invalid(`spec.${k}`, v, 'must be an RFC 3339 time with microseconds'));
    }
    return errs;
  },
};
