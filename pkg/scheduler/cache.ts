// cache: the scheduler's view of nodes and of the pods bound or assumed on them, with per-node totals kept incrementally.
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { addPodToNode, newNodeInfo, podInfoOf, removePodFromNode, setNode } from './podinfo.ts';
import type { ClusterView, NodeInfo, PodInfo } from './types.ts';

interface Entry {
  info: PodInfo;
  node: string;
  /** placed by this scheduler but not yet seen bound in the informer */
  assumed: boolean;
}

/** isTerminal: a Succeeded or Failed pod holds no resources. */
export function isTerminal(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

/**
 * Cache holds every node and every pod with a node (bound, or assumed by this scheduler while its binding is in
 * flight). Adding or removing a pod adjusts its node's requested resources, ports and pod count, and the spreading
 * counts of its group, so a decision never walks the pods of a node. Pods on a node not (yet) known are kept on a
 * placeholder that is not offered to the scheduler.
 */
export class Cache implements ClusterView {
  private readonly nodeInfos = new Map<string, NodeInfo>();
  /** node names that have a Node object (the rest are placeholders holding pods) */
  private readonly present = new Set<string>();
  private readonly pods = new Map<string, Entry>();
  private readonly antiAffinity = new Map<string, Entry>();
  private readonly spread = new Map<string, Map<string, number>>();
  private list: NodeInfo[] | undefined;

  get nodes(): readonly NodeInfo[] {
    if (!this.list) this.list = [...this.present].map((n) => this.nodeInfos.get(n)!);
    return this.list;
  }

  node(name: string): NodeInfo | undefined {
    return this.present.has(name) ? this.nodeInfos.get(name) : undefined;
  }

  *podsWithAntiAffinity(): Iterable<{ pod: PodInfo; node: NodeInfo }> {
    for (const e of this.antiAffinity.values()) {
      const node = this.node(e.node);
      if (node) yield { pod: e.info, node };
    }
  }

  *allPods(): Iterable<{ pod: PodInfo; node: NodeInfo }> {
    for (const n of this.nodes) for (const p of n.pods.values()) yield { pod: p, node: n };
  }

  spreadCounts(spreadKey: string): ReadonlyMap<string, number> | undefined {
    return this.spread.get(spreadKey);
  }

  get podCount(): number {
    return this.pods.size;
  }

  addNode(node: Node): void {
    const name = node.metadata?.name ?? '';
    const ni = this.nodeInfos.get(name);
    if (ni) setNode(ni, node);
    else this.nodeInfos.set(name, newNodeInfo(node));
    if (!this.present.has(name)) {
      this.present.add(name);
      this.list = undefined;
    }
  }

  updateNode(node: Node): void {
    this.addNode(node);
  }

  removeNode(name: string): void {
    if (!this.present.delete(name)) return;
    this.list = undefined;
    const ni = this.nodeInfos.get(name)!;
    if (ni.pods.size === 0) this.nodeInfos.delete(name);
  }

  private nodeInfoFor(name: string): NodeInfo {
    let ni = this.nodeInfos.get(name);
    if (!ni) {
      ni = newNodeInfo({ metadata: { name } });
      this.nodeInfos.set(name, ni);
    }
    return ni;
  }

  private place(e: Entry): void {
    this.pods.set(e.info.uid, e);
    addPodToNode(this.nodeInfoFor(e.node), e.info);
    if (e.info.antiAffinity.length) this.antiAffinity.set(e.info.uid, e);
    if (e.info.spreadKey && !e.info.pod.metadata?.deletionTimestamp) {
      let m = this.spread.get(e.info.spreadKey);
      if (!m) this.spread.set(e.info.spreadKey, (m = new Map()));
      m.set(e.node, (m.get(e.node) ?? 0) + 1);
    }
  }

  private unplace(e: Entry): void {
    this.pods.delete(e.info.uid);
    this.antiAffinity.delete(e.info.uid);
    const ni = this.nodeInfos.get(e.node);
    if (ni) {
      removePodFromNode(ni, e.info);
      if (ni.pods.size === 0 && !this.present.has(e.node)) this.nodeInfos.delete(e.node);
    }
    if (e.info.spreadKey && !e.info.pod.metadata?.deletionTimestamp) {
      const m = this.spread.get(e.info.spreadKey);
      const n = (m?.get(e.node) ?? 0) - 1;
      if (m && n > 0) m.set(e.node, n);
      else if (m) {
        m.delete(e.node);
        if (m.size === 0) this.spread.delete(e.info.spreadKey);
      }
    }
  }

  /** assume places a pod on the node it was just given, before the binding is written (upstream's AssumePod). */
  assume(info: PodInfo, nodeName: string): void {
    const old = this.pods.get(info.uid);
    if (old) this.unplace(old);
    this.place({ info, node: nodeName, assumed: true });
  }

  /** forget drops an assumption whose binding failed; a pod already seen bound stays. */
  forget(uid: string): void {
    const e = this.pods.get(uid);
    if (e?.assumed) this.unplace(e);
  }

  isAssumed(uid: string): boolean {
    return this.pods.get(uid)?.assumed === true;
  }

  /** has reports whether the pod (by uid) is bound or assumed. */
  has(uid: string): boolean {
    return this.pods.has(uid);
  }

  /**
   * setPod records a pod from the informer: bound and not terminal → counted on its node (confirming an
   * assumption); otherwise removed. An assumed pod the informer still shows unbound stays assumed.
   */
  setPod(pod: Pod): void {
    const uid = pod.metadata?.uid ?? '';
    const nodeName = pod.spec?.nodeName;
    const old = this.pods.get(uid);
    if (!nodeName) {
      if (old && !old.assumed) this.unplace(old);
      return;
    }
    if (isTerminal(pod)) {
      if (old) this.unplace(old);
      return;
    }
    // the common update (status, or the binding of an assumed pod) changes nothing the scheduler counts
    if (old && old.node === nodeName && sameLabels(old.info.pod, pod) && old.info.pod.metadata?.deletionTimestamp === pod.metadata?.deletionTimestamp) {
      old.info.pod = pod;
      old.assumed = false;
      return;
    }
    if (old) this.unplace(old);
    this.place({ info: podInfoOf(pod), node: nodeName, assumed: false });
  }

  removePod(pod: Pod): void {
    const e = this.pods.get(pod.metadata?.uid ?? '');
    if (e) this.unplace(e);
  }
}

function sameLabels(a: Pod, b: Pod): boolean {
  const x = a.metadata?.labels ?? {};
  const y = b.metadata?.labels ?? {};
  const kx = Object.keys(x);
  if (kx.length !== Object.keys(y).length) return false;
  for (const k of kx) if (x[k] !== y[k]) return false;
  return true;
}
