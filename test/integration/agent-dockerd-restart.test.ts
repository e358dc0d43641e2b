// agent-dockerd-restart: a real dockerd of the test's own (own network namespace, data root and socket) is
// restarted under a running agent; the agent reconnects and brings the pod back, and the node is Ready again.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerRuntime } from '../../pkg/kubelet/runtime/index.ts';
import { ensureTestImages, TEST_IMAGES } from '../helpers/images.ts';
import { nodes, pod, pods, startCluster, type Cluster } from './agent-harness.ts';

const NODE = 'agent-dockerd-restart';
const NETNS = `kl-dr-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'kubeling-dockerd-'));
const SOCK = join(dir, 'docker.sock');
let dockerd: ChildProcess | undefined;
let c: Cluster | undefined;
const docker = new DockerRuntime({ socketPath: SOCK });

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await Promise.resolve(fn()).catch(() => undefined);
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function startDockerd(): Promise<void> {
  // nsenter, not `ip netns exec`: the latter remounts /sys and hides the cgroup mounts dockerd needs.
  dockerd = spawn('nsenter', [`--net=/var/run/netns/${NETNS}`, 'dockerd', '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'), '--pidfile', join(dir, 'docker.pid'), '-H', `unix://${SOCK}`, '--bip', '10.231.0.1/24'], { stdio: 'ignore' });
  await until('the test dockerd', () => docker.version().then(() => true));
}

async function stopDockerd(): Promise<void> {
  if (!dockerd || dockerd.exitCode !== null) return;
  const exited = new Promise((r) => dockerd!.once('exit', r));
  dockerd.kill('SIGTERM');
  await exited;
}

const canRun = process.getuid?.() === 0 && spawnSync('which', ['dockerd', 'nsenter']).status === 0;

beforeAll(async () => {
  if (!canRun) return;
  execFileSync('ip', ['netns', 'add', NETNS]);
  execFileSync('ip', ['netns', 'exec', NETNS, 'ip', 'link', 'set', 'lo', 'up']);
  await startDockerd();
  await ensureTestImages(docker);
  c = await startCluster(NODE, { dockerHost: `unix://${SOCK}` });
}, 180_000);

afterAll(async () => {
  await c?.stopAgent().catch(() => undefined);
  if (dockerd && dockerd.exitCode === null) {
    for (const ct of await docker.listContainers({ node: NODE }).catch(() => [])) await docker.removeContainer(ct.id).catch(() => undefined);
  }
  await c?.cleanup().catch(() => undefined);
  await stopDockerd();
  spawnSync('ip', ['netns', 'delete', NETNS]);
  // dockerd leaves the overlay mounts of containers it stopped; take them down before removing the data root
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter((m) => m?.startsWith(dir + '/'));
  for (const m of mounts.sort().reverse()) spawnSync('umount', ['-l', m]);
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
});

describe('dockerd restart', () => {
  it('the agent reconnects, restarts the pod the restart killed, and the node is Ready again', async (ctx) => {
    if (!canRun || !c) throw new Error('this test needs root, dockerd (apt-get install -y docker.io) and nsenter (util-linux)');
    await c.admin.create(pods, 'default', pod('survivor', NODE, { containers: [{ name: 'c', image: TEST_IMAGES.busybox, command: ['sleep', '3600'] }] }));
    const running = await c.waitPod('survivor', (p) => p.status?.phase === 'Running' && p.status?.containerStatuses?.[0]?.ready === true);
    const firstId = running.status.containerStatuses[0].containerID;

    await stopDockerd(); // without live-restore, stopping dockerd stops every container
    await startDockerd();

    const back = await c.waitPod('survivor', (p) => {
      const s = p.status?.containerStatuses?.[0];
      return s?.ready === true && s.containerID !== firstId;
    }, 90_000);
    expect(back.status.phase).toBe('Running');
    expect(back.status.containerStatuses[0].restartCount).toBeGreaterThanOrEqual(1);
    const node = await until('node Ready', async () => {
      const n = await c!.admin.get(nodes, undefined, NODE);
      return n.status?.conditions?.find((x: any) => x.type === 'Ready')?.status === 'True' ? n : undefined;
    });
    expect(node.metadata.name).toBe(NODE);
    const ours = await docker.listContainers({ node: NODE });
    const live = ours.filter((x) => x.state === 'running');
    expect(live.map((x) => `${x.labels['io.kubernetes.container.name']}#${x.labels['io.kubernetes.container.restartCount']}`).sort(), JSON.stringify(ours.map((x) => [x.id.slice(0, 8), x.state, x.labels]))).toHaveLength(2); // sandbox + container
  }, 180_000);
});
