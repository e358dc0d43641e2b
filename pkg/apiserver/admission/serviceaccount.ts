// serviceaccount: upstream's ServiceAccount admission on pod create, as pure functions — the service account a pod runs as, its image pull secrets and the projected `kube-api-access-*` token volume.
import { randomInt } from 'node:crypto';
import type { Container, Pod, ServiceAccount, Volume, VolumeMount } from 'kubernetes-types/core/v1.js';

/** DEFAULT_SERVICE_ACCOUNT is the account a pod that names none runs as. */
export const DEFAULT_SERVICE_ACCOUNT = 'default';
/** TOKEN_VOLUME_PREFIX is upstream's ServiceAccountVolumeName, followed by `-` and 5 random characters. */
export const TOKEN_VOLUME_PREFIX = 'kube-api-access';
/** TOKEN_MOUNT_PATH is upstream's DefaultAPITokenMountPath. */
export const TOKEN_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
/** ROOT_CA_CONFIGMAP is the ConfigMap the root-ca-cert-publisher keeps in every namespace. */
export const ROOT_CA_CONFIGMAP = 'kube-root-ca.crt';
/** WARN_ONLY_EXPIRATION_SECONDS is upstream's WarnOnlyBoundTokenExpirationSeconds: the projected token's lifetime. */
export const WARN_ONLY_EXPIRATION_SECONDS = 3607;
/** MIRROR_ANNOTATION marks a static pod's mirror, which may not use service accounts. */
const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';

/** NAME_ALPHABET is upstream's utilrand alphabet (no vowels, no confusable digits) used by SimpleNameGenerator. */
const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** randomSuffix is 5 characters of upstream's name alphabet. */
export function randomSuffix(rand: (n: number) => number = randomInt): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += NAME_ALPHABET[rand(NAME_ALPHABET.length)];
  return s;
}

/** tokenVolume is upstream's TokenVolumeSource: the token, the cluster CA and the namespace, mode 0644. */
export function tokenVolume(name: string): Volume {
  return {
    name,
    projected: {
      defaultMode: 0o644,
      sources: [
        { serviceAccountToken: { expirationSeconds: WARN_ONLY_EXPIRATION_SECONDS, path: 'token' } },
        { configMap: { name: ROOT_CA_CONFIGMAP, items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
      ],
    },
  };
}

/** serviceAccountName is the account a pod runs as (the deprecated serviceAccount field when the name is unset). */
export function serviceAccountName(pod: Pod): string {
  return pod.spec?.serviceAccountName || pod.spec?.serviceAccount || DEFAULT_SERVICE_ACCOUNT;
}

/** shouldAutomount: the pod's automountServiceAccountToken wins, then the account's, else true. */
export function shouldAutomount(pod: Pod, sa: ServiceAccount): boolean {
  if (typeof pod.spec?.automountServiceAccountToken === 'boolean') return pod.spec.automountServiceAccountToken;
  if (typeof sa.automountServiceAccountToken === 'boolean') return sa.automountServiceAccountToken;
  return true;
}

/** isMirrorPod: a static pod's mirror (upstream refuses service accounts for those). */
export function isMirrorPod(pod: Pod): boolean {
  return !!pod.metadata?.annotations?.[MIRROR_ANNOTATION];
}

/**
 * admitServiceAccount applies upstream's ServiceAccount admission to a pod being created with its account `sa`:
 * the account name is set; the account's imagePullSecrets are copied when the pod names none; unless automount is
 * off, every init and app container without a mount at TOKEN_MOUNT_PATH gets a read-only mount of the token volume
 * (an existing `kube-api-access-*` volume, else a new one named with `suffix`), and the volume is added when a
 * container needed it. Ephemeral containers are left alone, as upstream does.
 */
export function admitServiceAccount(pod: Pod, sa: ServiceAccount, suffix: string): void {
  const spec = pod.spec!;
  spec.serviceAccountName = sa.metadata?.name ?? serviceAccountName(pod);
  spec.serviceAccount = spec.serviceAccountName;
  if (!spec.imagePullSecrets?.length && sa.imagePullSecrets?.length) spec.imagePullSecrets = sa.imagePullSecrets.map((r) => ({ name: r.name }));
  if (!shouldAutomount(pod, sa)) return;
  const volumes = (spec.volumes ??= []);
  const existing = volumes.find((v) => v.name.startsWith(`${TOKEN_VOLUME_PREFIX}-`));
  const name = existing?.name ?? `${TOKEN_VOLUME_PREFIX}-${suffix}`;
  const mount: VolumeMount = { name, readOnly: true, mountPath: TOKEN_MOUNT_PATH };
  let needed = false;
  const each = (cs: Container[] | undefined) => {
    for (const c of cs ?? []) {
      if ((c.volumeMounts ?? []).some((m) => m.mountPath === TOKEN_MOUNT_PATH)) continue;
      c.volumeMounts = [...(c.volumeMounts ?? []), { ...mount }];
      needed = true;
    }
  };
  each(spec.initContainers);
  each(spec.containers);
  if (!existing && needed) volumes.push(tokenVolume(name));
  if (!volumes.length) delete spec.volumes;
}
