// tolerations: upstream's Toleration.ToleratesTaint, shared by the scheduler's filters and the NoExecute taint manager.
import type { Taint, Toleration } from 'kubernetes-types/core/v1.js';

/** toleratesTaint is upstream's Toleration.ToleratesTaint: effect and key match (empty = any), then the operator. */
export function toleratesTaint(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  switch (t.operator ?? 'Equal') {
    case 'Exists':
      return true;
    case 'Equal':
    case '':
      return (t.value ?? '') === (taint.value ?? '');
    default:
      return false;
  }
}

/** tolerates reports whether any toleration tolerates the taint. */
export function tolerates(tolerations: readonly Toleration[], taint: Taint): boolean {
  for (const t of tolerations) if (toleratesTaint(t, taint)) return true;
  return false;
}
