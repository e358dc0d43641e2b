// main: the `kubeling` command line — one small file per command, wired here.
import { Command } from 'commander';
import { serverCommand } from './server.ts';
import { agentCommand } from './agent.ts';
import { kubeconfigCommand } from './kubeconfig.ts';
import { VERSION } from '../pkg/api/version.ts';

const program = new Command('kubeling')
  .description('a small, real Kubernetes: control plane + Docker-backed node agents')
  .showHelpAfterError()
  .addCommand(serverCommand())
  .addCommand(agentCommand())
  .addCommand(kubeconfigCommand())
  .addCommand(
    new Command('version').description('print the version').action(() => {
      console.log(`kubeling ${VERSION.gitVersion} (Kubernetes API ${VERSION.major}.${VERSION.minor})`);
    }),
  );

try {
  await program.parseAsync(process.argv);
} catch (e) {
  console.error(`kubeling: ${(e as Error).message}`);
  process.exit(1);
}
