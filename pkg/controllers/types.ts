// types: what every controller (and the scheduler) is given and what it must offer the controller manager.
import type { Logger } from 'pino';
import type { ApiClient } from '../client/interface.ts';
import type { SharedInformerFactory } from '../client/informer.ts';
import type { EventRecorder } from '../client/events.ts';

/** ControllerOptions are the controller manager's flags, with upstream's names in the comments. */
export interface ControllerOptions {
  /** --node-monitor-grace-period: a node whose lease is older turns NotReady/Unknown (default 20 s; upstream 40 s) */
  nodeMonitorGracePeriodMs: number;
  /** --cluster-cidr: pod addresses; each node gets a /nodeCidrMaskSize of it in spec.podCIDR */
  clusterCidr: string;
  /** --node-cidr-mask-size (default 24) */
  nodeCidrMaskSize: number;
  /** workers per controller (upstream's --concurrent-*-syncs, default 5) */
  workers: number;
  /** --root-ca-file: the CA bundle the root-ca-cert-publisher puts in every namespace's kube-root-ca.crt */
  rootCaPem?: string;
  /** --cluster-signing-cert-file / --cluster-signing-key-file: the CA csrsigning issues with (PEM); none = no signing */
  signer?: { certPem: string; keyPem: string };
}

export const defaultControllerOptions: ControllerOptions = {
  nodeMonitorGracePeriodMs: 20_000,
  clusterCidr: '10.42.0.0/16',
  nodeCidrMaskSize: 24,
  workers: 5,
};

/** ControllerContext is everything a controller may use: it reaches the cluster only through `client` and the informers. */
export interface ControllerContext {
  client: ApiClient;
  /** shared informers: one list+watch per resource for all controllers */
  informers: SharedInformerFactory;
  log: Logger;
  /** recorder returns an event recorder whose events name `component` (e.g. 'replicaset-controller') as source */
  recorder(component: string): EventRecorder;
  options: ControllerOptions;
}

/** Controller is one reconcile loop. start() registers handlers and starts workers; the manager starts the informers. */
export interface Controller {
  readonly name: string;
  start(): void;
  stop(): Promise<void>;
}

export type ControllerFactory = (ctx: ControllerContext) => Controller;
