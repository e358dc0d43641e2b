// certificates: the csrapproving controller (auto-approves node client and serving certificate requests) and the csrsigning controller (signs approved requests with the cluster CA); decisions in plan.ts.
import type { CertificateSigningRequest, CertificateSigningRequestCondition } from 'kubernetes-types/certificates/v1.js';
import type { Node } from 'kubernetes-types/core/v1.js';
import type { ClusterRole, ClusterRoleBinding } from 'kubernetes-types/rbac/v1.js';
import { ApiError } from '../../api/errors.ts';
import { decodedRequest } from '../../api/kinds/certificates.ts';
import { lookupKind } from '../../api/resources.ts';
import type { KubeObject } from '../../api/types.ts';
import { authorize, emptySnapshot } from '../../apiserver/auth/rbac.ts';
import type { UserInfo } from '../../apiserver/auth/types.ts';
import { keyOf, type SharedInformer } from '../../client/informer.ts';
import { WorkQueue } from '../../client/queue.ts';
import { readInChild, signInChild, type CsrFacts } from '../../pki/csrchild.ts';
import type { Controller, ControllerContext } from '../types.ts';
import { splitKey, startWorkers, type SyncResult, type Workers } from '../worker.ts';
import { approval, isApproved, isDecided, SIGNERS, signingProblem, signingSeconds } from './plan.ts';

export * from './plan.ts';

const csrInfo = lookupKind('certificates.k8s.io/v1', 'CertificateSigningRequest')!;
const nodeInfo = lookupKind('v1', 'Node')!;
const crInfo = lookupKind('rbac.authorization.k8s.io/v1', 'ClusterRole')!;
const crbInfo = lookupKind('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding')!;

/** factsCache keeps each CSR's parsed request by uid (parsing runs in a child process). */
const factsCache = new Map<string, CsrFacts>();
async function factsOf(csr: CertificateSigningRequest): Promise<CsrFacts | undefined> {
  const uid = csr.metadata?.uid ?? '';
  const hit = factsCache.get(uid);
  if (hit) return hit;
  const pem = decodedRequest(csr);
  if (!pem) return undefined;
  // a helper that timed out (a loaded host) is retried with the worker's back-off; a request that does not parse is not
  const f = await readInChild(pem).catch((e: Error) => {
    if (/timed out/.test(e.message)) throw e;
    return undefined;
  });
  if (f) {
    if (factsCache.size > 1000) factsCache.clear();
    factsCache.set(uid, f);
  }
  return f;
}

const condition = (type: string, reason: string, message: string): CertificateSigningRequestCondition => {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  return { type, status: 'True', reason, message, lastUpdateTime: now, lastTransitionTime: now };
};

/** CsrLoop is the shared shape of both controllers: a CSR informer and a queue of CSR names. */
abstract class CsrLoop implements Controller {
  abstract readonly name: string;
  protected readonly ctx: ControllerContext;
  protected readonly queue = new WorkQueue();
  protected csrs!: SharedInformer;
  private workers: Workers | undefined;

  constructor(ctx: ControllerContext) {
    this.ctx = ctx;
  }

  protected extraSynced(): Promise<unknown>[] {
    return [];
  }

  start(): void {
    this.csrs = this.ctx.informers.informerFor(csrInfo);
    this.csrs.addEventHandler({ add: (o) => this.queue.add(keyOf(o)), update: (_o, n) => this.queue.add(keyOf(n)) });
    const synced = [this.csrs.synced, ...this.extraSynced()];
    this.workers = startWorkers(this.queue, synced, Math.min(this.ctx.options.workers, 2), (key) => this.sync(key), this.ctx.log);
  }

  async stop(): Promise<void> {
    await this.workers?.stop();
  }

  private async sync(key: string): Promise<SyncResult> {
    const csr = this.csrs.get(undefined, splitKey(key).name) as unknown as CertificateSigningRequest | undefined;
    if (!csr) return;
    try {
      return await this.reconcile(csr);
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) return;
      if (e instanceof ApiError && e.code === 409) return { requeueAfterMs: 100 };
      throw e;
    }
  }

  protected abstract reconcile(csr: CertificateSigningRequest): Promise<SyncResult>;
}

/** newCsrApprovingController is upstream's csrapproving controller with kubeling's kubelet-serving approval. */
export function newCsrApprovingController(ctx: ControllerContext): Controller {
  return new CsrApprovingController(ctx);
}

export class CsrApprovingController extends CsrLoop {
  readonly name = 'csrapproving-controller';
  private nodes!: SharedInformer;
  private roles!: SharedInformer;
  private bindings!: SharedInformer;

  protected override extraSynced(): Promise<unknown>[] {
    this.nodes = this.ctx.informers.informerFor(nodeInfo);
    this.roles = this.ctx.informers.informerFor(crInfo);
    this.bindings = this.ctx.informers.informerFor(crbInfo);
    return [this.nodes.synced, this.roles.synced, this.bindings.synced];
  }

  /** may is the SubjectAccessReview upstream's approver sends: can the requester create certificatesigningrequests/<sub>? */
  private may(csr: CertificateSigningRequest, sub: string): boolean {
    const snap = emptySnapshot();
    for (const r of this.roles.list()) snap.clusterRoles.set(r.metadata.name!, r as unknown as ClusterRole);
    snap.clusterRoleBindings = this.bindings.list() as unknown as ClusterRoleBinding[];
    const user: UserInfo = { name: csr.spec?.username ?? '', groups: csr.spec?.groups ?? [], ...(csr.spec?.uid ? { uid: csr.spec.uid } : {}) };
    const path = `/apis/certificates.k8s.io/v1/certificatesigningrequests/${csr.metadata?.name}/${sub}`;
    return authorize(snap, { user, verb: 'create', resourceRequest: true, path, apiGroup: 'certificates.k8s.io', apiVersion: 'v1', resource: 'certificatesigningrequests', subresource: sub, namespace: '', name: '' }).allowed;
  }

  protected async reconcile(csr: CertificateSigningRequest): Promise<SyncResult> {
    if (isDecided(csr) || csr.status?.certificate) return;
    const f = await factsOf(csr);
    if (!f) return;
    const a = approval(csr, f, (sub) => this.may(csr, sub), (n) => this.nodes.get(undefined, n) as unknown as Node | undefined);
    if (!a.approve) {
      this.ctx.log.debug({ csr: csr.metadata?.name, why: a.why }, 'not auto-approving');
      return a.retry ? { requeueAfterMs: 1000 } : undefined;
    }
    const next = structuredClone(csr);
    next.status = { ...(next.status ?? {}), conditions: [...(next.status?.conditions ?? []), condition('Approved', 'AutoApproved', a.message)] };
    await this.ctx.client.update(csrInfo, next as unknown as KubeObject, 'approval');
    this.ctx.log.info({ csr: csr.metadata?.name, requester: csr.spec?.username }, 'approved certificate signing request');
  }
}

/** newCsrSigningController signs approved requests for the kubernetes.io signers with the cluster CA (upstream's csrsigning). */
export function newCsrSigningController(ctx: ControllerContext): Controller {
  return new CsrSigningController(ctx);
}

export class CsrSigningController extends CsrLoop {
  readonly name = 'csrsigning-controller';

  protected async reconcile(csr: CertificateSigningRequest): Promise<SyncResult> {
    const ca = this.ctx.options.signer;
    if (!ca || !isApproved(csr) || csr.status?.certificate || !SIGNERS.has(csr.spec?.signerName ?? '')) return;
    const pem = decodedRequest(csr);
    const f = await factsOf(csr);
    const problem = !pem || !f ? 'the request is not a parseable PEM CSR' : !f.signatureValid ? 'the request signature does not verify' : signingProblem(csr, f);
    const next = structuredClone(csr);
    if (problem) {
      next.status = { ...(next.status ?? {}), conditions: [...(next.status?.conditions ?? []), condition('Failed', 'SignerValidationFailure', problem)] };
    } else {
      const certPem = await signInChild(ca, pem!, csr.spec?.usages ?? [], signingSeconds(csr));
      next.status = { ...(next.status ?? {}), certificate: Buffer.from(certPem).toString('base64') };
    }
    await this.ctx.client.updateStatus(csrInfo, next as unknown as KubeObject);
    this.ctx.log.info({ csr: csr.metadata?.name, signer: csr.spec?.signerName, failed: problem }, problem ? 'cannot sign certificate signing request' : 'signed certificate signing request');
  }
}
