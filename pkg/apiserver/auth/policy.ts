// policy: the RBAC objects held in memory for the authorizer (fed by the registry's watch caches), the bootstrap policy and the ClusterRole aggregation loop.
import type { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from 'kubernetes-types/rbac/v1.js';
import type { Logger } from 'pino';
import { ApiError } from '../../api/errors.ts';
import { lookupKind, type ResourceInfo } from '../../api/resources.ts';
import type { KubeObject } from '../../api/types.ts';
import type { Registry } from '../registry.ts';
import { CLUSTER_ROLE_BINDINGS, CLUSTER_ROLES, ROLE_BINDINGS, ROLES } from './bootstrap.ts';
import { aggregate, emptySnapshot, type PolicySnapshot } from './rbac.ts';
import { nextTurn } from '../../util/turns.ts';

const V = 'rbac.authorization.k8s.io/v1';
const KINDS = ['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'] as const;
type Kind = (typeof KINDS)[number];
const MANAGER = 'clusterrole-aggregation-controller';

const keyOf = (o: KubeObject): string => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

/**
 * PolicyCache keeps every Role, ClusterRole and binding from the registry's watch caches and hands the authorizer a
 * snapshot, rebuilt only after a change. It also runs ClusterRole aggregation: a ClusterRole with an aggregationRule
 * gets the union of the rules of the ClusterRoles its selectors match written into its `rules` (upstream's
 * clusterrole-aggregation controller); the authorizer computes the same union itself, so a decision never waits for it.
 */
export class PolicyCache {
  readonly #registry: Registry;
  readonly #log: Logger;
  readonly #objects = new Map<Kind, Map<string, KubeObject>>(KINDS.map((k) => [k, new Map()]));
  readonly #infos = new Map<Kind, ResourceInfo>(KINDS.map((k) => [k, lookupKind(V, k)!]));
  readonly #stops: (() => void)[] = [];
  #snapshot: PolicySnapshot | undefined = emptySnapshot();
  #aggregating: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(registry: Registry, log: Logger) {
    this.#registry = registry;
    this.#log = log;
  }

  /** start watches the four kinds; it resolves once their current state is held. */
  async start(): Promise<void> {
    for (const kind of KINDS) {
      const objs = this.#objects.get(kind)!;
      const w = await this.#registry.watch(this.#infos.get(kind)!, undefined, { resourceVersion: '' }, (ev) => {
        if (ev.type === 'DELETED') objs.delete(keyOf(ev.object));
        else objs.set(keyOf(ev.object), ev.object);
        this.#snapshot = undefined;
        if (kind === 'ClusterRole') this.#scheduleAggregation();
      });
      this.#stops.push(() => w.stop());
    }
  }

  stop(): void {
    this.#stopped = true;
    for (const s of this.#stops.splice(0)) s();
  }

  /** snapshot is the policy as last seen, indexed for the authorizer. */
  snapshot(): PolicySnapshot {
    if (this.#snapshot) return this.#snapshot;
    const snap = emptySnapshot();
    for (const o of this.#objects.get('ClusterRole')!.values()) snap.clusterRoles.set(o.metadata.name!, o as unknown as ClusterRole);
    for (const o of this.#objects.get('Role')!.values()) snap.roles.set(`${o.metadata.namespace}/${o.metadata.name}`, o as unknown as Role);
    snap.clusterRoleBindings = [...this.#objects.get('ClusterRoleBinding')!.values()].map((o) => o as unknown as ClusterRoleBinding);
    for (const o of this.#objects.get('RoleBinding')!.values()) {
      const ns = o.metadata.namespace!;
      const list = snap.roleBindings.get(ns) ?? [];
      list.push(o as unknown as RoleBinding);
      snap.roleBindings.set(ns, list);
    }
    return (this.#snapshot = snap);
  }

  /** fresh waits until the policy reflects every write committed so far (a denial re-checks after it). */
  async fresh(): Promise<void> {
    const rev = this.#registry.store.revision();
    for (const info of this.#infos.values()) await (await this.#registry.cacheFor(info)).waitDispatched(rev);
  }

  /** ensureBootstrapPolicy creates the default roles and bindings that are missing; existing ones are left as they are. */
  async ensureBootstrapPolicy(): Promise<void> {
    const objs: [Kind, KubeObject][] = [
      ...CLUSTER_ROLES.map((o): [Kind, KubeObject] => ['ClusterRole', o as unknown as KubeObject]),
      ...CLUSTER_ROLE_BINDINGS.map((o): [Kind, KubeObject] => ['ClusterRoleBinding', o as unknown as KubeObject]),
      ...ROLES.map((o): [Kind, KubeObject] => ['Role', o as unknown as KubeObject]),
      ...ROLE_BINDINGS.map((o): [Kind, KubeObject] => ['RoleBinding', o as unknown as KubeObject]),
    ];
    for (const [kind, obj] of objs) {
      const info = this.#infos.get(kind)!;
      const ns = obj.metadata.namespace;
      if (await this.#registry.store.get(`${info.group}/${info.resource}`, ns ?? '', obj.metadata.name!)) continue;
      await this.#registry.create(info, ns, structuredClone(obj), { fieldManager: 'kubeling-apiserver' }).catch((e: unknown) => {
        if (!(e instanceof ApiError && e.code === 409)) throw e;
      });
    }
    await this.fresh();
    await this.aggregateNow();
  }

  #scheduleAggregation(): void {
    if (this.#stopped) return;
    if (this.#aggregating) {
      this.#again = true;
      return;
    }
    this.#aggregating = nextTurn()
      .then(() => this.aggregateNow())
      .catch((err) => this.#log.warn({ err }, 'clusterrole aggregation failed'))
      .finally(() => {
        this.#aggregating = undefined;
        if (this.#again) {
          this.#again = false;
          this.#scheduleAggregation();
        }
      });
  }

  /** aggregateNow writes every aggregated ClusterRole whose stored rules differ from the union its selectors select. */
  async aggregateNow(): Promise<void> {
    const snap = this.snapshot();
    const info = this.#infos.get('ClusterRole')!;
    for (const role of snap.clusterRoles.values()) {
      if (!role.aggregationRule?.clusterRoleSelectors?.length) continue;
      const want = aggregate(snap, role);
      if (JSON.stringify(role.rules ?? []) === JSON.stringify(want)) continue;
      await this.#registry
        .guaranteedUpdate(info, undefined, role.metadata!.name!, { fieldManager: MANAGER }, undefined, undefined, (current) => ({ ...current(), rules: want }))
        .catch((e: unknown) => {
          if (!(e instanceof ApiError && e.code === 404)) throw e;
        });
    }
  }
}
