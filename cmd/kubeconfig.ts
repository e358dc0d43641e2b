// kubeconfig: `kubeling kubeconfig` — prints the admin kubeconfig with an address other hosts reach; with `--user NAME
// --group G`, a kubeconfig whose client certificate (from the cluster CA) names that user and groups.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { reachableServer, withServer } from '../pkg/cli/index.ts';
import { defaultNodeIp } from '../pkg/util/net.ts';
import { collect, flag } from './options.ts';

export interface KubeconfigFlags {
  user?: string;
  group: string[];
  dataDir: string;
  server?: string;
  namespace?: string;
  days: number;
  address?: string;
}

export function kubeconfigCommand(): Command {
  const cmd = new Command('kubeconfig')
    .description('print the admin kubeconfig with the server\'s reachable address, or with --user a kubeconfig for that user: a client certificate from the cluster CA (CN = user, O = each group); run on the server')
    .addOption(flag('--user <name>', 'the user name the certificate carries (its CN); without it, the admin kubeconfig'))
    .addOption(flag('--group <group>', 'a group the user is in (its O; repeatable)').argParser(collect).default([]))
    .addOption(flag('--data-dir <dir>', 'the server\'s data dir (its tls/ca.key signs the certificate)', '/var/lib/kubeling'))
    .addOption(flag('--server <url>', 'API server URL (default: the admin kubeconfig\'s, DATA_DIR/kubeconfig.yaml, with a loopback host replaced by --address)'))
    .addOption(flag('--address <ip>', 'the host that replaces a loopback server address (default: --node-ip / KUBELING_NODE_IP, else this host\'s first address)'))
    .addOption(flag('--namespace <ns>', 'the context\'s default namespace'))
    .addOption(flag('--days <n>', 'how long the certificate is valid', 365).argParser(Number));
  cmd.action(async () => {
    const o = cmd.opts() as KubeconfigFlags;
    process.stdout.write(o.user ? await userKubeconfig(o) : await adminKubeconfig(o));
  });
  return cmd;
}

/** adminKubeconfig is DATA_DIR/kubeconfig.yaml with the server moved off loopback (the certificate names the node IP). */
export async function adminKubeconfig(o: Pick<KubeconfigFlags, 'dataDir' | 'server' | 'address'>): Promise<string> {
  const path = join(o.dataDir, 'kubeconfig.yaml');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new Error(`no admin kubeconfig at ${path}: run on the server (kubeling up, or the kubeling-server service), or pass --data-dir`);
  }
  const server = o.server ?? reachableServer(await adminServer(o.dataDir), o.address ?? process.env.KUBELING_NODE_IP ?? defaultNodeIp());
  return withServer(text, server);
}

/** userKubeconfig issues the certificate and renders the kubeconfig text. */
export async function userKubeconfig(o: KubeconfigFlags): Promise<string> {
  const [{ issueUserCert }, { kubeconfigYaml }] = await Promise.all([import('../pkg/pki/client.ts'), import('../pkg/pki/kubeconfig.ts')]);
  if (!o.user) throw new Error('--user is required for a user kubeconfig');
  const server = o.server ?? (await adminServer(o.dataDir));
  const groups = (o.group ?? []).filter(Boolean);
  const cert = await issueUserCert(o.dataDir, o.user, groups, Number(o.days ?? 365));
  return kubeconfigYaml({ server, caCertPem: cert.caCertPem, clientCertPem: cert.certPem, clientKeyPem: cert.keyPem, user: o.user, namespace: o.namespace });
}

async function adminServer(dataDir: string): Promise<string> {
  try {
    const kc = parseYaml(await readFile(join(dataDir, 'kubeconfig.yaml'), 'utf8')) as { clusters?: { cluster?: { server?: string } }[] };
    const s = kc.clusters?.[0]?.cluster?.server;
    if (s) return s;
  } catch {
    /* fall through */
  }
  throw new Error(`no server URL: pass --server (none found in ${join(dataDir, 'kubeconfig.yaml')})`);
}
