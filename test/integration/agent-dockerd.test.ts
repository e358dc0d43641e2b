// agent-dockerd: the agent survives losing dockerd (node NotReady), reconnects and reconciles — via a cuttable socket proxy to the real dockerd.
import { rmSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cstatus, nodes, pod, pods, startCluster } from './agent-harness.ts';
import type { Cluster } from './agent-harness.ts';

const NODE = 'agent-dockerd-node';
const SOCK = `/tmp/kubeling-dockerd-proxy-${process.pid}.sock`;

/** SocketProxy forwards a unix socket to dockerd's and can cut every connection, like a dockerd restart does. */
class SocketProxy {
  private server: net.Server | undefined;
  private readonly conns = new Set<net.Socket>();
  async start(): Promise<void> {
    rmSync(SOCK, { force: true });
    this.server = net.createServer((client) => {
      const up = net.connect('/var/run/docker.sock');
      this.conns.add(client).add(up);
      client.pipe(up).pipe(client);
      const end = (): void => {
        client.destroy();
        up.destroy();
        this.conns.delete(client);
        this.conns.delete(up);
      };
      client.on('error', end).on('close', end);
      up.on('error', end).on('close', end);
    });
    await new Promise<void>((r) => this.server!.listen(SOCK, r));
  }
  async stop(): Promise<void> {
    for (const s of this.conns) s.destroy();
    this.conns.clear();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server = undefined;
  }
}

const proxy = new SocketProxy();
let c: Cluster;

beforeAll(async () => {
  await proxy.start();
  c = await startCluster(NODE, { dockerHost: `unix://${SOCK}` });
});
afterAll(async () => {
  await proxy.start().catch(() => undefined);
  await c?.cleanup();
  await proxy.stop();
  rmSync(SOCK, { force: true });
});

const ready = (n: any): string | undefined => n.status?.conditions?.find((x: any) => x.type === 'Ready')?.status;

async function waitNode(pred: (n: any) => boolean, timeoutMs: number): Promise<any> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const n = await c.admin.get(nodes, undefined, NODE);
    if (pred(n)) return n;
    if (Date.now() > until) throw new Error(`node never matched; conditions ${JSON.stringify(n.status?.conditions)}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

describe('dockerd outage', () => {
  it('marks the node NotReady while dockerd is gone, then reconnects and keeps reconciling pods', async () => {
    await c.admin.create(pods, 'default', pod('survivor', NODE, { containers: [{ name: 'main', image: 'kubeling/busybox:test', command: ['sleep', '1000'] }] }));
    const p0 = await c.waitPod('survivor', (p) => p.status?.phase === 'Running');
    await proxy.stop();
    const down = await waitNode((n) => ready(n) === 'False', 25_000);
    expect(down.status.conditions.find((x: any) => x.type === 'Ready').message).toMatch(/^container runtime is down/);
    await proxy.start();
    await waitNode((n) => ready(n) === 'True', 25_000);
    // the pod kept running, and a kill behind the agent's back is still noticed and repaired
    const id0 = cstatus(p0, 'main').containerID.slice('docker://'.length);
    expect((await c.docker.inspectContainer(id0))?.state).toBe('running');
    await c.docker.stopContainer(id0, 0);
    const p1 = await c.waitPod('survivor', (p) => cstatus(p, 'main')?.restartCount === 1 && !!cstatus(p, 'main').state.running, 30_000);
    expect(cstatus(p1, 'main').lastState.terminated.exitCode).toBe(137);
  });
});
