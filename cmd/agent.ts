// agent: `kubeling agent` — joins a cluster with the node token and runs this host's kubelet.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import type { Logger } from 'pino';
import { fetchAndPinCa } from '../pkg/pki/pin.ts';
import { parseJoinToken } from '../pkg/pki/tokens.ts';
import { createLogger } from '../pkg/util/log.ts';
import { defaultNodeIp, hostName } from '../pkg/util/net.ts';
import { applyConfigFile, collect, flag } from './options.ts';

export interface AgentFlags {
  server: string;
  token: string;
  caFile?: string;
  nodeName?: string;
  nodeIp?: string;
  dataDir: string;
  dockerHost?: string;
  kubeletPort: number;
  podCidr?: string;
  nodeLabel?: string[];
  nodeportAddresses?: string[];
  clusterDns?: string;
  clusterDomain?: string;
  disableKubeProxy?: boolean;
  proxyMode?: string;
  registryAuthFile?: string;
  logLevel?: string;
}

/** agentFlags adds the flags the agent and the embedded agent of `server` share. */
export function agentFlags(cmd: Command, opts: { forServer: boolean }): Command {
  if (!opts.forServer) {
    // the server has these too (it publishes them to every agent); an agent's own value overrides what it publishes
    cmd
      .addOption(flag('--cluster-dns <ip>', 'nameserver of pods with dnsPolicy ClusterFirst (default: the server\'s, from kube-system/kubeling-config)'))
      .addOption(flag('--cluster-domain <domain>', 'DNS domain of the cluster (default: the server\'s, cluster.local)'));
    cmd
      .addOption(flag('--server <url>', 'API server URL, e.g. https://10.0.0.10:6443 (required)'))
      .addOption(flag('--token <token>', 'node join token (the server\'s DATA_DIR/token) (required)'))
      .addOption(flag('--ca-file <file>', 'CA certificate to trust instead of the one pinned by the token'))
      .addOption(flag('--data-dir <dir>', 'agent state directory', '/var/lib/kubeling-agent'))
      .addOption(flag('--log-level <level>', 'pino log level', 'info'));
  }
  return cmd
    .addOption(flag('--node-name <name>', 'name of this node (default: host name)'))
    .addOption(flag('--node-ip <ip>', 'address other nodes and the server reach this node at (default: first non-loopback IPv4)'))
    .addOption(flag('--docker-host <url>', 'Docker Engine endpoint, e.g. unix:///var/run/docker.sock'))
    .addOption(flag('--kubelet-port <port>', 'port of the agent\'s HTTPS endpoint (logs, exec, port-forward)', 10250).argParser(Number))
    .addOption(flag('--node-label <key=value>', 'label to register the node with (repeatable)').argParser((v: string, prev: string[] = []) => [...prev, v]))
    .addOption(flag('--nodeport-addresses <cidrs>', 'where NodePort and LoadBalancer ports listen: comma-separated CIDRs of this node\'s addresses (default: every address)').argParser(collect))
    .addOption(flag('--disable-kube-proxy', 'run no service proxy and no DNS responder on this node', false))
    .addOption(flag('--proxy-mode <mode>', 'how the service proxy forwards: userspace (sockets in the agent; retries a refusing endpoint) or iptables (kernel DNAT)', 'userspace').choices(['userspace', 'iptables']))
    .addOption(flag('--registry-auth-file <file>', 'Docker config.json with node-wide registry credentials, used when a pod\'s imagePullSecrets have none for the registry', '/etc/kubeling/registry-auth.json'));
}

export function agentCommand(): Command {
  const cmd = new Command('agent').description('join a cluster and run pods on this host through Docker');
  agentFlags(cmd, { forServer: false });
  cmd.addOption(flag('--config <file>', 'YAML file whose keys are flag names'));
  cmd.action(async () => {
    await applyConfigFile(cmd);
    const o = cmd.opts() as AgentFlags;
    // required, but only known after the config file is read (commander checks mandatory options before that)
    for (const [name, v] of [['--server <url>', o.server], ['--token <token>', o.token]] as const) {
      if (!v) cmd.error(`error: required option '${name}' not specified (on the command line, in KUBELING_${name.slice(2).split(' ')[0]!.toUpperCase()} or in --config)`);
    }
    const log = createLogger({ level: o.logLevel, name: 'kubeling-agent' });
    let caPem: string;
    try {
      if (o.caFile) caPem = readFileSync(o.caFile, 'utf8');
      else {
        const t = parseJoinToken(o.token);
        if (!t.caHash) throw new Error('the token carries no CA hash (K10…::…); pass --ca-file to trust the server');
        caPem = await fetchAndPinCa(o.server, t.caHash);
      }
    } catch (e) {
      log.fatal({ err: e }, `cannot trust ${o.server}: ${(e as Error).message}`);
      process.exitCode = 1;
      return;
    }
    try {
      const agent = await startAgent({ ...o, caPem }, log);
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void agent.close().then(() => process.exit(0)));
    } catch (e) {
      log.fatal({ err: e }, (e as Error).message);
      process.exit(1);
    }
  });
  return cmd;
}

/** startAgent runs the agent with resolved defaults; used by `agent` and by `server`'s embedded agent. */
export async function startAgent(o: Omit<AgentFlags, 'caFile'> & { caPem: string }, log: Logger): Promise<{ close(): Promise<void> }> {
  // loaded on demand: a pure master (--disable-agent) never loads the Docker client
  const { runAgent } = await import('../pkg/agent/index.ts');
  return runAgent(
    {
      server: o.server,
      token: o.token,
      caPem: o.caPem,
      nodeName: (o.nodeName ?? hostName()).toLowerCase(),
      nodeIp: o.nodeIp ?? defaultNodeIp(),
      dataDir: o.dataDir,
      dockerHost: o.dockerHost,
      kubeletPort: o.kubeletPort ?? 10250,
      labels: Object.fromEntries((o.nodeLabel ?? []).map((kv) => kv.split('=', 2) as [string, string])),
      nodePortAddresses: typeof o.nodeportAddresses === 'string' ? collect(o.nodeportAddresses) : (o.nodeportAddresses ?? []),
      ...(o.clusterDns ? { clusterDNS: o.clusterDns } : {}),
      ...(o.clusterDomain ? { clusterDomain: o.clusterDomain } : {}),
      disableProxy: !!o.disableKubeProxy,
      proxyMode: o.proxyMode === 'iptables' ? 'iptables' : 'userspace',
      ...(o.registryAuthFile ? { registryAuthFile: o.registryAuthFile } : {}),
    },
    log,
  );
}
