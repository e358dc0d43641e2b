// kubectl: `kubeling kubectl …` — runs the system's kubectl against this cluster (KUBECONFIG = DATA_DIR/kubeconfig.yaml).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { DEFAULT_DATA_DIR } from '../pkg/cli/index.ts';

export function kubectlCommand(): Command {
  return new Command('kubectl')
    .description('run the system kubectl against this cluster (data dir from KUBELING_DATA_DIR, default /var/lib/kubeling)')
    .usage('[kubectl arguments…]')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(async (args: string[]) => {
      process.exitCode = await kubectl(args);
    });
}

/** kubectl runs kubectl with the arguments and answers its exit code; a leading `--data-dir DIR` picks the cluster. */
export function kubectl(args: string[]): Promise<number> {
  let dataDir = process.env.KUBELING_DATA_DIR ?? DEFAULT_DATA_DIR;
  if (args[0] === '--data-dir' && args[1]) {
    dataDir = args[1];
    args = args.slice(2);
  } else if (args[0]?.startsWith('--data-dir=')) {
    dataDir = args[0].slice('--data-dir='.length);
    args = args.slice(1);
  }
  const kubeconfig = join(dataDir, 'kubeconfig.yaml');
  if (!existsSync(kubeconfig)) throw new Error(`no cluster in ${dataDir} (no kubeconfig.yaml): start one with \`kubeling up\`, or set KUBELING_DATA_DIR`);
  return new Promise((res, rej) => {
    const child = spawn('kubectl', args, { stdio: 'inherit', env: { ...process.env, KUBECONFIG: kubeconfig } });
    child.once('error', (e: NodeJS.ErrnoException) =>
      rej(e.code === 'ENOENT' ? new Error('kubectl is not installed: install it (Debian: apt-get install -y kubectl), or use the kubeconfig from `kubeling kubeconfig` with yours') : e),
    );
    child.once('exit', (code, signal) => res(code ?? (signal ? 128 : 1)));
  });
}
