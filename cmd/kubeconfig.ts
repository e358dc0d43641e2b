// kubeconfig: `kubeling kubeconfig --user NAME --group G` — prints a kubeconfig whose client certificate (from the cluster CA) names that user and groups.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { collect, flag } from './options.ts';

export interface KubeconfigFlags {
  user: string;
  group: string[];
  dataDir: string;
  server?: string;
  namespace?: string;
  days: number;
}

export function kubeconfigCommand(): Command {
  const cmd = new Command('kubeconfig')
    .description('print a kubeconfig for a user: a client certificate from the cluster CA (CN = user, O = each group); run on the server')
    .addOption(flag('--user <name>', 'the user name the certificate carries (its CN)').makeOptionMandatory())
    .addOption(flag('--group <group>', 'a group the user is in (its O; repeatable)').argParser(collect).default([]))
    .addOption(flag('--data-dir <dir>', 'the server\'s data dir (its tls/ca.key signs the certificate)', '/var/lib/kubeling'))
    .addOption(flag('--server <url>', 'API server URL (default: the one in the admin kubeconfig, DATA_DIR/kubeconfig.yaml)'))
    .addOption(flag('--namespace <ns>', 'the context\'s default namespace'))
    .addOption(flag('--days <n>', 'how long the certificate is valid', 365).argParser(Number));
  cmd.action(async () => {
    process.stdout.write(await userKubeconfig(cmd.opts() as KubeconfigFlags));
  });
  return cmd;
}

/** userKubeconfig issues the certificate and renders the kubeconfig text. */
export async function userKubeconfig(o: KubeconfigFlags): Promise<string> {
  const [{ issueUserCert }, { kubeconfigYaml }] = await Promise.all([import('../pkg/pki/client.ts'), import('../pkg/pki/kubeconfig.ts')]);
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
