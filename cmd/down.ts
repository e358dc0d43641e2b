// down: `kubeling down` — stops the server `kubeling up` started and removes what its agent made on this host
// (the cluster's containers, docker networks, iptables chains, routes, the service interface); `--wipe` also
// deletes the data dir, else it stays for the next `kubeling up`.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { DEFAULT_DATA_DIR, stopServer } from '../pkg/cli/index.ts';
import { flag } from './options.ts';

export interface DownFlags {
  dataDir: string;
  wipe: boolean;
  dockerHost?: string;
}

export function downCommand(): Command {
  const cmd = new Command('down')
    .description('stop the cluster `kubeling up` started and remove its containers, networks, routes and rules from this host; --wipe also deletes the data dir')
    .addOption(flag('--data-dir <dir>', 'the server\'s data dir', DEFAULT_DATA_DIR))
    .addOption(flag('--wipe', 'delete the data dir too (the cluster\'s state, certificates and tokens)', false))
    .addOption(flag('--docker-host <url>', 'Docker Engine endpoint (default unix:///var/run/docker.sock)'))
    .action(async () => {
      await down(cmd.opts() as DownFlags);
    });
  return cmd;
}

/** down stops, tears down, and wipes if asked; prints what it did. */
export async function down(o: DownFlags): Promise<void> {
  const dataDir = resolve(o.dataDir);
  console.log((await stopServer(dataDir)) ? 'kubeling server stopped' : 'no kubeling server running for this data dir');
  const caFile = join(dataDir, 'tls', 'ca.crt');
  if (existsSync(caFile)) {
    const removed = await teardown(readFileSync(caFile, 'utf8'), o.dockerHost);
    console.log(`removed ${removed} container(s) and the cluster's networks, routes and rules`);
  } else {
    console.log(`no cluster CA in ${dataDir}: nothing to remove from Docker`);
  }
  if (o.wipe) {
    rmSync(dataDir, { recursive: true, force: true });
    console.log(`deleted ${dataDir}`);
  } else if (existsSync(dataDir)) {
    console.log(`kept ${dataDir} (kubeling up resumes it; kubeling down --wipe deletes it)`);
  }
}

/** teardown removes the cluster's containers (label kubeling.cluster) and its node-level network objects. */
async function teardown(caPem: string, dockerHost: string | undefined): Promise<number> {
  const [{ clusterId }, { DockerRuntime, parseDockerHost }, { teardownNode }, { default: Dockerode }] = await Promise.all([
    import('../pkg/kubelet/index.ts'),
    import('../pkg/kubelet/runtime/index.ts'),
    import('../pkg/agent/index.ts'),
    import('dockerode'),
  ]);
  const id = clusterId(caPem);
  const rt = new DockerRuntime({ cluster: id, ...(dockerHost ? { host: dockerHost } : {}) });
  let n = 0;
  for (const c of await rt.listContainers()) {
    await rt.removeContainer(c.id);
    n++;
  }
  await teardownNode({ docker: new Dockerode(dockerHost ? parseDockerHost(dockerHost) : {}), clusterId: id });
  return n;
}
