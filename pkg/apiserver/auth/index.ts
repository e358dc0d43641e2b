// auth: the API server's authentication (certificates, tokens, impersonation) and authorization (system:masters, then Node, then RBAC) for every request.
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { errors } from '../../api/errors.ts';
import { lookupKind, type ResourceInfo } from '../../api/resources.ts';
import type { Registry } from '../registry.ts';
import { forbidden, requestAttributes } from './attributes.ts';
import { Authenticator } from './authenticate.ts';
import { authorizeNode, NodeGraphCache } from './node.ts';
import { impersonatedUser, impersonationChecks, parseImpersonation } from './impersonate.ts';
import { PolicyCache } from './policy.ts';
import { authorize, rulesFor } from './rbac.ts';
import { answerReview } from './reviews.ts';
import { ANONYMOUS, GROUPS, type Attributes, type Decision, type UserInfo } from './types.ts';

export type { Attributes, Decision, UserInfo } from './types.ts';
export { GROUPS } from './types.ts';
export { forbidden, forbiddenMessage, requestAttributes } from './attributes.ts';

/** ANONYMOUS_PATHS may be asked without credentials (as system:anonymous, then authorized like anyone); others answer 401. */
const ANONYMOUS_PATHS = new Set(['/readyz', '/livez', '/healthz', '/version', '/version/']);

/** PUBLIC_PATHS skip authentication and authorization: the CA bundle an agent fetches (and pins by hash) before it joins. */
const PUBLIC_PATHS = new Set(['/cacerts']);

export interface AuthOptions {
  registry: Registry;
  /** static bearer tokens and who they stand for (see tokenUser) */
  tokens: Map<string, string | import('./types.ts').UserInfo>;
  log: Logger;
}

/**
 * Auth answers, for each request, who sent it and whether they may: authenticate (client certificate, bearer token;
 * none → 401), apply impersonation headers (each checked with the `impersonate` verb), authorize. system:masters
 * bypasses authorization; nodes go to the Node authorizer first; everyone else to RBAC.
 */
export class Auth {
  readonly authenticator: Authenticator;
  readonly policy: PolicyCache;
  /** actors: who authenticated, for requests that impersonate someone else (the audit log records both) */
  readonly actors = new WeakMap<IncomingMessage, UserInfo>();
  readonly nodeGraph: NodeGraphCache;
  readonly #registry: Registry;
  readonly #log: Logger;

  constructor(opts: AuthOptions) {
    this.authenticator = new Authenticator(opts.tokens, opts.registry.serviceAccountTokens);
    this.policy = new PolicyCache(opts.registry, opts.log);
    this.nodeGraph = new NodeGraphCache(opts.registry, opts.log);
    this.#registry = opts.registry;
    this.#log = opts.log;
  }

  /** start loads the policy and the node graph, and creates upstream's default roles and bindings that are missing. */
  async start(): Promise<void> {
    await this.policy.start();
    await this.nodeGraph.start();
    await this.#dropInterimNodeBinding();
    await this.policy.ensureBootstrapPolicy();
  }

  /**
   * dropInterimNodeBinding deletes the ClusterRoleBinding system:node → group system:nodes that earlier kubeling
   * versions created (upstream binds no one to system:node: the Node authorizer grants nodes their rights).
   */
  async #dropInterimNodeBinding(): Promise<void> {
    const info = lookupKind('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding')!;
    const b = await this.#registry.store.get(`${info.group}/${info.resource}`, '', 'system:node');
    const subjects = (b?.subjects ?? []) as { kind?: string; name?: string }[];
    if (!b || b.metadata.labels?.['kubernetes.io/bootstrapping'] !== 'rbac-defaults' || !subjects.some((x) => x.kind === 'Group' && x.name === GROUPS.nodes)) return;
    await this.#registry.delete(info, undefined, 'system:node', {}).catch((err: unknown) => this.#log.warn({ err }, 'cannot delete the interim system:node binding'));
  }

  stop(): void {
    this.policy.stop();
    this.nodeGraph.stop();
  }

  /**
   * user authenticates a request and applies impersonation: 401 for a missing or bad credential (a missing one is
   * system:anonymous on the anonymous paths), 403 when impersonation is not allowed. undefined = a public path.
   */
  user(req: IncomingMessage, path: string): UserInfo | undefined | Promise<UserInfo> {
    if (PUBLIC_PATHS.has(path)) return undefined;
    const r = this.authenticator.authenticate(req);
    // a service-account token is answered once the objects it is bound to were looked up
    return r instanceof Promise ? r.then((x) => this.#resolve(req, path, x)) : this.#resolve(req, path, r);
  }

  #resolve(req: IncomingMessage, path: string, r: Awaited<ReturnType<Authenticator['authenticate']>>): UserInfo | Promise<UserInfo> {
    let user: UserInfo;
    if (r === 'invalid' || (r === 'none' && !ANONYMOUS_PATHS.has(path))) throw errors.unauthorized();
    if (r === 'none') user = { name: ANONYMOUS, groups: [GROUPS.unauthenticated] };
    else user = r;
    const imp = parseImpersonation(req.headers);
    if (!imp) return user;
    this.actors.set(req, user);
    return this.#impersonate(user, imp);
  }

  async #impersonate(actor: UserInfo, imp: NonNullable<ReturnType<typeof parseImpersonation>>): Promise<UserInfo> {
    for (const a of impersonationChecks(actor, imp)) {
      const d = await this.authorize(a);
      if (!d.allowed) throw forbidden(a, d.reason);
    }
    return impersonatedUser(imp);
  }

  /** mayBypass: system:masters is never asked about (upstream's privileged-group authorizer). */
  static mayBypass(user: UserInfo): boolean {
    return user.groups.includes(GROUPS.masters);
  }

  /**
   * authorize decides as upstream's `--authorization-mode=Node,RBAC`: the Node authorizer for node identities, then
   * RBAC; a denial is re-checked once the policy and the node graph have caught up with every committed write.
   * `fieldSelector` is the request's (the Node authorizer allows a node's pod list scoped to itself).
   */
  async authorize(a: Attributes, fieldSelector = ''): Promise<Decision> {
    if (a.user.groups.includes(GROUPS.masters)) return { allowed: true, reason: '' };
    const decide = (): Decision => {
      const n = authorizeNode(this.nodeGraph.graph, a, fieldSelector);
      if (n?.allowed) return n;
      const d = authorize(this.policy.snapshot(), a);
      if (d.allowed || !n?.reason) return d;
      return { allowed: false, reason: [n.reason, d.reason].filter(Boolean).join(', ') };
    };
    const d = decide();
    if (d.allowed) return d;
    await this.policy.fresh();
    await this.nodeGraph.fresh();
    return decide();
  }

  /** check authorizes a request (method, path, query) for user, throwing upstream's 403 when denied. */
  async check(user: UserInfo, method: string, path: string, query: URLSearchParams, verb?: string): Promise<void> {
    if (user.groups.includes(GROUPS.masters)) return;
    const a = requestAttributes(user, method, path, query);
    if (verb) a.verb = verb;
    const d = await this.authorize(a, query.get('fieldSelector') ?? '');
    if (!d.allowed) throw forbidden(a, d.reason);
  }

  /** review answers a POSTed authorization.k8s.io / authentication.k8s.io review for user. */
  review(info: ResourceInfo, namespace: string | undefined, body: unknown, user: UserInfo): Promise<Record<string, unknown>> {
    return answerReview(info, namespace, body, user, {
      authorize: (a) => this.authorize(a),
      rules: (u, ns) => rulesFor(this.policy.snapshot(), u, ns),
      authenticateToken: (t) => this.authenticator.authenticateToken(t),
      reviewToken: (t, auds) => this.authenticator.reviewToken(t, auds),
    });
  }
}
