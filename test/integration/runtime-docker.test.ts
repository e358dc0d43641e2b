// runtime-docker.test: the Docker ContainerRuntime against the real dockerd, with locally built test images.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerRuntime, RuntimeError, tar } from '../../pkg/kubelet/runtime/index.ts';
import type { ContainerInfo, ContainerOptions, PullProgress, RuntimeEvent } from '../../pkg/kubelet/runtime/index.ts';
import { ensureTestImages, hostBusybox, HTTPD_BODY, TEST_IMAGES } from '../helpers/images.ts';
import { claimSlot } from '../helpers/slots.ts';
import { freePort } from '../helpers/server.ts';

const rt = new DockerRuntime();
const suffix = randomBytes(4).toString('hex');
/** node is this file's own node name: every container it creates carries it, and cleanup removes by it. */
const node = `rt-test-${suffix}`;
const tmpDirs: string[] = [];
const images: string[] = [];

beforeAll(async () => {
  await ensureTestImages(rt);
});

afterAll(async () => {
  for (const c of await rt.listContainers({ node })) await rt.removeContainer(c.id);
  for (const ref of images) await rt.removeImage(ref);
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'kubeling-rt-'));
  tmpDirs.push(d);
  return d;
}

async function newPod(name: string, extra: Partial<Parameters<DockerRuntime['createSandbox']>[0]> = {}) {
  const podUid = randomBytes(8).toString('hex');
  const sandbox = await rt.createSandbox({
    podUid, namespace: 'default', name, nodeName: node, hostname: name, image: TEST_IMAGES.pause, ...extra,
  });
  let attempt = 0;
  const container = async (containerName: string, opts: Partial<ContainerOptions>): Promise<string> => {
    const id = await rt.createContainer({
      sandboxId: sandbox.id, podUid, namespace: 'default', podName: name, containerName, nodeName: node,
      attempt: attempt++, image: TEST_IMAGES.busybox, ...opts,
    });
    await rt.startContainer(id);
    return id;
  };
  return { podUid, sandbox, container };
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function exited(id: string): Promise<ContainerInfo> {
  return until(`${id} to exit`, async () => {
    const c = await rt.inspectContainer(id);
    return c?.state === 'exited' ? c : undefined;
  });
}

async function readAll(s: Readable): Promise<string> {
  let t = '';
  for await (const c of s) t += c;
  return t;
}

/** readUntil reads a stream until `pattern` shows up in what it has read. */
function readUntil(s: Readable, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let t = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} in ${JSON.stringify(t)}`)), timeoutMs);
    const onData = (c: Buffer): void => {
      t += c.toString();
      if (pattern.test(t)) {
        clearTimeout(timer);
        s.off('data', onData);
        resolve(t);
      }
    };
    s.on('data', onData);
  });
}

describe('DockerRuntime', () => {
  it('reports version and node capacity', async () => {
    const v = await rt.version();
    expect(v.name).toBe('docker');
    expect(v.version).toMatch(/^\d+\.\d+/);
    expect(v.apiVersion).toMatch(/^1\.\d+$/);
    const info = await rt.info();
    expect(info.cpus).toBeGreaterThan(0);
    expect(info.memoryBytes).toBeGreaterThan(100 * 2 ** 20);
    expect(info.kernelVersion).not.toBe('');
    expect(info.operatingSystem).toBe('linux');
  });

  it('runs a pod whose containers share localhost, hostname and hostPort', async () => {
    const hostPort = await freePort();
    const pod = await newPod('shared', { portBindings: [{ containerPort: 80, hostPort, hostIP: '127.0.0.1' }] });
    expect(pod.sandbox.ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    await pod.container('web', { image: TEST_IMAGES.httpd });
    const client = await pod.container('client', { command: ['sleep', '300'] });

    const got = await until('httpd to answer', async () => {
      const r = await rt.execSimple(client, ['wget', '-qO-', 'http://127.0.0.1:80/'], 5000);
      return r.exitCode === 0 ? r.stdout : undefined;
    });
    expect(got).toBe(HTTPD_BODY);
    expect((await rt.execSimple(client, ['hostname'], 5000)).stdout.trim()).toBe('shared');
    const viaHost = await (await fetch(`http://127.0.0.1:${hostPort}/`)).text();
    expect(viaHost).toBe(HTTPD_BODY);

    const listed = await rt.listContainers({ podUid: pod.podUid });
    expect(listed.map((c) => [c.containerName, c.isSandbox, c.state, c.attempt]).sort()).toEqual([
      ['POD', true, 'running', 0],
      ['client', false, 'running', 1],
      ['web', false, 'running', 0],
    ]);
    const sandbox = listed.find((c) => c.isSandbox)!;
    expect(sandbox.labels).toMatchObject({ 'kubeling.managed': 'true', 'kubeling.node': node, 'io.kubernetes.pod.name': 'shared' });
    expect(sandbox.ip).toBe(pod.sandbox.ip);
    expect(sandbox.imageID).toMatch(/^sha256:/);
    expect(listed.every((c) => c.startedAt && !c.finishedAt)).toBe(true);
  });

  it('applies env, command/args, working dir, read-only mounts and limits', async () => {
    const entry = `kubeling/entry:test-${suffix}`;
    images.push(entry);
    const bb = hostBusybox();
    await rt.importImage(
      tar([
        { type: 'dir', path: 'bin' },
        { type: 'file', path: 'bin/busybox', data: bb, mode: 0o755 },
        { type: 'symlink', path: 'bin/echo', target: 'busybox' },
      ]),
      entry,
      ['ENTRYPOINT ["echo", "entry"]', 'CMD ["image-cmd"]'],
    );
    const dir = tempDir();
    writeFileSync(join(dir, 'f'), 'from-host\n');
    const pod = await newPod('settings');
    const script = 'echo "FOO=$FOO"; pwd; cat /data/f; touch /data/x 2>/dev/null || echo read-only; ' +
      'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes';
    const main = await pod.container('main', {
      command: ['sh', '-c'], args: [script], env: [{ name: 'FOO', value: 'bar baz' }], workingDir: '/tmp',
      mounts: [{ hostPath: dir, containerPath: '/data', readOnly: true }],
      memoryLimitBytes: 64 * 2 ** 20, cpuLimitMillicores: 500, cpuRequestMillicores: 250,
    });
    const imageDefault = await pod.container('default', { image: entry });
    const argsOnly = await pod.container('args', { image: entry, args: ['a1', 'a2'] });
    const commandOnly = await pod.container('command', { image: entry, command: ['echo', 'c1'] });

    expect((await exited(main)).exitCode).toBe(0);
    expect(await readAll(await rt.logs(main))).toBe(`FOO=bar baz\n/tmp\nfrom-host\nread-only\n${64 * 2 ** 20}\n`);
    expect(existsSync(join(dir, 'x'))).toBe(false);
    const hc = execFileSync('docker', ['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.CpuQuota}} {{.HostConfig.CpuPeriod}} {{.HostConfig.CpuShares}}', main]);
    expect(hc.toString().trim()).toBe(`${64 * 2 ** 20} 50000 100000 256`);

    for (const [id, want] of [[imageDefault, 'entry image-cmd\n'], [argsOnly, 'entry a1 a2\n'], [commandOnly, 'c1\n']] as const) {
      await exited(id);
      expect(await readAll(await rt.logs(id))).toBe(want);
    }
  });

  it('execs with exit codes, separate streams, stdin and timeouts', async () => {
    const pod = await newPod('exec');
    const id = await pod.container('box', { command: ['sleep', '300'] });
    expect(await rt.execSimple(id, ['sh', '-c', 'echo out; echo err >&2; exit 3'], 5000)).toEqual({
      exitCode: 3, stdout: 'out\n', stderr: 'err\n',
    });

    const s = await rt.exec(id, ['sh', '-c', 'cat; echo done >&2'], { stdin: true, env: [{ name: 'X', value: '1' }] });
    s.stdin!.end('through stdin\n');
    const [out, err, code] = await Promise.all([readAll(s.stdout), readAll(s.stderr!), s.wait()]);
    expect([out, err, code]).toEqual(['through stdin\n', 'done\n', 0]);

    const t0 = Date.now();
    const slow = await rt.execSimple(id, ['sleep', '5'], 300).catch((e: unknown) => e);
    expect(slow).toBeInstanceOf(RuntimeError);
    expect((slow as RuntimeError).code).toBe('Timeout');
    expect(Date.now() - t0).toBeLessThan(3000);

    const tty = await rt.exec(id, ['sh', '-c', 'test -t 1 && echo tty'], { tty: true });
    expect([await readAll(tty.stdout), await tty.wait()]).toEqual(['tty\r\n', 0]);

    const resized = await rt.exec(id, ['sh', '-c', 'sleep 0.5; echo ok'], { tty: true });
    await resized.resize!(120, 40);
    expect([await readAll(resized.stdout), await resized.wait()]).toEqual(['ok\r\n', 0]);
  });

  it('serves the log of a TTY container as written, even when it reads as JSON', async () => {
    const pod = await newPod('ttylog');
    const id = await pod.container('num', { command: ['echo', '42'], tty: true });
    await exited(id);
    expect(await readAll(await rt.logs(id))).toBe('42\r\n');
  });

  it('joins a user-defined bridge network (IP from its IPAM) and gives the pod the resolv.conf it asks for', async () => {
    // the network lives in a test-cluster slot's pod CIDR, so no other test's network overlaps it
    const slot = claimSlot();
    const subnet = slot.clusterCidr.replace(/\.0\.0\/16$/, '.250.0/24');
    const network = `kl-rt-test-${suffix}`;
    await rt.docker.createNetwork({ Name: network, Driver: 'bridge', IPAM: { Config: [{ Subnet: subnet }] }, Labels: { [`kubeling.node`]: node } });
    try {
      const dns = { nameservers: ['10.43.0.10'], searches: ['ns1.svc.cluster.local', 'svc.cluster.local', 'cluster.local'], options: ['ndots:5'] };
      const want = 'nameserver 10.43.0.10\nsearch ns1.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n';
      const pod = await newPod('netdns', { networkName: network, dns });
      expect(pod.sandbox.ip.startsWith(subnet.replace(/0\/24$/, ''))).toBe(true);
      const box = await pod.container('box', { command: ['sleep', '300'] });
      // the joined container shares the sandbox's file (Docker would have written its embedded 127.0.0.11 there)
      expect((await rt.execSimple(box, ['cat', '/etc/resolv.conf'], 5000)).stdout).toBe(want);
      expect((await rt.execSimple(box, ['ip', '-4', '-o', 'addr', 'show', 'eth0'], 5000)).stdout).toContain(`inet ${pod.sandbox.ip}/24`);
      const hc = (await rt.docker.getContainer(pod.sandbox.id).inspect()).HostConfig;
      expect([hc.Dns, hc.DnsSearch, hc.DnsOptions]).toEqual([dns.nameservers, dns.searches, dns.options]);
      expect((await rt.listContainers({ podUid: pod.podUid })).find((c) => c.isSandbox)?.ip).toBe(pod.sandbox.ip);

      // on Docker's default bridge the same options land in the file too
      const plain = await newPod('bridgedns', { dns });
      const box2 = await plain.container('box', { command: ['cat', '/etc/resolv.conf'] });
      await exited(box2);
      expect(await readAll(await rt.logs(box2))).toBe(want);
      for (const c of [...(await rt.listContainers({ podUid: pod.podUid })), ...(await rt.listContainers({ podUid: plain.podUid }))]) await rt.removeContainer(c.id);
    } finally {
      await rt.docker.getNetwork(network).remove().catch(() => undefined);
      slot.release();
    }
  });

  it('serves logs with tail, timestamps and follow', async () => {
    const pod = await newPod('logs');
    const id = await pod.container('talker', {
      // Docker copies stdout and stderr in separate goroutines: the pause keeps their order in the log certain.
      command: ['sh', '-c', 'for i in 1 2 3; do echo line$i; done; sleep 0.3; echo oops >&2; ' +
        'while [ ! -f /tmp/go ]; do sleep 0.1; done; echo late; sleep 300'],
    });
    await until('output', async () => ((await readAll(await rt.logs(id))).includes('oops') ? true : undefined));
    expect(await readAll(await rt.logs(id))).toBe('line1\nline2\nline3\noops\n');
    expect(await readAll(await rt.logs(id, { tail: 2 }))).toBe('line3\noops\n');
    const stamped = (await readAll(await rt.logs(id, { timestamps: true }))).trim().split('\n');
    expect(stamped).toHaveLength(4);
    for (const l of stamped) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z (line\d|oops)$/);
    expect(await readAll(await rt.logs(id, { since: Math.floor(Date.now() / 1000) + 60 }))).toBe('');

    const follow = await rt.logs(id, { follow: true, tail: 1 });
    expect(await readUntil(follow, /oops\n/)).toBe('oops\n');
    const late = readUntil(follow, /late\n/);
    await rt.execSimple(id, ['touch', '/tmp/go'], 5000);
    expect(await late).toBe('late\n');
    follow.destroy();
  });

  it('attaches to a container stdin and sees it exit', async () => {
    const pod = await newPod('attach');
    const id = await rt.createContainer({
      sandboxId: pod.sandbox.id, podUid: pod.podUid, namespace: 'default', podName: 'attach', containerName: 'cat',
      nodeName: node, attempt: 0, image: TEST_IMAGES.busybox, command: ['cat'], stdin: true, stdinOnce: true,
    });
    await rt.startContainer(id);
    const s = await rt.attach(id, { stdin: true });
    const echoed = readUntil(s.stdout, /ping\n/);
    s.stdin!.write('ping\n');
    expect(await echoed).toBe('ping\n');
    s.stdin!.end();
    expect(await s.wait()).toBe(0);
    expect((await exited(id)).exitCode).toBe(0);
  });

  it('stops with a grace period: TERM handlers exit promptly, others are killed after it', async () => {
    const pod = await newPod('stop');
    const polite = await pod.container('polite', { command: ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 300 & wait; done'] });
    const stubborn = await pod.container('stubborn', { command: ['sleep', '300'] });

    let t0 = Date.now();
    await rt.stopContainer(polite, 30);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect((await exited(polite)).exitCode).toBe(0);

    t0 = Date.now();
    await rt.stopContainer(stubborn, 2);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(1900);
    expect(took).toBeLessThan(10_000);
    const dead = await exited(stubborn);
    expect(dead.exitCode).toBe(137);
    expect(dead.finishedAt).toBeDefined();

    await rt.stopContainer(stubborn, 1); // already stopped: no error
    await rt.stopContainer(pod.sandbox.id, 10);
    expect((await exited(pod.sandbox.id)).exitCode).toBe(0); // the pause binary exits 0 on TERM
    await rt.removeContainer(stubborn);
    await rt.removeContainer(stubborn); // already gone: no error
    expect(await rt.inspectContainer(stubborn)).toBeUndefined();
  });

  it('fails a pull from an unreachable registry fast and clearly', async () => {
    const t0 = Date.now();
    const err = await rt.pullImage('127.0.0.1:1/nope:1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as RuntimeError).code).toBe('Unreachable');
    expect((err as Error).message).toMatch(/127\.0\.0\.1:1\/nope:1.*connection refused/);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(await rt.imageExists('127.0.0.1:1/nope:1')).toBeUndefined();
  });

  it('reports a docker kill through events', async () => {
    const seen: RuntimeEvent[] = [];
    const sub = await rt.events((e) => seen.push(e), { node });
    try {
      const pod = await newPod('events');
      const id = await pod.container('victim', { command: ['sleep', '300'] });
      execFileSync('docker', ['kill', id]);
      const die = await until('die event', async () => seen.find((e) => e.id === id && e.action === 'die'), 10_000);
      expect(die.exitCode).toBe(137);
      expect(die.labels['io.kubernetes.container.name']).toBe('victim');
      expect(seen.some((e) => e.id === id && e.action === 'start')).toBe(true);
      expect(seen.some((e) => e.id === id && e.action === 'kill')).toBe(true);
      expect(seen.every((e) => e.labels['kubeling.node'] === node)).toBe(true);
      expect((await rt.inspectContainer(id))?.exitCode).toBe(137);
    } finally {
      sub.close();
    }
  });

  it('builds a missing kubeling pause image offline', async () => {
    const ref = `kubeling/pause:test-${suffix}`;
    images.push(ref);
    expect(await rt.imageExists(ref)).toBeUndefined();
    const [a, b] = await Promise.all([rt.ensurePauseImage(ref), rt.ensurePauseImage(ref)]);
    expect([a, b]).toEqual([ref, ref]);
    expect(await rt.imageExists(ref)).toMatchObject({ id: expect.stringMatching(/^sha256:/) });
  });

  it('fails clearly while dockerd is unreachable and works again when it is back', async () => {
    // A unix-socket relay to the real dockerd stands in for dockerd going away and coming back.
    const sock = join(tempDir(), 'docker.sock');
    const conns = new Set<net.Socket>();
    const relay = (): Promise<net.Server> =>
      new Promise((resolve) => {
        const srv = net.createServer((c) => {
          const up = net.connect('/var/run/docker.sock');
          conns.add(c).add(up);
          c.pipe(up).pipe(c);
          const down = (): void => { c.destroy(); up.destroy(); };
          c.on('error', down).on('close', down);
          up.on('error', down).on('close', down);
        });
        srv.listen(sock, () => resolve(srv));
      });
    const viaRelay = new DockerRuntime({ host: `unix://${sock}` });
    let srv = await relay();
    expect((await viaRelay.version()).name).toBe('docker');
    const closed = new Promise<Error | undefined>((resolve) => {
      void viaRelay.events(() => undefined, { node, onClose: resolve });
    });
    await new Promise((r) => setTimeout(r, 200));

    await new Promise((r) => { srv.close(r); for (const c of conns) c.destroy(); conns.clear(); });
    expect(await closed).toBeInstanceOf(RuntimeError);
    const down = await viaRelay.version().catch((e: unknown) => e);
    expect((down as RuntimeError).code).toBe('Unavailable');
    expect((down as Error).message).toContain(sock);

    srv = await relay();
    try {
      expect((await viaRelay.version()).name).toBe('docker');
      const seen: RuntimeEvent[] = [];
      const sub = await viaRelay.events((e) => seen.push(e), { node });
      const pod = await newPod('reconnect');
      await until('start event after reconnect', async () => seen.find((e) => e.id === pod.sandbox.id && e.action === 'start'));
      sub.close();
    } finally {
      await new Promise((r) => { srv.close(r); for (const c of conns) c.destroy(); });
    }
  });
});

/** REGISTRY is Debian's docker-registry (distribution 2.x); CI installs it (apt-get install -y docker-registry). */
const REGISTRY = process.env.KUBELING_REGISTRY_BIN ?? '/usr/bin/docker-registry';
const registryMissing = `${REGISTRY} is not installed (apt-get install -y docker-registry)`;

describe('DockerRuntime with a local registry', () => {
  let registry: ChildProcess | undefined;
  let port = 0;
  const repo = (): string => `127.0.0.1:${port}/kubeling/busybox`;

  beforeAll(async () => {
    if (!existsSync(REGISTRY)) return console.warn(registryMissing);
    port = await freePort();
    const dir = tempDir();
    writeFileSync(join(dir, 'config.yml'), [
      'version: 0.1',
      'log: { level: warn }',
      `storage: { filesystem: { rootdirectory: ${join(dir, 'data')} }, delete: { enabled: true } }`,
      `http: { addr: "127.0.0.1:${port}" }`,
      '',
    ].join('\n'));
    registry = spawn(REGISTRY, ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
    await until('registry to listen', async () => {
      const ok = await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.ok, () => false);
      return ok ? true : undefined;
    });
    execFileSync('docker', ['tag', TEST_IMAGES.busybox, `${repo()}:pushed`]);
    execFileSync('docker', ['push', `${repo()}:pushed`], { stdio: 'ignore' });
    await rt.removeImage(`${repo()}:pushed`);
  });

  afterAll(async () => {
    if (!port) return;
    await rt.removeImage(`${repo()}:pushed`);
    if (registry?.pid) {
      registry.kill('SIGTERM');
      await new Promise((r) => registry!.once('exit', r));
    }
  });

  it('pulls an image with progress and reports a missing tag', async (ctx) => {
    if (!existsSync(REGISTRY)) throw new Error(registryMissing);
    expect(await rt.imageExists(`${repo()}:pushed`)).toBeUndefined();
    const progress: PullProgress[] = [];
    await rt.pullImage(`${repo()}:pushed`, undefined, (p) => progress.push(p));
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.some((p) => /Downloaded newer image|Image is up to date|Pull complete/.test(p.status))).toBe(true);
    expect(await rt.imageExists(`${repo()}:pushed`)).toMatchObject({ id: expect.stringMatching(/^sha256:/) });

    const missing = await rt.pullImage(`${repo()}:nope`).catch((e: unknown) => e);
    expect((missing as RuntimeError).code).toBe('ImageNotFound');
    expect((missing as Error).message).toContain(`${repo()}:nope`);
  });
});
