// flow-8: reaching workloads with kubectl 1.32 — `port-forward svc/…`, `kubectl proxy` with the service and pod proxy
// paths, `exec -it` (a real terminal through script(1)) into a pod on another host, `logs -f` across a container
// restart, and `kubectl cp` both ways.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpGet } from './hosts.ts';
import { dockerCli, flowCluster, flowTimer, ok, podsOf, ready, writeManifest, type FlowCluster } from './flow/cluster.ts';

const KUBECTL = '/usr/bin/kubectl';

/** toolbox is the flow's pod, on the last host, and its ClusterIP Service (3050 → 3000). */
const toolbox = (image: string, host: string) => `apiVersion: v1
kind: Pod
metadata:
  name: toolbox
  labels:
    app: toolbox
spec:
  nodeSelector:
    kubernetes.io/hostname: ${host}
  terminationGracePeriodSeconds: 2
  containers:
  - name: web
    image: ${image}
    ports:
    - containerPort: 3000
---
apiVersion: v1
kind: Service
metadata:
  name: toolbox
spec:
  selector:
    app: toolbox
  ports:
  - port: 3050
    targetPort: 3000
`;

describe('flow 8: port-forward, proxy, exec -it, logs -f, cp (kubectl 1.32)', () => {
  let f: FlowCluster;
  let file: string;
  let host: string;
  const timer = flowTimer('flow 8 (access)');
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    f = await flowCluster();
    timer.start();
    host = f.c.hosts[f.c.hosts.length - 1]!.name;
    file = writeManifest(f, 'toolbox.yaml', toolbox(f.image('v1'), host));
    ok(f.c.kubectl('apply', '-f', file));
    await f.c.waitFor('toolbox Ready', async () => (await podsOf(f.c, 'app=toolbox')).some(ready), 90_000);
  });
  afterAll(() => {
    for (const p of children) if (p.exitCode === null) p.kill('SIGKILL');
    f?.c.kubectl('delete', '-f', file, '--ignore-not-found', '--wait=false');
    timer.done();
  });

  const env = () => ({ ...process.env, HOME: join(f.c.kubeconfig, '..', 'home') });
  /** background starts a kubectl that keeps running and resolves once its output matches `re` */
  const background = (args: string[], re: RegExp): Promise<{ proc: ChildProcess; match: RegExpMatchArray; output: () => string }> =>
    new Promise((res, rej) => {
      const proc = spawn(KUBECTL, ['--kubeconfig', f.c.kubeconfig, ...args], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(proc);
      let out = '';
      const t = setTimeout(() => rej(new Error(`kubectl ${args.join(' ')}: no ${re} within 30 s; output:\n${out}`)), 30_000);
      const onData = (d: Buffer) => {
        out += d;
        const m = out.match(re);
        if (m) {
          clearTimeout(t);
          res({ proc, match: m, output: () => out });
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('exit', (code) => {
        clearTimeout(t);
        if (!re.test(out)) rej(new Error(`kubectl ${args.join(' ')} exited (${code}) before ${re}:\n${out}`));
      });
    });
  const exited = (p: ChildProcess, ms: number) =>
    new Promise<number | null>((res, rej) => {
      if (p.exitCode !== null || p.signalCode !== null) return res(p.exitCode);
      const t = setTimeout(() => rej(new Error(`still running after ${ms} ms`)), ms);
      p.once('exit', (code) => {
        clearTimeout(t);
        res(code);
      });
    });
  const pod = async () => (await podsOf(f.c, 'app=toolbox'))[0] as Pod;

  it('port-forwards a local port to the Service', async () => {
    const pf = await background(['port-forward', 'svc/toolbox', ':3050'], /Forwarding from 127\.0\.0\.1:(\d+) -> 3000/);
    const r = await httpGet(`http://127.0.0.1:${pf.match[1]}/version.txt`, 5000);
    expect(r).toEqual({ status: 200, body: 'v1\n' });
    const r2 = await httpGet(`http://127.0.0.1:${pf.match[1]}/`, 5000);
    expect(r2.body).toContain('<script src="app.js">');
    pf.proc.kill('SIGTERM');
    await exited(pf.proc, 10_000);
  });

  it('serves the service and pod proxy paths through kubectl proxy', async () => {
    const px = await background(['proxy', '--port=0'], /Starting to serve on 127\.0\.0\.1:(\d+)/);
    const base = `http://127.0.0.1:${px.match[1]}/api/v1/namespaces/default`;
    for (const path of ['services/toolbox:3050/proxy/version.txt', 'services/http:toolbox:3050/proxy/version.txt', 'pods/toolbox:3000/proxy/version.txt', 'pods/http:toolbox:3000/proxy/version.txt']) {
      const r = await httpGet(`${base}/${path}`, 5000);
      expect({ path, ...r }).toEqual({ path, status: 200, body: 'v1\n' });
    }
    const page = await httpGet(`${base}/services/toolbox:3050/proxy/`, 5000);
    expect(page.body).toContain('<script src="app.js">');
    px.proc.kill('SIGTERM');
    await exited(px.proc, 10_000);
  });

  it('execs into the pod on another host with a terminal (exec -it)', () => {
    const cmd = `${KUBECTL} --kubeconfig ${f.c.kubeconfig} exec -it toolbox -- sh`;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], {
      input: 'echo tty=$(tty) host=$(hostname) marker-$((6*7)); exit 3\n',
      encoding: 'utf8', timeout: 60_000, env: env(),
    });
    if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('exec -it needs script(1): apt-get install -y bsdutils');
    expect(r.stdout).toMatch(/tty=\/dev\/pts\/\d+ host=toolbox marker-42/);
    expect(r.status, r.stderr + r.stdout).toBe(3);
    expect(r.stdout).not.toContain('Unable to use a TTY');
  });

  it('follows the logs (logs -f) until the container is killed, then follows the restarted one', async () => {
    const before = await pod();
    const follow = await background(['logs', '-f', 'toolbox'], /multi-client v1 starting in toolbox/);
    const containers = await f.c.host(host).docker.listContainers({});
    const main = containers.find((x) => x.podName === 'toolbox' && !x.isSandbox && x.state === 'running')!;
    expect(main).toBeTruthy();
    dockerCli(f.c, host, ['kill', main.id]);
    // upstream: a follow ends when its container stops
    expect(await exited(follow.proc, 30_000)).toBe(0);
    await f.c.waitFor('toolbox restarted', async () => {
      const p = await pod();
      return ready(p) && (p.status!.containerStatuses![0]!.restartCount ?? 0) > (before.status!.containerStatuses![0]!.restartCount ?? 0);
    }, 60_000);
    const again = await background(['logs', '-f', 'toolbox'], /multi-client v1 starting in toolbox/);
    again.proc.kill('SIGTERM');
    const prev = ok(f.c.kubectl('logs', 'toolbox', '--previous'));
    expect(prev).toContain('multi-client v1 starting in toolbox');
  });

  it('copies a file into the pod and back (kubectl cp)', () => {
    const data = `kle2e ${randomBytes(16).toString('hex')}\n`;
    const src = join(f.dir, 'cp-in.txt');
    const back = join(f.dir, 'cp-out.txt');
    writeFileSync(src, data);
    ok(f.c.kubectl('cp', src, 'toolbox:/tmp/in.txt'));
    expect(ok(f.c.kubectl('exec', 'toolbox', '--', 'cat', '/tmp/in.txt'))).toBe(data);
    ok(f.c.kubectl('cp', 'toolbox:/tmp/in.txt', back));
    expect(readFileSync(back, 'utf8')).toBe(data);
  });
});
