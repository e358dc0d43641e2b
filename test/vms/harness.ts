// harness: the host side of the VM test (issue 11) — a network namespace per run holding the VMs' private network (a
// bridge and one tap per VM), QEMU started inside it, the local apt source and registry on the bridge, ssh/kubectl/
// curl run inside it, and a teardown (also of interrupted runs, by the klvm prefix) that removes all of it.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { alive, cmdline, killAll, must, netnsInode, pidsInNetns, run, sleep, withDescendants } from '../e2e/sys.ts';
import { APT_PORT, PREFIX, PRIVATE_HOST, REGISTRY_PORT, SUBNET, fstab, hostsFile, networkdUnit, planVms, qemuArgs, type VmSpec } from './plan.ts';
import { freePort } from '../helpers/server.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
const BRIDGE = `${PREFIX}br0`;

/** REQUIRED maps each host command the VM test runs to its Debian package. */
export const REQUIRED: Record<string, string> = {
  'qemu-system-x86_64': 'qemu-system-x86',
  mmdebstrap: 'mmdebstrap',
  mke2fs: 'e2fsprogs',
  debugfs: 'e2fsprogs',
  'dpkg-scanpackages': 'dpkg-dev',
  ar: 'binutils',
  xz: 'xz-utils',
  zstd: 'zstd',
  'docker-registry': 'docker-registry',
  ssh: 'openssh-client',
  kubectl: 'kubectl',
  curl: 'curl',
  busybox: 'busybox-static',
  docker: 'docker.io',
};

/** checkPrerequisites says what to install (or that root is needed) instead of skipping. */
export function checkPrerequisites(): void {
  if (process.getuid?.() !== 0) throw new Error('the VM test needs root (netns, taps, QEMU, mmdebstrap): run it as root');
  const missing = Object.entries(REQUIRED).filter(([t]) => run('sh', ['-c', `command -v ${t}`]).code !== 0);
  if (missing.length) throw new Error(`the VM test needs ${missing.map(([t]) => t).join(', ')}: apt-get install -y ${[...new Set(missing.map(([, p]) => p))].join(' ')}`);
}

/** Image is scripts/vm-image.sh's output directory. */
export interface Image {
  dir: string;
  seconds: number;
}

/** buildImage runs scripts/vm-image.sh (cached by its inputs) and times it. */
export function buildImage(force = false): Image {
  const t0 = Date.now();
  const r = spawnSync(join(ROOT, 'scripts/vm-image.sh'), force ? ['--force'] : [], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 900_000 });
  if (r.status !== 0) throw new Error(`scripts/vm-image.sh failed (${r.status ?? r.signal})`);
  return { dir: r.stdout.trim().split('\n').pop()!, seconds: (Date.now() - t0) / 1000 };
}

/** Vm is one running (or powered-off) VM of a run. */
export interface Vm extends VmSpec {
  disk: string;
  pid?: number;
}

/** Run is one VM run: its netns, state dir, VMs and helper processes. */
export interface Run {
  id: string;
  netns: string;
  dir: string;
  /** the synced folder on the host (the checkout as /vagrant holds it) */
  tree: string;
  /** its ext4 image, attached read-only to every VM as /vagrant */
  vagrantImage: string;
  /** the host end of /vagrant/.kubeling (9p, writable) */
  shared: string;
  /** how long making the synced folder took, per phase */
  folderSeconds: Record<string, number>;
  image: string;
  vms: Vm[];
  pids: number[];
}

/** sweepLeftovers removes every klvm run on this host (processes in its netns, the netns, its state dir). */
export async function sweepLeftovers(): Promise<string[]> {
  const ids = runIds();
  for (const id of ids) await teardown(id);
  return ids;
}

function runIds(): string[] {
  const names = existsSync('/var/run/netns') ? readdirSync('/var/run/netns').filter((n) => n.startsWith(`${PREFIX}-`)) : [];
  const dirs = readdirSync('/tmp').filter((d) => d.startsWith(`${PREFIX}-`));
  return [...new Set([...names, ...dirs].map((n) => n.slice(PREFIX.length + 1)))];
}

/** runPids lists what run `id` started: the processes in its netns and those its pid files name. */
function runPids(id: string): number[] {
  const dir = `/tmp/${PREFIX}-${id}`;
  const pids: number[] = [];
  const ino = netnsInode(`${PREFIX}-${id}`);
  if (ino !== undefined) pids.push(...pidsInNetns(ino));
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.pid'))) {
      const pid = Number(readFileSync(join(dir, f), 'utf8').trim());
      if (pid > 1 && /qemu|docker-registry|busybox/.test(cmdline(pid))) pids.push(pid);
    }
  }
  return withDescendants(pids);
}

/** teardown removes run `id`: kills what it started (and waits), deletes the netns and the state dir. */
export async function teardown(id: string): Promise<void> {
  await killAll(runPids(id));
  teardownNow(id);
}

/** teardownNow is teardown without waiting (for signal handlers): SIGKILL, netns and dir removed at once. */
export function teardownNow(id: string): void {
  for (const pid of runPids(id)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  if (netnsInode(`${PREFIX}-${id}`) !== undefined) run('ip', ['netns', 'del', `${PREFIX}-${id}`]);
  rmSync(`/tmp/${PREFIX}-${id}`, { recursive: true, force: true });
}

/** sweepNow is sweepLeftovers for signal handlers (synchronous). */
export function sweepNow(): void {
  for (const id of runIds()) teardownNow(id);
}

/** startRun makes the netns with the private network's bridge and a tap per VM, the state dir, /vagrant and the VMs' disks. */
export function startRun(image: string, workers: number): Run {
  const id = randomBytes(3).toString('hex');
  const r: Run = { id, netns: `${PREFIX}-${id}`, dir: `/tmp/${PREFIX}-${id}`, tree: '', vagrantImage: '', shared: '', folderSeconds: {}, image, vms: [], pids: [] };
  mkdirSync(r.dir, { recursive: true });
  must('ip', ['netns', 'add', r.netns]);
  const ns = (...args: string[]) => must('ip', ['-n', r.netns, ...args]);
  ns('link', 'set', 'lo', 'up');
  ns('link', 'add', BRIDGE, 'type', 'bridge');
  ns('addr', 'add', `${PRIVATE_HOST}/24`, 'dev', BRIDGE);
  ns('link', 'set', BRIDGE, 'up');
  for (const spec of planVms(workers)) {
    ns('tuntap', 'add', 'dev', spec.tap, 'mode', 'tap');
    ns('link', 'set', spec.tap, 'master', BRIDGE);
    ns('link', 'set', spec.tap, 'up');
    r.vms.push({ ...spec, disk: join(r.dir, `${spec.name}.img`) });
  }
  const folder = syncedFolder(r.dir);
  Object.assign(r, { tree: folder.tree, vagrantImage: folder.image, shared: folder.shared, folderSeconds: folder.seconds });
  for (const vm of r.vms) prepareDisk(r, vm);
  return r;
}

/**
 * syncedFolder is the run's /vagrant, as a user's folder holds it after `scripts/up.sh`: a snapshot of this checkout
 * (tracked and untracked-not-ignored files, as a clone has), production node_modules (`npm ci --omit=dev`), .tools/node
 * and a current dist/ (compiled JS: Node under software emulation spends minutes stripping types from the .ts sources).
 * It becomes an ext4 image (`mke2fs -d`) every VM mounts read-only at /vagrant — what Vagrant's rsync synced folder
 * copies into a VM — and the folder stays on the host (the test applies deploy/examples from it). `.kubeling` is the
 * mount point of the writable 9p share (the master's token and kubeconfig).
 */
function syncedFolder(dir: string): { tree: string; image: string; shared: string; seconds: Record<string, number> } {
  const seconds: Record<string, number> = {};
  let t = Date.now();
  const lap = (name: string) => {
    seconds[name] = (Date.now() - t) / 1000;
    t = Date.now();
  };
  const tree = join(dir, 'vagrant');
  mkdirSync(tree);
  const files = must('git', ['-C', ROOT, 'ls-files', '-co', '--exclude-standard', '-z']).split('\0').filter((f) => f && existsSync(join(ROOT, f)));
  must('tar', ['-C', ROOT, '--null', '-T', '-', '-cf', join(dir, 'src.tar')], { input: files.join('\0'), timeoutMs: 120_000 });
  must('tar', ['-C', tree, '-xf', join(dir, 'src.tar')], { timeoutMs: 120_000 });
  rmSync(join(dir, 'src.tar'));
  mkdirSync(join(tree, '.tools'));
  mkdirSync(join(tree, '.kubeling'));
  // a copy (prune rewrites node_modules/.package-lock.json: not through a hard link), built with, then pruned offline
  must('cp', ['-a', join(ROOT, 'node_modules'), join(tree, 'node_modules')], { timeoutMs: 300_000 });
  must('cp', ['-al', join(ROOT, '.tools/node'), join(tree, '.tools/node')], { timeoutMs: 120_000 });
  lap('copy');
  const env = { ...process.env, PATH: `${join(tree, '.tools/node/bin')}:${process.env.PATH}` };
  const build = spawnSync(join(tree, 'scripts/build.sh'), { env, encoding: 'utf8', timeout: 300_000 });
  if (!existsSync(join(tree, 'dist/.stamp'))) throw new Error(`scripts/build.sh in the synced folder failed (${build.status ?? build.signal}): ${build.stderr}${build.stdout}`);
  rmSync(join(tree, 'dist/.lock'), { force: true });
  lap('build');
  must('npm', ['prune', '--prefix', tree, '--omit=dev', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], { timeoutMs: 300_000 });
  lap('prune');
  const image = join(dir, 'vagrant.img');
  const bytes = Number(must('du', ['-sb', tree]).split('\t')[0]);
  const inodes = Number(must('sh', ['-c', `find ${tree} | wc -l`]).trim());
  must('truncate', ['-s', String(Math.ceil((bytes * 1.25 + 128 * 2 ** 20) / 2 ** 20) * 2 ** 20), image]);
  must('mke2fs', ['-q', '-t', 'ext4', '-O', '^has_journal', '-N', String(inodes * 2 + 4096), '-L', 'vagrant', '-d', tree, image], { timeoutMs: 300_000 });
  must('debugfs', ['-w', '-R', 'rmdir lost+found', image]); // a synced folder has none (install.sh would copy it)
  lap('mke2fs');
  const shared = join(dir, 'kubeling');
  mkdirSync(shared);
  return { tree, image, shared, seconds };
}

/** prepareDisk copies the image's disk for `vm` and writes its hostname, hosts and private network into it. */
function prepareDisk(r: Run, vm: Vm): void {
  must('cp', ['--sparse=always', join(r.image, 'rootfs.img'), vm.disk], { timeoutMs: 300_000 });
  const files: Record<string, string> = {
    '/etc/hostname': `${vm.name}\n`,
    '/etc/hosts': hostsFile(r.vms, vm),
    '/etc/systemd/network/50-private.network': networkdUnit(vm),
    '/etc/fstab': fstab(),
  };
  const script: string[] = [];
  for (const [path, text] of Object.entries(files)) {
    const local = join(r.dir, `${vm.name}-${path.split('/').pop()}`);
    writeFileSync(local, text);
    script.push(`rm ${path}`, `write ${local} ${path}`);
  }
  must('debugfs', ['-w', '-f', '-', vm.disk], { input: script.join('\n') + '\n' });
}

/** inNs spawns a command inside the run's netns and resolves with its exit code and output (never rejects on exit codes). */
export function inNs(r: Run, cmd: string[], timeoutMs = 60_000, env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; out: string }> {
  return new Promise((res) => {
    const p = spawn('ip', ['netns', 'exec', r.netns, ...cmd], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(t);
      res({ code: code ?? -1, out });
    });
  });
}

/** ssh runs a shell command as root in `vm` (the test's `vagrant ssh -c`). */
export function ssh(r: Run, vm: VmSpec, command: string, timeoutMs = 60_000): Promise<{ code: number; out: string }> {
  const opts = ['-i', join(r.image, 'id_ed25519'), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=5', '-o', 'BatchMode=yes'];
  return inNs(r, ['ssh', ...opts, `root@${vm.ip}`, command], timeoutMs);
}

/** kubectl runs the host's kubectl inside the netns with the kubeconfig the master wrote into /vagrant/.kubeling. */
export function kubectl(r: Run, args: string[], timeoutMs = 60_000): Promise<{ code: number; out: string }> {
  return inNs(r, ['kubectl', '--kubeconfig', join(r.shared, 'kubeconfig.yaml'), '--request-timeout=20s', ...args], timeoutMs);
}

/** httpGet fetches a URL with curl inside the netns ('' when it does not answer). */
export async function httpGet(r: Run, url: string, timeoutSec = 5): Promise<string> {
  const res = await inNs(r, ['curl', '-sS', '-m', String(timeoutSec), url], (timeoutSec + 5) * 1000);
  return res.code === 0 ? res.out : '';
}

/**
 * provision runs the Vagrantfile's command for `vm` over ssh with `env` added (the env a user passes through PASS_ENV,
 * and the test's), each output line stamped with the guest's clock; returns install.sh's steps with their seconds.
 */
export async function provision(r: Run, vm: VmSpec, command: string, env: Record<string, string>): Promise<{ step: string; seconds: number }[]> {
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ');
  const log = '/var/log/kubeling-provision.log';
  const script = `echo "$(date +%s.%N) start" >${log}; env ${vars} ${command} 2>&1 | while IFS= read -r l; do echo "$(date +%s.%N) $l"; done >>${log}; ` +
    `rc=\${PIPESTATUS[0]}; echo "$(date +%s.%N) end" >>${log}; cat ${log}; exit $rc`;
  const res = await ssh(r, vm, script, 1_500_000);
  if (res.code !== 0) throw new Error(`provisioning ${vm.name} failed (${res.code}):\n${res.out.split('\n').slice(-40).join('\n')}`);
  return provisionSteps(res.out);
}

/** provisionSteps turns the stamped log into steps (`==> …` lines of install.sh, `provision:` lines) and their seconds. */
export function provisionSteps(log: string): { step: string; seconds: number }[] {
  const marks = log.split('\n').map((l) => /^(\d+\.\d+) (start|end|==> .*|provision: .*)$/.exec(l)).filter((m) => m !== null).map((m) => ({ at: Number(m[1]), step: m[2]!.replace(/^==> /, '') }));
  return marks.slice(0, -1).map((m, i) => ({ step: m.step, seconds: Math.round((marks[i + 1]!.at - m.at) * 10) / 10 }));
}

/** boot starts `vm`'s QEMU inside the netns (detached: the teardown finds it by netns and pid file). */
export async function boot(r: Run, vm: Vm, opts: { memoryMiB: number; accel: 'tcg' | 'kvm'; cpus?: number }): Promise<void> {
  const pidFile = join(r.dir, `${vm.name}.pid`);
  rmSync(pidFile, { force: true });
  const monitor = join(r.dir, `${vm.name}.mon`);
  rmSync(monitor, { force: true });
  const args = qemuArgs(vm, {
    kernel: join(r.image, 'vmlinuz'),
    initrd: join(r.image, 'initrd.img'),
    disk: vm.disk,
    vagrant: r.vagrantImage,
    shared: r.shared,
    serialLog: join(r.dir, `${vm.name}.serial.log`),
    monitor,
    pidFile,
  }, { runId: r.id, ...opts });
  const log = openSync(join(r.dir, `${vm.name}.qemu.log`), 'a');
  const p = spawn('ip', ['netns', 'exec', r.netns, 'qemu-system-x86_64', ...args], { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  p.unref();
  vm.pid = p.pid;
  const until = Date.now() + 30_000;
  while (!existsSync(pidFile) && Date.now() < until) {
    if (p.exitCode !== null) throw new Error(`qemu for ${vm.name} exited (${p.exitCode})`);
    await sleep(100);
  }
}

/** powerOff pulls the plug: QEMU's monitor `quit` (no shutdown inside the guest), then waits until QEMU is gone. */
export async function powerOff(r: Run, vm: Vm): Promise<void> {
  await new Promise<void>((res) => {
    const s = connect(join(r.dir, `${vm.name}.mon`), () => s.write('quit\n'));
    // read (and drop) the monitor's greeting: a socket nobody reads never sees QEMU's end of it, so never closes
    s.resume();
    const t = setTimeout(() => s.destroy(), 10_000);
    s.on('error', () => res());
    s.on('close', () => {
      clearTimeout(t);
      res();
    });
  });
  const until = Date.now() + 20_000;
  while (vm.pid && alive(vm.pid) && Date.now() < until) await sleep(100);
  if (vm.pid && alive(vm.pid)) await killAll([vm.pid]);
  vm.pid = undefined;
}

/** waitSsh waits until `vm` answers ssh. */
export async function waitSsh(r: Run, vm: VmSpec, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if ((await ssh(r, vm, 'true', 15_000)).code === 0) return;
    if (Date.now() > until) throw new Error(`${vm.name} does not answer ssh after ${timeoutMs / 1000}s: see ${join(r.dir, `${vm.name}.serial.log`)}`);
    await sleep(2000);
  }
}

/** serveApt serves the image's apt/ directory on the bridge (the VMs' sources.list), as a Debian mirror would. */
export function serveApt(r: Run): void {
  const p = spawn('ip', ['netns', 'exec', r.netns, 'busybox', 'httpd', '-f', '-p', `${PRIVATE_HOST}:${APT_PORT}`, '-h', join(r.image, 'apt')], { detached: true, stdio: 'ignore' });
  p.unref();
  writeFileSync(join(r.dir, 'apt.pid'), String(p.pid));
  r.pids.push(p.pid!);
}

function registryConfig(dir: string, addr: string): string {
  return `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${dir}\nhttp:\n  addr: ${addr}\n`;
}

async function waitTcp(r: Run | undefined, host: string, port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const probe = ['curl', '-sS', '-o', '/dev/null', '-m', '2', `http://${host}:${port}/v2/`];
    const ok = r ? (await inNs(r, probe, 5000)).code === 0 : run(probe[0]!, probe.slice(1)).code === 0;
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing answers on ${host}:${port}`);
    await sleep(200);
  }
}

/**
 * startRegistry fills a local registry (Debian's docker-registry) with `images` pushed by the host's dockerd to a
 * loopback instance, then serves the same storage on the private network, where the VMs' dockerd uses it as its
 * Docker Hub mirror. `images` maps a local image to its Docker Hub name (e.g. stephengrider/multi-client:latest).
 */
export async function startRegistry(r: Run, images: Record<string, string>): Promise<void> {
  const storage = join(r.dir, 'registry');
  mkdirSync(storage);
  const port = await freePort();
  writeFileSync(join(r.dir, 'registry-push.yml'), registryConfig(storage, `127.0.0.1:${port}`));
  const push = spawn('docker-registry', ['serve', join(r.dir, 'registry-push.yml')], { stdio: 'ignore' });
  writeFileSync(join(r.dir, 'registry-push.pid'), String(push.pid));
  try {
    await waitTcp(undefined, '127.0.0.1', port, 15_000);
    for (const [local, hub] of Object.entries(images)) {
      const ref = `127.0.0.1:${port}/${hub}`;
      must('docker', ['tag', local, ref]);
      try {
        must('docker', ['push', '-q', ref], { timeoutMs: 120_000 });
      } finally {
        run('docker', ['rmi', ref]);
      }
    }
  } finally {
    push.kill('SIGKILL');
    await new Promise((res) => (push.exitCode !== null ? res(undefined) : push.once('exit', res)));
    rmSync(join(r.dir, 'registry-push.pid'), { force: true });
  }
  writeFileSync(join(r.dir, 'registry.yml'), registryConfig(storage, `${PRIVATE_HOST}:${REGISTRY_PORT}`));
  const p = spawn('ip', ['netns', 'exec', r.netns, 'docker-registry', 'serve', join(r.dir, 'registry.yml')], { detached: true, stdio: 'ignore' });
  p.unref();
  writeFileSync(join(r.dir, 'registry.pid'), String(p.pid));
  r.pids.push(p.pid!);
  await waitTcp(r, PRIVATE_HOST, REGISTRY_PORT, 15_000);
}

/** REGISTRY_URL is the mirror URL the VMs get (KUBELING_REGISTRY_MIRROR / KUBELING_INSECURE_REGISTRY). */
export const REGISTRY_HOSTPORT = `${PRIVATE_HOST}:${REGISTRY_PORT}`;
export { SUBNET };
