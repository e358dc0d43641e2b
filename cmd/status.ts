// status: `kubeling status` — the local cluster at a glance: the API server's health, the nodes (Ready, pressure,
// cordon) and the pods by phase. Exits 1 when the server does not answer or a node is not Ready.
import { Command } from 'commander';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { lookupKind } from '../pkg/api/resources.ts';
import { clientFor, DEFAULT_DATA_DIR, readLocalCluster, renderStatus, runningServer, logFile } from '../pkg/cli/index.ts';
import { flag } from './options.ts';

export function statusCommand(): Command {
  const cmd = new Command('status')
    .description('the cluster at a glance: API server health, nodes and their health, pods by phase')
    .addOption(flag('--data-dir <dir>', 'the server\'s data dir (its admin kubeconfig)', DEFAULT_DATA_DIR))
    .action(async () => {
      process.exitCode = await status((cmd.opts() as { dataDir: string }).dataDir);
    });
  return cmd;
}

export async function status(dataDir: string): Promise<number> {
  const cluster = readLocalCluster(dataDir);
  const client = clientFor(cluster, 'kubeling-status');
  try {
    const health: Record<string, string> = {};
    for (const path of ['/livez', '/readyz']) {
      health[path.slice(1)] = await client.request('GET', path).then(
        () => 'ok',
        (e: Error) => (e instanceof SyntaxError ? 'ok' : `failed: ${e.message}`), // the body is plain "ok", not JSON
      );
    }
    if (health.livez !== 'ok') {
      const pid = runningServer(dataDir);
      console.error(`kubeling status: the API server at ${cluster.server} does not answer (${health.livez})${pid === undefined ? `; no server from \`kubeling up\` runs for ${dataDir}` : ` — see ${logFile(dataDir)}`}`);
      return 1;
    }
    const nodes = (await client.list(lookupKind('v1', 'Node')!)).items as Node[];
    const pods = (await client.list(lookupKind('v1', 'Pod')!)).items as Pod[];
    process.stdout.write(renderStatus({ server: cluster.server, health, nodes, pods, now: Date.now() }));
    const notReady = nodes.filter((n) => !n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    return nodes.length && !notReady.length ? 0 : 1;
  } finally {
    await client.close();
  }
}
