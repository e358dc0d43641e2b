// main: the `kubeling` command line — one small file per command, wired here.
import { Command } from 'commander';
import { serverCommand } from './server.ts';
import { agentCommand } from './agent.ts';
import { kubeconfigCommand } from './kubeconfig.ts';
import { upCommand } from './up.ts';
import { downCommand } from './down.ts';
import { tokenCommand } from './token.ts';
import { statusCommand } from './status.ts';
import { kubectlCommand } from './kubectl.ts';
import { VERSION } from '../pkg/api/version.ts';

const program = new Command('kubeling')
  .description('a small, real Kubernetes: control plane + Docker-backed node agents')
  .showHelpAfterError()
  .addCommand(upCommand())
  .addCommand(downCommand())
  .addCommand(statusCommand())
  .addCommand(serverCommand())
  .addCommand(agentCommand())
  .addCommand(tokenCommand())
  .addCommand(kubeconfigCommand())
  .addCommand(kubectlCommand())
  .addCommand(
    new Command('version').description('print the version').action(() => {
      console.log(`kubeling ${VERSION.gitVersion} (Kubernetes API ${VERSION.major}.${VERSION.minor}, Node ${process.versions.node})`);
    }),
  );

try {
  await program.parseAsync(process.argv);
} catch (e) {
  console.error(`kubeling: ${(e as Error).message}`);
  process.exit(1);
}
