// verdict: what the quick start tells a person about the example's pods — running, still coming up (and what it is
// doing, from the kubelet's events), or stuck and why — as pure functions of the pods and their events.
import type { Event, Pod } from 'kubernetes-types/core/v1.js';

/** Verdict is one pod's state for a person: `running`, `waiting` (with what is happening) or `stuck` (with why and what to do). */
export type Verdict = { kind: 'running'; pod: string } | { kind: 'waiting'; pod: string; line: string } | { kind: 'stuck'; pod: string; line: string };

/** STUCK_REASONS are container waiting reasons that will not clear by themselves soon (upstream kubelet's names). */
const STUCK_REASONS: Record<string, (pod: Pod, image: string, events: Event[]) => string> = {
  ErrImagePull: (_p, image, events) => pullFailure(image, events),
  ImagePullBackOff: (_p, image, events) => pullFailure(image, events),
  InvalidImageName: (_p, image) => `image "${image}" is not a valid image reference`,
  ErrImageNeverPull: (_p, image) => `image "${image}" is not on the node and imagePullPolicy is Never`,
  CreateContainerConfigError: (p, _i, events) => `the container cannot be configured: ${latest(events, p, ['Failed'])?.message ?? 'see kubectl describe pod'}`,
  CreateContainerError: (p, _i, events) => `the container cannot be created: ${latest(events, p, ['Failed'])?.message ?? 'see kubectl describe pod'}`,
  CrashLoopBackOff: (p) => `its container keeps exiting${lastExit(p)} — see \`kubeling kubectl logs ${p.metadata?.name ?? ''}\``,
};

/** UNSCHEDULED_GRACE_MS is how long a pod may wait for a node before the quick start calls it stuck. */
export const UNSCHEDULED_GRACE_MS = 60_000;

/** podVerdict judges one pod from its status and the events about it (newest last or unordered: sorted here). */
export function podVerdict(pod: Pod, events: Event[], now = Date.now()): Verdict {
  const name = pod.metadata?.name ?? '';
  const mine = events.filter((e) => e.involvedObject?.uid === pod.metadata?.uid || (e.involvedObject?.kind === 'Pod' && e.involvedObject?.name === name));
  const statuses = pod.status?.containerStatuses ?? [];
  // a container still running an older definition (the image was just updated) is not the example running yet
  const stale = statuses.find((s) => s.state?.running && s.image && s.image !== imageOf(pod, s.name));
  if (pod.status?.phase === 'Running' && statuses.length > 0 && statuses.every((s) => s.ready) && !stale) return { kind: 'running', pod: name };
  if (pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded') {
    return { kind: 'stuck', pod: name, line: `pod ${name} has ${pod.status.phase === 'Failed' ? 'failed' : 'exited'}${pod.status.message ? `: ${pod.status.message}` : ''}` };
  }
  for (const s of statuses) {
    const reason = s.state?.waiting?.reason;
    const explain = reason ? STUCK_REASONS[reason] : undefined;
    if (explain) return { kind: 'stuck', pod: name, line: `pod ${name} is not running (${reason}): ${explain(pod, s.image || imageOf(pod, s.name), mine)}` };
  }
  if (!pod.spec?.nodeName) {
    const why = latest(mine, pod, ['FailedScheduling'])?.message;
    const age = now - Date.parse(pod.metadata?.creationTimestamp ?? new Date(now).toISOString());
    const line = `pod ${name} waits for a node${why ? `: ${why}` : ''}`;
    return age >= UNSCHEDULED_GRACE_MS ? { kind: 'stuck', pod: name, line: `${line} — see \`kubeling status\`` } : { kind: 'waiting', pod: name, line };
  }
  if (stale) return { kind: 'waiting', pod: name, line: `pod ${name}: container ${stale.name} is being replaced (image ${stale.image} → ${imageOf(pod, stale.name)})` };
  const last = latest(mine, pod);
  const doing = last ? last.message : (statuses.find((s) => s.state?.waiting)?.state?.waiting?.reason ?? pod.status?.phase ?? 'Pending');
  return { kind: 'waiting', pod: name, line: `pod ${name} on ${pod.spec.nodeName}: ${doing}` };
}

/** pullFailure explains a failed pull from the kubelet's `Failed to pull image "…": …` event. */
export function pullFailure(image: string, events: Event[]): string {
  const failed = [...events].sort(byTime).reverse().find((e) => e.reason === 'Failed' && /^Failed to pull image/.test(e.message ?? ''));
  const cause = failed?.message?.replace(/^Failed to pull image "[^"]*": /, '') ?? 'the pull failed';
  const registry = registryOf(image);
  if (/ENOTFOUND|EAI_AGAIN|no such host|network is unreachable|no route to host|i\/o timeout|dial tcp|ECONNREFUSED|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|TLS handshake timeout|Client\.Timeout|connection reset/i.test(cause)) {
    return `image ${image} could not be pulled: no route to ${registry} (${cause}) — set KUBELING_EXAMPLE_IMAGE or a registry mirror`;
  }
  if (/unauthorized|denied|authentication required/i.test(cause)) {
    return `image ${image} could not be pulled: ${registry} refused access (${cause}) — give the pod imagePullSecrets or set KUBELING_EXAMPLE_IMAGE`;
  }
  if (/not found|manifest unknown|does not exist/i.test(cause)) {
    return `image ${image} could not be pulled: ${registry} has no such image (${cause}) — check the name or set KUBELING_EXAMPLE_IMAGE`;
  }
  return `image ${image} could not be pulled: ${cause} — set KUBELING_EXAMPLE_IMAGE or a registry mirror`;
}

/** registryOf names the registry an image reference pulls from: Docker Hub unless its first part is a host. */
export function registryOf(image: string): string {
  const first = image.split('/')[0]!;
  if (image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) return first === 'docker.io' || first === 'index.docker.io' ? 'Docker Hub' : first;
  return 'Docker Hub';
}

/** progressLine is one line for all the example's pods: each pod's latest doing, or "running". */
export function progressLine(verdicts: Verdict[]): string {
  return verdicts.map((v) => (v.kind === 'running' ? `pod ${v.pod}: Running` : v.line)).join('; ');
}

function imageOf(pod: Pod, container: string): string {
  return pod.spec?.containers.find((c) => c.name === container)?.image ?? '?';
}

function lastExit(pod: Pod): string {
  const t = pod.status?.containerStatuses?.find((s) => s.lastState?.terminated)?.lastState?.terminated;
  return t ? ` (last exit code ${t.exitCode}${t.reason ? `, ${t.reason}` : ''})` : '';
}

function eventTime(e: Event): number {
  return Date.parse(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp ?? '') || 0;
}

function byTime(a: Event, b: Event): number {
  return eventTime(a) - eventTime(b);
}

function latest(events: Event[], pod: Pod, reasons?: string[]): Event | undefined {
  const uid = pod.metadata?.uid;
  return [...events]
    .filter((e) => (!uid || !e.involvedObject?.uid || e.involvedObject.uid === uid) && (!reasons || reasons.includes(e.reason ?? '')))
    .sort(byTime)
    .at(-1);
}

/**
 * rolloutPending names a Deployment whose newest template is not yet fully rolled out (upstream's `kubectl rollout
 * status` rule), or undefined when it is: the example's old pods may still run while the new ones come up.
 */
export function rolloutPending(d: { metadata?: { name?: string; generation?: number }; spec?: { replicas?: number }; status?: { observedGeneration?: number; updatedReplicas?: number; replicas?: number; availableReplicas?: number } }): string | undefined {
  const want = d.spec?.replicas ?? 1;
  const st = d.status ?? {};
  const name = d.metadata?.name ?? '';
  if ((st.observedGeneration ?? 0) < (d.metadata?.generation ?? 0)) return `deployment ${name}: waiting for the controller to see the change`;
  if ((st.updatedReplicas ?? 0) < want) return `deployment ${name}: ${st.updatedReplicas ?? 0} of ${want} replicas updated`;
  if ((st.replicas ?? 0) > (st.updatedReplicas ?? 0)) return `deployment ${name}: ${(st.replicas ?? 0) - (st.updatedReplicas ?? 0)} old replicas pending termination`;
  if ((st.availableReplicas ?? 0) < (st.updatedReplicas ?? 0)) return `deployment ${name}: ${st.availableReplicas ?? 0} of ${st.updatedReplicas ?? 0} updated replicas available`;
  return undefined;
}
