// agent-streaming: kubectl logs / exec / port-forward end to end through the API server to the agent's endpoint.
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cstatus, pod, pods, startCluster } from './agent-harness.ts';
import type { Cluster } from './agent-harness.ts';

const NODE = 'agent-streaming-node';
let c: Cluster;

beforeAll(async () => {
  c = await startCluster(NODE);
  await c.admin.create(pods, 'default', pod('talker', NODE, {
    containers: [
      { name: 'main', image: 'kubeling/busybox:test', command: ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo line $i; sleep 0.2; done'] },
      { name: 'web', image: 'kubeling/httpd:test', ports: [{ containerPort: 80 }] },
    ],
  }));
  await c.waitPod('talker', (p) => p.status?.phase === 'Running' && p.status.containerStatuses.every((s: any) => s.ready));
});
afterAll(async () => {
  await c?.cleanup();
});

describe('logs', () => {
  it('serves logs with tail, timestamps, follow and previous', async () => {
    await new Promise((r) => setTimeout(r, 1200));
    const all = await c.kubectl('logs', 'talker', '-c', 'main');
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/^line 1\nline 2\n/);
    const tail = await c.kubectl('logs', 'talker', '-c', 'main', '--tail=2');
    expect(tail.stdout.trim().split('\n')).toHaveLength(2);
    const ts = await c.kubectl('logs', 'talker', '-c', 'main', '--tail=1', '--timestamps');
    expect(ts.stdout).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z line \d+\n$/);
    const limited = await c.kubectl('logs', 'talker', '-c', 'main', '--limit-bytes=5');
    expect(limited.stdout).toBe('line ');
    // follow: new lines keep arriving
    const child = spawn('/usr/bin/kubectl', ['--kubeconfig', c.kubeconfig, 'logs', '-f', '--tail=1', 'talker', '-c', 'main']);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    await new Promise((r) => setTimeout(r, 2000));
    child.kill();
    expect(out.trim().split('\n').length).toBeGreaterThanOrEqual(4);
    // previous
    const noPrev = await c.kubectl('logs', 'talker', '-c', 'main', '--previous');
    expect(noPrev.code).not.toBe(0);
    const p = await c.admin.get(pods, 'default', 'talker');
    await c.docker.stopContainer(cstatus(p, 'main').containerID.slice(9), 0);
    await c.waitPod('talker', (p) => cstatus(p, 'main')?.restartCount === 1 && !!cstatus(p, 'main').state.running);
    const prev = await c.kubectl('logs', 'talker', '-c', 'main', '--previous');
    expect(prev.code).toBe(0);
    expect(prev.stdout).toMatch(/^line 1\n/);
    expect(prev.stdout.split('\n').length).toBeGreaterThan(5);
  });
});

describe('exec', () => {
  it('runs commands, passes stdin and exit codes', async () => {
    const r = await c.kubectl('exec', 'talker', '-c', 'main', '--', 'sh', '-c', 'echo out; echo err >&2');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('out\n');
    expect(r.stderr).toContain('err');
    const bad = await c.kubectl('exec', 'talker', '-c', 'main', '--', 'sh', '-c', 'exit 3');
    expect(bad.code).toBe(3);
    const child = spawn('/usr/bin/kubectl', ['--kubeconfig', c.kubeconfig, 'exec', '-i', 'talker', '-c', 'main', '--', 'cat']);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stdin.end('piped input\n');
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(0);
    expect(out).toBe('piped input\n');
  });
});

describe('port-forward', () => {
  it('forwards a local port to the pod', async () => {
    const child = spawn('/usr/bin/kubectl', ['--kubeconfig', c.kubeconfig, 'port-forward', 'pod/talker', ':80']);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    try {
      const until = Date.now() + 15_000;
      let port = 0;
      while (!port && Date.now() < until) {
        const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
        if (m) port = Number(m[1]);
        else await new Promise((r) => setTimeout(r, 100));
      }
      expect(port, out).toBeGreaterThan(0);
      for (let i = 0; i < 2; i++) {
        const body = await new Promise<string>((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port, path: '/' }, (res) => {
            let b = '';
            res.on('data', (d) => (b += d));
            res.on('end', () => resolve(b));
          });
          req.on('error', reject);
          req.end();
        });
        expect(body).toBe('hello from kubeling\n');
      }
    } finally {
      child.kill();
    }
  });
});
