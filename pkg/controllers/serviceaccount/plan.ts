// plan: what the serviceaccount and root-ca-cert-publisher controllers want in a namespace, as pure functions.
import type { ConfigMap, Namespace, ServiceAccount } from 'kubernetes-types/core/v1.js';

/** MANAGED_SERVICE_ACCOUNTS are the accounts every namespace gets (upstream's --service-account-names default). */
export const MANAGED_SERVICE_ACCOUNTS = ['default'];
/** ROOT_CA_CONFIGMAP is the ConfigMap the publisher keeps in every namespace. */
export const ROOT_CA_CONFIGMAP = 'kube-root-ca.crt';
/** DESCRIPTION_ANNOTATION and DESCRIPTION are upstream's words on that ConfigMap. */
export const DESCRIPTION_ANNOTATION = 'kubernetes.io/description';
export const DESCRIPTION =
  'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.';

/** namespaceActive: present and not terminating — a terminating namespace gets nothing new. */
export function namespaceActive(ns: Namespace | undefined): boolean {
  return !!ns && !ns.metadata?.deletionTimestamp && ns.status?.phase !== 'Terminating';
}

/** missingServiceAccounts lists the managed accounts a namespace lacks, as objects to create. */
export function missingServiceAccounts(ns: Namespace | undefined, existing: (name: string) => ServiceAccount | undefined): ServiceAccount[] {
  if (!namespaceActive(ns)) return [];
  return MANAGED_SERVICE_ACCOUNTS.filter((n) => !existing(n)).map((name) => ({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: ns!.metadata!.name } }));
}

/**
 * planRootCa is what the publisher does in one namespace: create the ConfigMap, update it (the CA or the description
 * annotation differs), or nothing. Upstream compares data as a whole, so extra keys are removed too.
 */
export function planRootCa(ns: Namespace | undefined, cm: ConfigMap | undefined, rootCaPem: string): { create: ConfigMap } | { update: ConfigMap } | undefined {
  if (!namespaceActive(ns)) return undefined;
  const data = { 'ca.crt': rootCaPem };
  if (!cm) {
    return { create: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: ROOT_CA_CONFIGMAP, namespace: ns!.metadata!.name, annotations: { [DESCRIPTION_ANNOTATION]: DESCRIPTION } }, data } };
  }
  const sameData = JSON.stringify(cm.data ?? {}) === JSON.stringify(data) && !cm.binaryData;
  if (sameData && cm.metadata?.annotations?.[DESCRIPTION_ANNOTATION]) return undefined;
  const next: ConfigMap = structuredClone(cm);
  next.data = data;
  delete next.binaryData;
  next.metadata = { ...next.metadata, annotations: { ...(next.metadata?.annotations ?? {}), [DESCRIPTION_ANNOTATION]: DESCRIPTION } };
  return { update: next };
}
