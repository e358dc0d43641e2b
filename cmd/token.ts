// token: `kubeling token create` — prints the token a node joins with (k3s's K10<CA hash>::server:<password>) and,
// with --print-join-command, the command that joins a host.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { DEFAULT_DATA_DIR, readLocalCluster, reachableServer } from '../pkg/cli/index.ts';
import { defaultNodeIp } from '../pkg/util/net.ts';
import { flag } from './options.ts';

export interface TokenFlags {
  dataDir: string;
  printJoinCommand: boolean;
  server?: string;
}

export function tokenCommand(): Command {
  const token = new Command('token').description('tokens that let nodes join this cluster');
  const create = new Command('create')
    .description('print the node join token (K10<CA hash>::server:<password>, from DATA_DIR/token); run on the server')
    .addOption(flag('--data-dir <dir>', 'the server\'s data dir', DEFAULT_DATA_DIR))
    .addOption(flag('--print-join-command', 'print the whole command that installs an agent joining this server', false))
    .addOption(flag('--server <url>', 'the URL agents reach the server at (default: the admin kubeconfig\'s, with this host\'s address for loopback)'))
    .action(() => {
      process.stdout.write(tokenText(create.opts() as TokenFlags));
    });
  return token.addCommand(create);
}

/** tokenText reads the join token and renders it, or the join command. */
export function tokenText(o: TokenFlags): string {
  let t: string;
  try {
    t = readFileSync(join(o.dataDir, 'token'), 'utf8').trim();
  } catch {
    throw new Error(`no join token in ${o.dataDir} (DATA_DIR/token is written when the server first starts): run \`kubeling up\` or pass --data-dir`);
  }
  if (!o.printJoinCommand) return `${t}\n`;
  const server = o.server ?? reachableServer(readLocalCluster(o.dataDir).server, process.env.KUBELING_NODE_IP ?? defaultNodeIp());
  return `sudo deploy/install.sh agent --server ${server} --token ${t}\n`;
}
