// server: `kubeling server` — the master (API server over SQLite) plus, unless --disable-agent, its own node agent.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import type { Logger } from 'pino';
import type { Registry } from '../pkg/apiserver/registry.ts';
import type { UserInfo } from '../pkg/apiserver/auth/types.ts';
import { VERSION } from '../pkg/api/version.ts';
import { ensurePkiAndTokensIsolated } from '../pkg/pki/isolated.ts';
import { kubeconfigYaml, writeKubeconfig } from '../pkg/pki/kubeconfig.ts';
import { parseJoinToken } from '../pkg/pki/tokens.ts';
import { exposedGc, HeapReducer } from '../pkg/util/heapreducer.ts';
import { createLogger } from '../pkg/util/log.ts';
import { defaultNodeIp, hostName } from '../pkg/util/net.ts';
import { applyConfigFile, collect, flag, parseBool, parseDuration } from './options.ts';
import { agentFlags, startAgent, type AgentFlags } from './agent.ts';

/**
 * BOOTSTRAP_USER is who the join token authenticates as: upstream's bootstrap-token user (system:bootstrap:<id>) in
 * group system:bootstrappers, which may only create and read CertificateSigningRequests (system:node-bootstrapper).
 */
export const BOOTSTRAP_USER: UserInfo = { name: 'system:bootstrap:kubeling', groups: ['system:bootstrappers'] };

export interface ServerFlags extends Omit<AgentFlags, 'server' | 'token' | 'caFile'> {
  config?: string;
  dataDir: string;
  bindAddress: string;
  auditLogPath?: string;
  auditLogMaxsize?: number;
  auditLogMaxbackup?: number;
  auditLogMaxage?: number;
  auditLogBatchBufferSize?: number;
  maxRequestsInflight?: number;
  maxMutatingRequestsInflight?: number;
  requestTimeout?: number | string;
  httpsListenPort: number;
  advertiseAddress?: string;
  tlsSan: string[];
  writeKubeconfig?: string;
  disableAgent: boolean;
  logLevel: string;
  leaderElect?: boolean;
  disableScheduler?: boolean;
  disableControllerManager?: boolean;
  controllers?: string[] | string;
  nodeMonitorGracePeriod?: number;
  clusterCidr?: string;
  serviceCidr?: string;
  serviceNodePortRange?: string;
  clusterDns?: string;
  clusterDomain?: string;
  nodeCidrMaskSize?: number;
  eventTtl?: number;
  etcdCompactionInterval?: number;
  defaultNotReadyTolerationSeconds?: number;
  defaultUnreachableTolerationSeconds?: number;
  heapReducer?: boolean | string;
}

export function serverCommand(): Command {
  const cmd = new Command('server')
    .description('run the control plane (API server, store) and, unless --disable-agent, a node agent in the same process')
    .addOption(flag('--config <file>', 'YAML file whose keys are flag names'))
    .addOption(flag('--data-dir <dir>', 'where state, certificates and tokens live', '/var/lib/kubeling'))
    .addOption(flag('--bind-address <ip>', 'address the API server listens on', '0.0.0.0'))
    .addOption(flag('--https-listen-port <port>', 'HTTPS port of the API server', 6443).argParser(Number))
    .addOption(flag('--advertise-address <ip>', 'address agents and kubeconfig use to reach the server (default: node IP)'))
    .addOption(flag('--tls-san <name>', 'extra name or IP for the serving certificate (repeatable)').argParser(collect).default([]))
    .addOption(flag('--write-kubeconfig <file>', 'where to write the admin kubeconfig (default DATA_DIR/kubeconfig.yaml)'))
    .addOption(flag('--disable-agent', 'run only the control plane, no node agent', false))
    .addOption(flag('--log-level <level>', 'pino log level', 'info'))
    .addOption(flag('--leader-elect [bool]', 'scheduler and controllers take a coordination.k8s.io Lease first, so one master runs them', true).argParser(parseBool))
    .addOption(flag('--disable-scheduler', 'do not run the scheduler', false))
    .addOption(flag('--disable-controller-manager', 'do not run the controllers', false))
    .addOption(flag('--controllers <list>', 'controllers to run: * for all, NAME to add one, -NAME to leave one out (e.g. *,-garbagecollector)').argParser(collect))
    .addOption(flag('--node-monitor-grace-period <duration>', 'a node whose lease is older is marked NotReady/Unknown', '20s').argParser(parseDuration))
    .addOption(flag('--cluster-cidr <cidr>', 'pod addresses; each node gets a subnet of it in spec.podCIDR', '10.42.0.0/16'))
    .addOption(flag('--service-cidr <cidr>', 'Service ClusterIPs come from here', '10.43.0.0/16'))
    .addOption(flag('--service-node-port-range <range>', 'ports NodePort services may use (BASE-MAX)', '30000-32767'))
    .addOption(flag('--cluster-dns <ip>', 'ClusterIP of the cluster DNS service kube-system/kube-dns (default: the 10th address of --service-cidr)'))
    .addOption(flag('--cluster-domain <domain>', 'DNS domain of the cluster', 'cluster.local'))
    .addOption(flag('--node-cidr-mask-size <bits>', 'size of each node\'s pod subnet', 24).argParser(Number))
    .addOption(flag('--event-ttl <duration>', 'how long events are kept', '1h').argParser(parseDuration))
    .addOption(flag('--etcd-compaction-interval <duration>', 'how long change history is kept, so watches resume instead of re-listing', '5m').argParser(parseDuration))
    .addOption(flag('--default-not-ready-toleration-seconds <s>', 'toleration added to pods for node.kubernetes.io/not-ready:NoExecute', 30).argParser(Number))
    .addOption(flag('--default-unreachable-toleration-seconds <s>', 'toleration added to pods for node.kubernetes.io/unreachable:NoExecute', 30).argParser(Number))
    .addOption(flag('--audit-log-path <file>', 'write audit events (audit.k8s.io/v1 Event, Metadata level, JSON lines) to this file; - for stdout'))
    .addOption(flag('--audit-log-maxsize <MB>', 'megabytes the audit log file reaches before it is rotated', 100).argParser(Number))
    .addOption(flag('--audit-log-maxbackup <n>', 'rotated audit log files to keep (0: all)', 0).argParser(Number))
    .addOption(flag('--audit-log-maxage <days>', 'days to keep rotated audit log files (0: forever)', 0).argParser(Number))
    .addOption(flag('--audit-log-batch-buffer-size <n>', 'audit events queued for writing before new ones are dropped (and counted)', 10000).argParser(Number))
    .addOption(flag('--max-requests-inflight <n>', 'read-only requests served at once before new ones get 429 (watches and streams not counted; default 400)').argParser(Number))
    .addOption(flag('--max-mutating-requests-inflight <n>', 'mutating requests served at once before new ones get 429 (default 200)').argParser(Number))
    .addOption(flag('--request-timeout <duration>', 'how long a request that is not a watch or a stream may take (default 60s)').argParser(parseDuration))
    .addOption(flag('--heap-reducer [bool]', 'after a burst, once the heap stops growing and the event loop is calm, run one compacting GC that returns the spare heap to the system (holds the loop up to about a second, at most every two minutes)', true).argParser(parseBool));
  agentFlags(cmd, { forServer: true });
  cmd.action(async () => {
    await applyConfigFile(cmd);
    await runServer(cmd.opts() as ServerFlags);
  });
  return cmd;
}

export async function runServer(o: ServerFlags): Promise<{ close(): Promise<void> }> {
  const log = createLogger({ level: o.logLevel, name: 'kubeling-server' });
  const dataDir = o.dataDir;
  mkdirSync(join(dataDir, 'db'), { recursive: true, mode: 0o700 });
  const nodeIp = o.nodeIp ?? defaultNodeIp();
  const advertise = o.advertiseAddress ?? (o.bindAddress !== '0.0.0.0' && o.bindAddress !== '::' ? o.bindAddress : nodeIp);
  const ips = new Set<string>([nodeIp, advertise]);
  ips.add((await import('../pkg/apiserver/allocators.ts')).nthAddress(o.serviceCidr || '10.43.0.0/16', 1)); // the kubernetes Service's ClusterIP, which in-cluster clients dial
  const dns = new Set<string>([hostName()]);
  if (o.bindAddress !== '0.0.0.0' && o.bindAddress !== '::') ips.add(o.bindAddress);
  for (const san of o.tlsSan ?? []) (/^[0-9.]+$|:/.test(san) ? ips : dns).add(san);
  log.info({ dataDir }, 'preparing certificates and tokens');
  const { pki, tokens } = await ensurePkiAndTokensIsolated(dataDir, { dns: [...dns], ips: [...ips] });
  const { adminToken, nodeToken } = tokens;
  const nodePassword = parseJoinToken(nodeToken).password;
  // loaded here, not at the top: `kubeling agent` and `version` never load the control plane
  const [{ createApiServer }, { openSqliteStore }] = await Promise.all([import('../pkg/apiserver/index.ts'), import('../pkg/store/index.ts')]);
  const historyMs = durationMs(o.etcdCompactionInterval, '5m');
  const store = openSqliteStore(join(dataDir, 'db', 'state.db'), { logger: log.child({ component: 'store' }), historyMs });
  const api = await createApiServer({
    store,
    logger: log.child({ component: 'apiserver' }),
    tls: { certPem: pki.certPem, keyPem: pki.keyPem, caCertPem: pki.caCertPem },
    serviceAccountKeyPem: pki.serviceAccountKeyPem,
    serviceAccountAdmission: true,
    tokens: new Map<string, string | UserInfo>([
      [adminToken, 'admin'],
      // the join token (and its bare password, as k3s accepts) only bootstraps: CSRs for a node's own certificate
      [nodeToken, BOOTSTRAP_USER],
      [nodePassword, BOOTSTRAP_USER],
    ]),
    ...(pki.kubeletClientCertPem && pki.kubeletClientKeyPem ? { kubeletClient: { certPem: pki.kubeletClientCertPem, keyPem: pki.kubeletClientKeyPem } } : {}),
    advertiseAddress: advertise,
    eventTtlMs: durationMs(o.eventTtl, '1h'),
    defaultNotReadyTolerationSeconds: Number(o.defaultNotReadyTolerationSeconds ?? 30),
    defaultUnreachableTolerationSeconds: Number(o.defaultUnreachableTolerationSeconds ?? 30),
    audit: o.auditLogPath
      ? { path: o.auditLogPath, maxSizeMB: Number(o.auditLogMaxsize ?? 100), maxBackups: Number(o.auditLogMaxbackup ?? 0), maxAgeDays: Number(o.auditLogMaxage ?? 0), bufferSize: Number(o.auditLogBatchBufferSize ?? 10000) }
      : undefined,
    // flags given win over KUBELING_API_LIMITS (JSON), which wins over the defaults (pkg/apiserver/limits.ts)
    limits: {
      ...(o.maxRequestsInflight !== undefined ? { maxRequestsInflight: Number(o.maxRequestsInflight) } : {}),
      ...(o.maxMutatingRequestsInflight !== undefined ? { maxMutatingRequestsInflight: Number(o.maxMutatingRequestsInflight) } : {}),
      ...(o.requestTimeout !== undefined ? { requestTimeoutMs: durationMs(o.requestTimeout, '60s') } : {}),
    },
    cluster: { clusterCIDR: o.clusterCidr, serviceCIDR: o.serviceCidr, serviceNodePortRange: o.serviceNodePortRange, clusterDNS: o.clusterDns, clusterDomain: o.clusterDomain },
  });
  api.registry.watchCacheOptions.windowMs = historyMs; // the watch cache keeps as much history as the store
  let port: number;
  try {
    ({ port } = await api.listen(o.httpsListenPort, o.bindAddress));
  } catch (e) {
    await store.close();
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`cannot listen on ${o.bindAddress}:${o.httpsListenPort}: ${code === 'EADDRINUSE' ? 'the address is in use (is another kubeling server running?)' : (e as Error).message}`);
  }
  const host = o.bindAddress === '0.0.0.0' || o.bindAddress === '::' ? '127.0.0.1' : o.bindAddress;
  const url = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const kubeconfigPath = o.writeKubeconfig ?? join(dataDir, 'kubeconfig.yaml');
  await writeKubeconfig(kubeconfigPath, kubeconfigYaml({ server: url, caCertPem: pki.caCertPem, token: adminToken }));
  log.info({ url, kubeconfig: kubeconfigPath, token: join(dataDir, 'token') }, 'API server ready');

  // once a burst is over, the heap's spare pages go back to the system (pkg/util/heapreducer.ts)
  let reducer: HeapReducer | undefined;
  if (parseBool(o.heapReducer)) {
    const gc = exposedGc();
    if (gc) reducer = new HeapReducer(gc, { log: log.child({ component: 'heap' }) }).start();
    else log.warn('--heap-reducer: this runtime does not expose V8\'s gc; the heap keeps its spare pages after bursts');
  }

  const controllers = await startControllers(o, api.registry, log, pki.caCertPem, { certPem: pki.caCertPem, keyPem: pki.caKeyPem });

  let agent: { close(): Promise<void> } | undefined;
  if (!o.disableAgent) {
    agent = await startAgent(
      { ...o, server: url, token: nodeToken, caPem: pki.caCertPem, dataDir: join(dataDir, 'agent'), nodeIp },
      log.child({ component: 'agent' }),
    );
  }

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      reducer?.stop();
      await agent?.close();
      await controllers.stop();
      await api.close();
      await store.close();
    })());
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      log.info({ signal: sig }, 'shutting down');
      void close().then(() => process.exit(0));
    });
  }
  return { close };
}

/** durationMs reads a duration flag that may come parsed (command line), as text (config file, env) or absent. */
function durationMs(v: number | string | undefined, fallback: string): number {
  return typeof v === 'number' ? v : parseDuration(v ?? fallback);
}

/** startControllers runs the scheduler and the controllers in this process, under leader election, over in-process clients. */
async function startControllers(o: ServerFlags, registry: Registry, log: Logger, rootCaPem: string, signer: { certPem: string; keyPem: string }): Promise<{ stop(): Promise<void> }> {
  const { managerGroups, unknownControllers } = await import('../pkg/controllers/index.ts');
  const list = o.disableControllerManager ? [] : typeof o.controllers === 'string' ? collect(o.controllers) : o.controllers ?? ['*'];
  const unknown = unknownControllers(list);
  if (unknown.length) throw new Error(`--controllers: unknown controller(s) ${unknown.join(', ')}`);
  const groups = managerGroups(list, !o.disableScheduler).filter((g) => g.loops.length);
  if (!groups.length) return { stop: async () => undefined };
  const [{ startControllerManager }, { LocalClient }] = await Promise.all([import('../pkg/controllers/manager.ts'), import('../pkg/apiserver/localclient.ts')]);
  return startControllerManager({
    clientFor: (component) => new LocalClient(registry, { userAgent: `${component}/${VERSION.gitVersion}`, log: log.child({ component }) }),
    log,
    leaderElect: parseBool(o.leaderElect),
    identity: `${hostName()}_${randomUUID()}`,
    options: {
      nodeMonitorGracePeriodMs: durationMs(o.nodeMonitorGracePeriod, '20s'),
      clusterCidr: o.clusterCidr ?? '10.42.0.0/16',
      nodeCidrMaskSize: Number(o.nodeCidrMaskSize ?? 24),
      workers: 5,
      rootCaPem,
      signer,
    },
    groups,
  });
}
