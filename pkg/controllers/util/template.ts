// template: build a pod from a controller's pod template (upstream's controller.GetPodFromTemplate).
import type { PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import type { KubeObject, OwnerReference } from '../../api/types.ts';

/**
 * podFromTemplate is upstream's GetPodFromTemplate: the template's labels, annotations, finalizers and spec, a
 * `generateName` of `<owner>-` (the server appends 5 characters), and the controller reference (controller and
 * blockOwnerDeletion true) if given. The template is copied, never shared.
 */
export function podFromTemplate(template: PodTemplateSpec | undefined, ownerName: string, controllerRef?: OwnerReference): KubeObject {
  const t = structuredClone(template ?? {});
  const meta = t.metadata ?? {};
  const metadata: KubeObject['metadata'] = { generateName: `${ownerName}-` };
  if (meta.labels) metadata.labels = { ...meta.labels };
  if (meta.annotations) metadata.annotations = { ...meta.annotations };
  if (meta.finalizers?.length) metadata.finalizers = [...meta.finalizers];
  if (controllerRef) metadata.ownerReferences = [{ ...controllerRef }];
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec: t.spec ?? {} };
}
