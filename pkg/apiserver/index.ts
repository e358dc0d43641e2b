// apiserver: the HTTPS Kubernetes API (fastify): auth, discovery, OpenAPI, CRUD, watch, subresources, tables.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { ApiError, errors } from '../api/errors.ts';
import { VERSION } from '../api/version.ts';
import type { KubeObject } from '../api/types.ts';
import { REVIEW_GROUPS, apiVersionOf, type ResourceInfo } from '../api/resources.ts';
import { tableFor } from '../api/tables.ts';
import { decodeKubernetesProtobuf } from '../api/protobuf/index.ts';
import { takeWriterAnswers } from '../store/index.ts';
import type { Store } from '../store/types.ts';
import { parseApiPath } from './paths.ts';
import { aggregatedDiscovery, aggregatedContentType, apiVersions, apiGroupList, apiGroup, apiResourceList } from './discovery.ts';
import { aggregatedDiscoveryVersion, decodeBodyAsync, mediaType, parseListLimit, responseShape, type ResponseShape } from './negotiate.ts';
import { openapiRoot, openapiGroupVersion, openapiV2, OPENAPI_V2_PROTOBUF } from './openapi.ts';
import { Registry, deleteOptionsFrom, withTypeMeta, type ClusterConfig, type PatchType, type WriteOptions, type DeleteOptions } from './registry.ts';
import { nthAddress, parseCidr, parsePortRange } from './allocators.ts';
import { NodeProxy } from './nodeproxy.ts';
import { ServiceProxy, parseProxyPath } from './serviceproxy.ts';
import type { CacheTarget } from './watchcache.ts';
import { Auth, forbidden, requestAttributes, type UserInfo } from './auth/index.ts';
import { AuditLog } from './audit.ts';
import { escalationAdmission } from './auth/escalation.ts';
import { ANONYMOUS, GROUPS } from './auth/types.ts';
import { ConnectionTable, HTTP_ON_HTTPS, Inflight, TLS_HANDSHAKE, TOO_MANY_REQUESTS, WatchBudget, classify, looksLikeHttp, resolveLimits, type ApiLimits } from './limits.ts';
import { LargeBody, OffloadPool, serialisedText } from './offload.ts';

export { Registry, CLUSTER_CONFIG, type ClusterConfig } from './registry.ts';

export { VERSION } from '../api/version.ts';

export interface ApiServerOptions {
  store: Store;
  logger: Logger;
  tls: { certPem: string; keyPem: string; caCertPem: string };
  /**
   * bearer tokens accepted, mapped to the user they stand for: a UserInfo, or a name — `node` for the shared node
   * identity (kubeling-node in system:nodes), any other name an administrator in system:masters
   */
  tokens: Map<string, string | UserInfo>;
  /** the address clients should use (discovery's serverAddressByClientCIDRs) */
  advertiseAddress?: string;
  /** the client certificate presented to node agents when proxying logs/exec/port-forward (CN kube-apiserver-kubelet-client) */
  kubeletClient?: { certPem: string; keyPem: string };
  /** --event-ttl: Events whose last activity is older are deleted (default 1 h) */
  eventTtlMs?: number;
  /** --default-not-ready-toleration-seconds (DefaultTolerationSeconds admission; default 30, upstream 300) */
  defaultNotReadyTolerationSeconds?: number;
  /** --default-unreachable-toleration-seconds (default 30, upstream 300) */
  defaultUnreachableTolerationSeconds?: number;
  /**
   * the cluster's network configuration (--cluster-cidr, --service-cidr, --cluster-dns, --cluster-domain,
   * --service-node-port-range), published in ConfigMap kube-system/kubeling-config; unset keys take the defaults
   */
  cluster?: Partial<ClusterConfig>;
  /** the key service-account tokens are signed with (PEM; DATA/tls/service.key); an in-memory key when absent */
  serviceAccountKeyPem?: string;
  /** the ServiceAccount admission plugin (`kubeling server` turns it on; embedded test servers without controllers leave it off) */
  serviceAccountAdmission?: boolean;
  /** --audit-log-path (`-` = stdout) and its rotation and buffer flags; no path = no audit log */
  audit?: { path: string; maxSizeMB?: number; maxBackups?: number; maxAgeDays?: number; bufferSize?: number };
  /** connection, request and watch bounds (limits.ts); unset keys come from KUBELING_API_LIMITS, then the defaults */
  limits?: Partial<ApiLimits>;
}

/**
 * clusterConfig fills the defaults of the published configuration: 10.42.0.0/16 pods, 10.43.0.0/16 services, the
 * 10th service address for DNS (upstream's convention), cluster.local, ports 30000-32767. Throws on a malformed value.
 */
export function clusterConfig(c: Partial<ClusterConfig> = {}): ClusterConfig {
  const serviceCIDR = c.serviceCIDR || '10.43.0.0/16';
  const clusterCIDR = c.clusterCIDR || '10.42.0.0/16';
  parseCidr(serviceCIDR);
  parseCidr(clusterCIDR);
  const serviceNodePortRange = c.serviceNodePortRange || '30000-32767';
  const { min, max } = parsePortRange(serviceNodePortRange);
  return {
    clusterCIDR,
    serviceCIDR,
    clusterDNS: c.clusterDNS || nthAddress(serviceCIDR, 10),
    clusterDomain: (c.clusterDomain || 'cluster.local').replace(/^\.+|\.+$/g, ''),
    serviceNodePortRange: `${min}-${max}`,
  };
}

export interface ApiServer {
  app: FastifyInstance;
  registry: Registry;
  listen(port: number, host: string): Promise<{ port: number }>;
  close(): Promise<void>;
  /** counters of the limits, for tests and benches */
  limitStats(): { connections: ConnectionTable['stats']; inflight: Inflight['count']; rejected: number; watchBytes: number; watchStreams: number; watchesClosed: number };
}

/** createApiServer wires the registry over the store into a fastify app; call listen() to serve. */
export async function createApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const log = opts.logger;
  const cluster = clusterConfig(opts.cluster);
  const registry = new Registry(opts.store, log.child({ component: 'registry' }), {
    defaultNotReadyTolerationSeconds: opts.defaultNotReadyTolerationSeconds,
    defaultUnreachableTolerationSeconds: opts.defaultUnreachableTolerationSeconds,
    serviceCidr: cluster.serviceCIDR,
    serviceNodePortRange: cluster.serviceNodePortRange,
    serviceAccountKeyPem: opts.serviceAccountKeyPem,
    serviceAccountAdmission: opts.serviceAccountAdmission,
  });
  const limits = resolveLimits(opts.limits, process.env.KUBELING_API_LIMITS);
  registry.watchCacheOptions = { watcherQueueBytes: limits.watcherQueueBytes };
  await registry.start();
  await registry.ensureClusterConfig(cluster);
  const auth = new Auth({ registry, tokens: opts.tokens, log: log.child({ component: 'auth' }) });
  await auth.start();
  const audit = opts.audit?.path ? new AuditLog({ ...opts.audit, log: log.child({ component: 'audit' }) }) : undefined;
  registry.escalation = escalationAdmission({ authorize: (a) => auth.authorize(a), snapshot: () => auth.policy.snapshot(), fresh: () => auth.policy.fresh() });
  /** the user each request was authenticated as (after impersonation) */
  const users = new WeakMap<IncomingMessage, UserInfo>();
  const eventSweep = startEventSweep(registry, opts.eventTtlMs ?? DEFAULT_EVENT_TTL_MS, log);
  const nodeProxy = new NodeProxy(registry, opts.tls.caCertPem, log.child({ component: 'nodeproxy' }));
  if (opts.kubeletClient) nodeProxy.clientCert = opts.kubeletClient;
  const serviceProxy = new ServiceProxy(registry, log.child({ component: 'serviceproxy' }));
  const openWatches = new Set<() => void>();
  const conns = new ConnectionTable(limits);
  const inflight = new Inflight(limits);
  const watchBudget = new WatchBudget(limits.watchBudgetBytes, limits.watchBudgetPerUserBytes);
  const offload = new OffloadPool();
  const parseYaml = (text: string) => offload.run('yaml', text);
  const readBody = (req: FastifyRequest, contentType = req.headers['content-type']) => decodeBodyAsync(req.body as Buffer | undefined, contentType, decodeKubernetesProtobuf, parseYaml);
  // a write's large body stays undecoded: the registry computes the whole write on a worker
  registry.offload = offload;
  const readWriteBody = (req: FastifyRequest, contentType = req.headers['content-type']) => LargeBody.of(req.body as Buffer | undefined, contentType) ?? readBody(req, contentType);

  const app = Fastify({
    logger: false,
    // client certificates are asked for, not required: the chain is verified against the cluster CA and the
    // request handler reads the verdict (socket.authorized), as upstream's x509 authenticator does
    // the timeouts bound every stage of a request a client could drag out: the handshake, the headers, the whole
    // request with its body (checked every quarter of it), the idle keep-alive connection
    https: {
      key: opts.tls.keyPem,
      cert: opts.tls.certPem,
      ca: opts.tls.caCertPem,
      requestCert: true,
      rejectUnauthorized: false,
      handshakeTimeout: limits.handshakeTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.min(limits.requestTimeoutMs || Infinity, limits.headersTimeoutMs || Infinity) / 4)),
    },
    bodyLimit: 3 * 1024 * 1024,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    forceCloseConnections: true,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1000 },
  } as any) as unknown as FastifyInstance;
  guardConnections(app.server as HttpsServer, conns, limits);
  // commits answered while this turn reads requests are taken in first: the writes waiting on them answer now
  app.server.prependListener('request', takeWriterAnswers);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  // authentication, impersonation and authorization of every request, before anything else reads it
  app.addHook('onRequest', async (req, reply) => {
    audit?.begin(req.raw, reply.raw);
    const [rawPath, query = ''] = req.url.split('?', 2);
    const path = rawPath.length > 1 ? rawPath.replace(/\/+$/, '') || '/' : rawPath;
    const u = auth.user(req.raw, path);
    const user = u instanceof Promise ? await u : u;
    if (!user) return;
    users.set(req.raw, user);
    audit?.user(req.raw, user, auth.actors.get(req.raw));
    if (user.name !== ANONYMOUS) conns.authenticated(req.socket.remoteAddress, req.socket.remotePort);
    // upstream's max-in-flight filter sits between authentication and authorization
    const params = new URLSearchParams(query);
    const release = inflight.enter(classify(req.method, path, params), user.groups.includes(GROUPS.masters));
    if (!release) {
      reply
        .code(429)
        .header('retry-after', TOO_MANY_REQUESTS.retryAfter)
        .header('content-type', 'text/plain; charset=utf-8')
        .header('x-content-type-options', 'nosniff')
        .send(TOO_MANY_REQUESTS.body);
      return reply;
    }
    reply.raw.once('close', release);
    if (Auth.mayBypass(user)) return audit?.decision(req.raw, { allowed: true, reason: '' });
    const a = requestAttributes(user, req.method, path, params);
    const d = await auth.authorize(a, params.get('fieldSelector') ?? '');
    audit?.decision(req.raw, d);
    if (!d.allowed) throw forbidden(a, d.reason);
  });

  // services/pods proxy subresources: taken over before the body is read, so request bodies stream to the backend
  app.addHook('onRequest', async (req, reply) => {
    const [pathname, query = ''] = req.url.split('?', 2);
    if (!pathname.includes('/proxy')) return;
    const target = parseProxyPath(pathname);
    if (!target) return;
    reply.hijack();
    await serviceProxy.serveHttp(req.raw, reply.raw, target, query);
    return reply;
  });

  app.setErrorHandler((err, req, reply) => {
    let status: ApiError;
    if (err instanceof ApiError) status = err;
    else if ((err as any).code === 'FST_ERR_CTP_BODY_TOO_LARGE') status = errors.requestEntityTooLarge('the request body is too large');
    else if ((err as any).statusCode && (err as any).statusCode < 500) status = errors.badRequest((err as Error).message);
    else {
      log.error({ err, url: req.url, method: req.method }, 'request failed');
      status = errors.internal((err as Error).message);
    }
    audit?.status(req.raw, status.status);
    if (status.code === 401) reply.header('connection', 'close'); // an unauthenticated client gets no idle connection
    reply.code(status.code).header('content-type', 'application/json').send(JSON.stringify(status.status));
  });
  app.setNotFoundHandler((_req, reply) => {
    const s = errors.notFoundPath();
    reply.code(404).header('content-type', 'application/json').send(JSON.stringify(s.status));
  });

  const json = (reply: FastifyReply, code: number, body: unknown, contentType = 'application/json') =>
    reply.code(code).header('content-type', contentType).send(typeof body === 'string' ? body : JSON.stringify(body));

  app.get('/version', async (_req, reply) => {
    reply.header('cache-control', 'public, max-age=600');
    return json(reply, 200, VERSION);
  });
  for (const p of ['/readyz', '/livez', '/healthz']) app.get(p, async (_req, reply) => reply.code(200).header('content-type', 'text/plain').send('ok'));
  app.get('/cacerts', async (_req, reply) => reply.code(200).header('content-type', 'application/x-pem-file').send(opts.tls.caCertPem));
  app.get('/openapi/v3', async (_req, reply) => json(reply, 200, openapiRoot()));
  const v2 = openapiV2();
  app.get('/openapi/v2', async (req, reply) => {
    reply.header('cache-control', 'public, max-age=600');
    if ((req.headers.accept ?? '').includes(OPENAPI_V2_PROTOBUF)) return reply.code(200).header('content-type', OPENAPI_V2_PROTOBUF).send(v2.protobuf);
    return json(reply, 200, v2.json);
  });
  app.get('/openapi/v3/*', async (req, reply) => {
    const rest = (req.params as { '*': string })['*'].split('?')[0];
    const m = /^(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(rest);
    const doc = m ? openapiGroupVersion(m[1] ? '' : m[2], m[1] ?? m[3]) : undefined;
    if (!doc) throw errors.notFoundPath();
    reply.header('cache-control', 'public, immutable, max-age=31536000');
    return json(reply, 200, doc);
  });

  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const [pathname, query = ''] = req.url.split('?', 2);
    const q = new URLSearchParams(query);
    const target = parseApiPath(pathname);
    const accept = req.headers.accept;
    switch (target.type) {
      case 'discovery-root': {
        const v = aggregatedDiscoveryVersion(accept);
        if (v) return json(reply, 200, aggregatedDiscovery(target.legacy, v), aggregatedContentType(v));
        return json(reply, 200, target.legacy ? apiVersions(opts.advertiseAddress ?? req.headers.host ?? '') : apiGroupList());
      }
      case 'discovery-group': {
        const g = apiGroup(target.group);
        if (!g) throw errors.notFoundPath();
        return json(reply, 200, g);
      }
      case 'discovery-version': {
        const l = apiResourceList(target.group, target.version);
        if (!l) throw errors.notFoundPath();
        return json(reply, 200, l);
      }
      case 'unknown':
        throw errors.notFoundPath();
    }
    const info = target.info;
    if (!info) throw errors.notFoundPath();
    if (!info.namespaced && target.namespace !== undefined) throw errors.notFoundPath();
    const ns = target.namespace;
    const name = target.name;
    const sub = target.subresource;
    if (sub && !info.subresources.includes(sub)) throw errors.notFoundPath();
    const method = req.method;
    if (REVIEW_GROUPS.has(info.group)) {
      if (method !== 'POST' || name) throw errors.methodNotAllowed('the server does not allow this method on the requested resource');
      const user = users.get(req.raw);
      if (!user) throw errors.unauthorized();
      return json(reply, 201, await auth.review(info, ns, await readBody(req), user));
    }
    const shape = responseShape(accept);
    const wopts: WriteOptions = {
      dryRun: q.getAll('dryRun').includes('All'),
      fieldManager: q.get('fieldManager') ?? managerFromUserAgent(req.headers['user-agent']),
      fieldValidation: parseFieldValidation(q.get('fieldValidation')),
      warnings: [],
      user: users.get(req.raw),
      serialisedResult: true,
    };
    if (q.has('dryRun') && !q.getAll('dryRun').every((v) => v === 'All')) throw errors.badRequest(`Invalid dry run value: ${q.get('dryRun')}`);
    const reply200 = (code: number, obj: KubeObject) => {
      if (wopts.warnings?.length) reply.header('warning', wopts.warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', '));
      return renderObject(reply, info, obj, shape, code);
    };
    const body = () => readBody(req);

    // Pod streaming subresources go to the node agent.
    if (sub === 'log' || sub === 'exec' || sub === 'attach' || sub === 'portforward') {
      if (!name) throw errors.notFoundPath();
      reply.hijack();
      await nodeProxy.proxyHttp(req.raw, reply.raw, ns ?? 'default', name, sub, query);
      return;
    }

    if (!name) {
      if (method === 'GET') {
        if (q.get('watch') === 'true' || q.get('watch') === '1') return serveWatch(req, reply, info, ns, q, shape);
        const limit = parseListLimit(q.get('limit'));
        const labelSelector = q.get('labelSelector') ?? undefined;
        const fieldSelector = q.get('fieldSelector') ?? undefined;
        const whole = !(limit && limit > 0) && !q.get('continue');
        // A whole JSON list is read and written page by page, so its size never sits in memory twice.
        const paged = whole && shape === 'object' && !fieldSelector;
        const r = await registry.listRaw(info, ns, {
          labelSelector,
          fieldSelector,
          limit: paged ? LIST_PAGE : limit && limit > 0 ? limit : undefined,
          continue: q.get('continue') ?? undefined,
          resourceVersion: q.get('resourceVersion') ?? undefined,
          resourceVersionMatch: q.get('resourceVersionMatch') ?? undefined,
        });
        if (paged && r.continue) {
          const head = JSON.stringify({ kind: info.listKind, apiVersion: apiVersionOf(info), metadata: listMeta(String(r.revision)) });
          return streamList(reply, head, r.items, r.continue, (cont) => registry.listRaw(info, ns, { labelSelector, limit: LIST_PAGE, continue: cont }));
        }
        const rv = String(r.revision);
        if (shape === 'table') {
          const objs = r.parsed ?? r.items.map((s) => JSON.parse(s) as KubeObject);
          return json(reply, 200, tableFor(info, objs.map((o) => withTypeMeta(info, o)), { now: new Date(), includeObject: includeObject(q), resourceVersion: rv, continue: r.continue, remainingItemCount: r.remaining }));
        }
        if (shape === 'partial-metadata') {
          const objs = r.parsed ?? r.items.map((s) => JSON.parse(s) as KubeObject);
          return json(reply, 200, { kind: 'PartialObjectMetadataList', apiVersion: 'meta.k8s.io/v1', metadata: listMeta(rv, r.continue, r.remaining), items: objs.map(partialMetadata) });
        }
        const head = JSON.stringify({ kind: info.listKind, apiVersion: apiVersionOf(info), metadata: listMeta(rv, r.continue, r.remaining) });
        return reply.code(200).header('content-type', 'application/json').send(`${head.slice(0, -1)},"items":[${r.items.join(',')}]}`);
      }
      if (method === 'POST') {
        if (info.namespaced && ns === undefined) throw errors.methodNotAllowed(`the server does not allow this method on the requested resource`);
        const created = await registry.create(info, ns, await readWriteBody(req), wopts);
        audit?.object(req.raw, created.metadata);
        return reply200(201, created);
      }
      if (method === 'DELETE') {
        const dopts = deleteOptions(req, q);
        const gone = await registry.deleteCollection(info, ns, { labelSelector: q.get('labelSelector') ?? undefined, fieldSelector: q.get('fieldSelector') ?? undefined }, dopts);
        // the answer lists every deleted object (5,000 pods: ~25 MB); written a page at a time, as a whole list is, never as one string
        const head = JSON.stringify({ kind: info.listKind, apiVersion: apiVersionOf(info), metadata: {} });
        const page = (from: number) => ({ items: gone.slice(from, from + LIST_PAGE).map((o) => JSON.stringify(o)), continue: from + LIST_PAGE < gone.length ? String(from + LIST_PAGE) : undefined });
        const first = page(0);
        return streamList(reply, head, first.items, first.continue, async (cont) => page(Number(cont)));
      }
      throw errors.methodNotAllowed(`the server does not allow this method on the requested resource`);
    }

    if (info.namespaced && ns === undefined) throw errors.notFoundPath();

    // scale subresource: autoscaling/v1 Scale view
    if (sub === 'scale') {
      if (method === 'GET') return json(reply, 200, await registry.getScale(info, ns, name));
      if (method === 'PUT') {
        const b = (await body()) as KubeObject;
        return json(reply, 200, await registry.updateScale(info, ns, name, () => b, wopts));
      }
      if (method === 'PATCH') return json(reply, 200, await registry.patchScale(info, ns, name, patchType(req.headers['content-type']), await body(), wopts));
      throw errors.methodNotAllowed('the server does not allow this method on the requested resource');
    }
    if (sub === 'token') {
      if (method !== 'POST') throw errors.methodNotAllowed('the server does not allow this method on the requested resource');
      return json(reply, 201, await registry.createToken(ns!, name, await body(), wopts));
    }
    if (sub === 'binding' || sub === 'eviction') {
      if (method !== 'POST') throw errors.methodNotAllowed('the server does not allow this method on the requested resource');
      if (sub === 'binding') await registry.bind(ns!, name, await body(), wopts);
      else await registry.evict(ns!, name, await body(), wopts.dryRun);
      return json(reply, 201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
    }
    if (sub === 'proxy') throw errors.notFoundPath();

    switch (method) {
      case 'GET': {
        if (q.get('watch') === 'true' || q.get('watch') === '1') {
          q.set('fieldSelector', [q.get('fieldSelector'), `metadata.name=${name}`].filter(Boolean).join(','));
          return serveWatch(req, reply, info, ns, q, shape);
        }
        return reply200(200, await registry.get(info, ns, name, wopts));
      }
      case 'PUT': {
        return reply200(200, await registry.update(info, ns, name, await readWriteBody(req), wopts, sub));
      }
      case 'PATCH': {
        const type = patchType(req.headers['content-type']);
        const p = await readWriteBody(req, type === 'apply' ? 'application/apply-patch+yaml' : 'application/json');
        const force = q.get('force') === 'true';
        if (force && type !== 'apply') throw errors.badRequest('force is only allowed for apply patches');
        const r = await registry.patch(info, ns, name, type, p, { ...wopts, force }, sub);
        return reply200(r.created ? 201 : 200, r.object);
      }
      case 'DELETE': {
        const dopts = deleteOptions(req, q);
        const gone = await registry.delete(info, ns, name, dopts);
        return reply200(200, gone);
      }
      case 'POST':
        throw errors.methodNotAllowed('the server does not allow this method on the requested resource');
    }
    throw errors.methodNotAllowed('the server does not allow this method on the requested resource');
  };

  function serveWatch(req: FastifyRequest, reply: FastifyReply, info: ResourceInfo, ns: string | undefined, q: URLSearchParams, shape: ResponseShape) {
    const res = reply.raw as ServerResponse;
    reply.hijack();
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    let closed = false;
    let stop: (() => void) | undefined;
    const timers: NodeJS.Timeout[] = [];
    // a stream closed for holding too much unsent output is destroyed, not ended: ending would keep the unsent
    // bytes until the stalled client read them, and they are what must be given back
    const finish = (overflowed = false) => {
      if (closed) return;
      closed = true;
      stop?.();
      budget.release();
      for (const t of timers) clearTimeout(t), clearInterval(t);
      openWatches.delete(finish);
      if (overflowed) res.destroy();
      else res.end();
    };
    openWatches.add(finish);
    res.on('close', () => finish());
    // every watch stream's unsent bytes count against the budget of all watchers and of its user
    const budget = watchBudget.add(users.get(req.raw)?.name ?? '', () => res.writableLength, () => finish(true));
    const write = (type: string, object: unknown) => {
      if (closed) return;
      res.write(JSON.stringify({ type, object }) + '\n');
      budget.report(res.writableLength);
    };
    const render = (obj: KubeObject) => (shape === 'table' ? tableFor(info, [obj], { now: new Date(), includeObject: includeObject(q) }) : shape === 'partial-metadata' ? partialMetadata(obj) : obj);
    // JSON watchers write the cache's shared line; tables and metadata-only shapes render their own. The response's
    // unsent bytes are this watcher's queue: the cache closes the stream when they pass its bound (watcherQueueBytes).
    const target: CacheTarget = {
      deliver: (d) => {
        if (closed) return 0;
        res.write(shape === 'object' ? (d.encoded?.() ?? d.line()) : JSON.stringify({ type: d.type, object: render(d.object()) }) + '\n');
        const queued = res.writableLength;
        budget.report(queued);
        return queued;
      },
      close: () => finish(true),
    };
    let bookmarkRevision = () => 0;
    const started = Date.now();
    const timeout = Number(q.get('timeoutSeconds') ?? 0);
    timers.push(setTimeout(() => finish(), (timeout > 0 ? timeout : 1800 + Math.random() * 1800) * 1000));
    const bookmarks = q.get('allowWatchBookmarks') === 'true';
    const sendInitialEvents = q.get('sendInitialEvents') === 'true';
    // a bookmark carries the newest revision whose events this watcher has all been sent, never the store's newest
    const bookmark = (annotations?: Record<string, string>) =>
      write('BOOKMARK', { kind: info.kind, apiVersion: apiVersionOf(info), metadata: { resourceVersion: String(bookmarkRevision()), ...(annotations ? { annotations } : {}) } });
    registry
      .watchShared(info, ns, { labelSelector: q.get('labelSelector') ?? undefined, fieldSelector: q.get('fieldSelector') ?? undefined, resourceVersion: q.get('resourceVersion') ?? undefined, sendInitialEvents }, target)
      .then((w) => {
        if (closed) return w.stop();
        stop = w.stop;
        bookmarkRevision = w.bookmarkRevision;
        if (sendInitialEvents && bookmarks) bookmark({ 'k8s.io/initial-events-end': 'true' });
        if (bookmarks) timers.push(setInterval(() => bookmark(), 10_000));
        // upstream's cacher also bookmarks 2 s before the watch's deadline, so a resumed watch starts from there
        if (bookmarks && timeout > 2) timers.push(setTimeout(() => bookmark(), (timeout - 2) * 1000 - (Date.now() - started)));
      })
      .catch((err) => {
        const status = err instanceof ApiError ? err.status : errors.internal(String(err)).status;
        write('ERROR', status);
        finish();
      });
    void req;
  }

  app.all('/api', handler);
  app.all('/api/*', handler);
  app.all('/apis', handler);
  app.all('/apis/*', handler);

  // Upgrades (exec, attach, port-forward over WebSocket or SPDY) are proxied to the pod's node.
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    void upgrade(req, socket, head);
  });
  const upgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const [pathname, query = ''] = (req.url ?? '').split('?', 2);
    try {
      const user = await auth.user(req, pathname);
      if (user && user.name !== ANONYMOUS) conns.authenticated(req.socket.remoteAddress, req.socket.remotePort);
      // a WebSocket exec/attach/port-forward is a GET; upstream also requires `create` on it (as SPDY's POST has)
      if (user) await auth.check(user, req.method ?? 'GET', pathname, new URLSearchParams(query), /\/(exec|attach|portforward)$/.test(pathname) ? 'create' : undefined);
    } catch (err) {
      const s = err instanceof ApiError ? err.status : errors.internal(String(err)).status;
      socket.end(`HTTP/1.1 ${s.code} ${s.reason ?? 'Error'}\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n${JSON.stringify(s)}`);
      return;
    }
    let proxied: ReturnType<typeof parseProxyPath>;
    try {
      proxied = parseProxyPath(pathname);
    } catch (err) {
      const s = (err as ApiError).status;
      socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n${JSON.stringify(s)}`);
      return;
    }
    if (proxied) {
      void serviceProxy.serveUpgrade(req, socket, head, proxied, query);
      return;
    }
    const t = parseApiPath(pathname);
    if (t.type !== 'resource' || t.resource !== 'pods' || !t.name || !['exec', 'attach', 'portforward'].includes(t.subresource ?? '')) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
      return;
    }
    nodeProxy.proxyUpgrade(req, socket, head, t.namespace ?? 'default', t.name, t.subresource!, query).catch((err) => {
      const status = err instanceof ApiError ? err.status : errors.internal(String(err)).status;
      socket.end(`HTTP/1.1 ${status.code} Error\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n${JSON.stringify(status)}`);
    });
  };

  return {
    app,
    registry,
    limitStats: () => ({ connections: conns.stats, inflight: { ...inflight.count }, rejected: inflight.rejected, watchBytes: watchBudget.bytes, watchStreams: watchBudget.streams, watchesClosed: watchBudget.closed }),
    async listen(port: number, host: string) {
      await app.listen({ port, host });
      const addr = app.server.address();
      const bound = typeof addr === 'object' && addr ? addr.port : port;
      const ip = (opts.advertiseAddress ?? '').replace(/:\d+$/, '') || (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host);
      await registry.ensureKubernetesService(ip, bound);
      return { port: bound };
    },
    async close() {
      clearInterval(eventSweep);
      auth.stop();
      for (const f of [...openWatches]) f();
      offload.close();
      registry.stop();
      await app.close();
      await audit?.close();
    },
  };
}

const LIST_PAGE = 500;

/**
 * guardConnections puts the connection table and a first-byte check in front of TLS: each TCP connection is admitted
 * (or refused, or makes an older unauthenticated one go), must send its first byte within the handshake timeout, and
 * plain HTTP gets Go's 400 instead of a TLS alert; a TLS ClientHello goes on to the server's own TLS listener.
 */
function guardConnections(server: HttpsServer, conns: ConnectionTable, limits: ApiLimits): void {
  const tlsListeners = server.listeners('connection') as ((s: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    socket.on('error', () => {}); // a reset before the handshake is no server error
    if (!conns.open(socket)) return;
    const timer = setTimeout(() => socket.destroy(), limits.handshakeTimeoutMs || 10_000);
    socket.once('close', () => clearTimeout(timer));
    socket.once('data', (first: Buffer) => {
      clearTimeout(timer);
      socket.pause();
      socket.unshift(first);
      if (first[0] === TLS_HANDSHAKE) {
        for (const l of tlsListeners) l.call(server, socket);
        return;
      }
      if (looksLikeHttp(first)) socket.end(HTTP_ON_HTTPS);
      else socket.destroy();
    });
  });
}

/**
 * streamList writes a list page by page, waiting for the socket between pages. Every page is read at the first
 * page's revision (the continue token carries it), so the whole list is one consistent state at its resourceVersion;
 * if that revision is compacted mid-way the response is cut off rather than finished inconsistent.
 */
async function streamList(reply: FastifyReply, head: string, first: string[], cont: string | undefined, next: (cont: string) => Promise<{ items: string[]; continue?: string }>): Promise<void> {
  reply.hijack();
  const res = reply.raw as ServerResponse;
  res.writeHead(200, { 'content-type': 'application/json' });
  const write = (chunk: string) => (res.write(chunk) ? Promise.resolve() : new Promise<void>((r) => res.once('drain', r).once('close', r)));
  try {
    await write(`${head.slice(0, -1)},"items":[${first.join(',')}`);
    let written = first.length;
    while (cont && !res.destroyed) {
      const page = await next(cont);
      if (page.items.length) await write((written ? ',' : '') + page.items.join(','));
      written += page.items.length;
      cont = page.continue;
    }
    res.end(']}');
  } catch {
    res.destroy();
  }
}

function renderObject(reply: FastifyReply, info: ResourceInfo, obj: KubeObject, shape: ResponseShape, code: number) {
  // a write computed on a worker answers with its stored text as it is
  const text = shape === 'object' ? serialisedText(obj) : undefined;
  if (text !== undefined) return reply.code(code).header('content-type', 'application/json').send(text);
  let body: unknown = obj;
  if (shape === 'table') body = tableFor(info, [obj], { now: new Date(), resourceVersion: obj.metadata.resourceVersion });
  else if (shape === 'partial-metadata') body = partialMetadata(obj);
  return reply.code(code).header('content-type', 'application/json').send(JSON.stringify(body));
}

function partialMetadata(obj: KubeObject): object {
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
}

function listMeta(rv: string, cont?: string, remaining?: number): Record<string, unknown> {
  const m: Record<string, unknown> = { resourceVersion: rv };
  if (cont) m.continue = cont;
  if (cont && remaining !== undefined) m.remainingItemCount = remaining;
  return m;
}

/** managerFromUserAgent is upstream's default field manager: the User-Agent up to its first '/', at most 128 chars. */
function managerFromUserAgent(ua: string | undefined): string | undefined {
  const prefix = (ua ?? '').split('/')[0].slice(0, 128);
  return prefix || undefined;
}

function includeObject(q: URLSearchParams): 'None' | 'Metadata' | 'Object' {
  const v = q.get('includeObject');
  return v === 'None' || v === 'Object' ? v : 'Metadata';
}

function parseFieldValidation(v: string | null): WriteOptions['fieldValidation'] {
  if (v === null || v === '') return 'Warn';
  if (v === 'Strict' || v === 'Warn' || v === 'Ignore') return v;
  throw errors.badRequest(`fieldValidation must be one of "Ignore", "Warn", or "Strict", got ${v}`);
}

function patchType(contentType: string | undefined): PatchType {
  switch (mediaType(contentType)) {
    case 'application/json-patch+json':
      return 'json';
    case 'application/merge-patch+json':
      return 'merge';
    case 'application/strategic-merge-patch+json':
      return 'strategic';
    case 'application/apply-patch+yaml':
    case 'application/apply-patch+cbor':
      return 'apply';
    default:
      throw errors.unsupportedMediaType(contentType ?? '');
  }
}

function deleteOptions(req: FastifyRequest, q: URLSearchParams): DeleteOptions {
  let b: unknown = {};
  const raw = req.body as Buffer | undefined;
  if (raw && raw.length) {
    try {
      b = JSON.parse(raw.toString('utf8'));
    } catch {
      throw errors.badRequest('the DeleteOptions body is not valid JSON');
    }
  }
  return deleteOptionsFrom(b, q);
}

const DEFAULT_EVENT_TTL_MS = 60 * 60 * 1000;

/** startEventSweep deletes expired Events every quarter TTL (at most every minute, at least every 250 ms). */
function startEventSweep(registry: Registry, ttlMs: number, log: Logger): NodeJS.Timeout {
  let running = false;
  const t = setInterval(() => {
    if (running) return;
    running = true;
    registry
      .sweepExpiredEvents(ttlMs)
      .then((n) => n && log.debug({ removed: n }, 'expired events deleted'))
      .catch((err) => log.warn({ err }, 'event sweep failed'))
      .finally(() => (running = false));
  }, Math.min(60_000, Math.max(250, ttlMs / 4)));
  t.unref();
  return t;
}
