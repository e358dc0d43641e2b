// teardown: removes what a test cluster left on this host — its containers (by the cluster label) and its pod
// network (docker networks, iptables chains, routes, the service address interface) and the proxy's kernel rules.
import Dockerode from 'dockerode';
import { clusterId } from '../../pkg/kubelet/index.ts';
import { DockerRuntime, parseDockerHost } from '../../pkg/kubelet/runtime/index.ts';
import { teardownNode } from '../../pkg/agent/index.ts';

/** teardownTestCluster removes every container and network object of the cluster whose CA is `caPem`. */
export async function teardownTestCluster(caPem: string, dockerHost?: string): Promise<void> {
  const id = clusterId(caPem);
  const rt = new DockerRuntime({ cluster: id, ...(dockerHost ? { host: dockerHost } : {}) });
  for (const c of await rt.listContainers().catch(() => [])) await rt.removeContainer(c.id).catch(() => undefined);
  await teardownNode({ docker: new Dockerode(dockerHost ? parseDockerHost(dockerHost) : {}), clusterId: id });
}
