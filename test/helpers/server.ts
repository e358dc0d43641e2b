// server: starts a real `kubeling server` process on a temp dir for integration tests, and runs the real kubectl.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { Agent, fetch as ufetch } from 'undici';
import { claimSlot, type Slot } from './slots.ts';
import { teardownTestCluster } from './teardown.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
export const KUBECTL = '/usr/bin/kubectl';

/** freePort finds a TCP port that is free on `host` now (the kernel picks it; the caller binds it soon after). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

export interface RunningServer {
  url: string;
  port: number;
  dataDir: string;
  kubeconfig: string;
  token: string;
  caPem: string;
  proc: ChildProcess;
  /** graceful stop (SIGTERM) and wait */
  stop(): Promise<void>;
  /** SIGKILL and wait */
  kill(): Promise<void>;
  /** stop and remove the data dir */
  cleanup(): Promise<void>;
  /** slot is this cluster's address space (pod and service CIDRs, loopback node addresses) */
  slot: Slot;
  logs(): string;
}

/** startServer spawns bin/kubeling server --disable-agent (unless agent args are given) and waits for /readyz. */
export async function startServer(opts: { dataDir?: string; port?: number; args?: string[]; env?: Record<string, string>; network?: boolean } = {}): Promise<RunningServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'kubeling-test-'));
  const port = opts.port ?? (await freePort());
  const given = opts.args ?? ['--disable-agent'];
  // every test cluster with agents (the embedded one, or `network: true` for agents started beside it) gets its own
  // pod and service address space (and, with the embedded agent, its own node
  // address for NodePorts), so the clusters of parallel test files never meet on the shared host
  const slot = claimSlot();
  const net: string[] = [];
  const withAgents = opts.network ?? !given.includes('--disable-agent');
  if (withAgents && !given.includes('--cluster-cidr')) net.push('--cluster-cidr', slot.clusterCidr);
  if (withAgents && !given.includes('--service-cidr')) net.push('--service-cidr', slot.serviceCidr);
  if (!given.includes('--disable-agent')) {
    const i = given.indexOf('--node-ip');
    const nodeIp = i >= 0 ? given[i + 1]! : slot.nodeIp(1);
    if (i < 0) net.push('--node-ip', nodeIp);
    if (!given.includes('--nodeport-addresses')) net.push('--nodeport-addresses', `${nodeIp}/32`);
  }
  const args = ['server', '--data-dir', dataDir, '--bind-address', '127.0.0.1', '--https-listen-port', String(port), ...net, ...given];
  const proc = spawn(join(ROOT, 'bin/kubeling'), args, { env: { ...process.env, KUBELING_LOG_LEVEL: 'warn', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const url = `https://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  // a server that never came up leaves nothing behind: the data dir goes too, unless the caller gave it
  const ownDir = () => {
    if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  for (;;) {
    if (proc.exitCode !== null) {
      slot.release();
      ownDir();
      throw new Error(`kubeling server exited (${proc.exitCode}):\n${out}`);
    }
    if (existsSync(join(dataDir, 'kubeconfig.yaml'))) {
      try {
        const r = await ufetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000), dispatcher: insecureDispatcher });
        if (r.ok) break;
      } catch {
        /* not yet */
      }
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL'); // never leave a half-started server behind
      await exited;
      slot.release();
      ownDir();
      throw new Error(`kubeling server did not become ready:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const kubeconfig = join(dataDir, 'kubeconfig.yaml');
  const kc = parseYaml(readFileSync(kubeconfig, 'utf8'));
  const token = kc.users[0].user.token as string;
  const caPem = Buffer.from(kc.clusters[0].cluster['certificate-authority-data'], 'base64').toString('utf8');
  const waitExit = async (sig: NodeJS.Signals) => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(sig);
    await exited;
  };
  return {
    url,
    port,
    dataDir,
    kubeconfig,
    token,
    caPem,
    proc,
    stop: () => waitExit('SIGTERM'),
    kill: () => waitExit('SIGKILL'),
    cleanup: async () => {
      await waitExit('SIGTERM');
      await teardownTestCluster(caPem).catch(() => undefined);
      slot.release();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
    slot,
    logs: () => out,
  };
}

const insecureDispatcher = new Agent({ connect: { rejectUnauthorized: false } });

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** kubectl runs the real kubectl (or a versioned one) against the kubeconfig; never throws on exit codes. */
export function kubectl(kubeconfig: string, args: string[], opts: { input?: string; bin?: string; timeoutMs?: number; env?: Record<string, string> } = {}): KubectlResult {
  const r = spawnSync(opts.bin ?? KUBECTL, ['--kubeconfig', kubeconfig, ...args], {
    input: opts.input,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 60_000,
    env: { ...process.env, HOME: kubectlHome(kubeconfig), ...opts.env },
  });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** kubectlAsync is kubectl for commands that must run alongside the test (watch, logs -f, port-forward). */
export function kubectlSpawn(kubeconfig: string, args: string[], opts: { bin?: string } = {}): ChildProcess {
  return spawn(opts.bin ?? KUBECTL, ['--kubeconfig', kubeconfig, ...args], { env: { ...process.env, HOME: kubectlHome(kubeconfig) }, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** kubectlHome gives each server its own HOME so kubectl's discovery cache never leaks between tests. */
function kubectlHome(kubeconfig: string): string {
  return join(kubeconfig, '..', 'home');
}

/** versionedKubectl finds the bundled kubectl.1.NN next to the dispatcher, or Debian's 1.20 in .tools. */
export function versionedKubectl(minor: number): string | undefined {
  if (minor === 20) {
    const p = join(ROOT, '.tools/kubectl-1.20/usr/bin/kubectl');
    return existsSync(p) ? p : undefined;
  }
  const dir = spawnSync('sh', ['-c', 'dirname "$(readlink -f "$(command -v kubectl)")"'], { encoding: 'utf8' }).stdout.trim();
  const p = join(dir, `kubectl.1.${minor}`);
  if (existsSync(p)) return p;
  if (minor === 32) return KUBECTL;
  return undefined;
}

/** userKubeconfig runs `kubeling kubeconfig --user … --group …` against a server's data dir and writes the result beside the admin's. */
export function userKubeconfig(srv: RunningServer, user: string, groups: string[]): string {
  const args = ['kubeconfig', '--user', user, '--data-dir', srv.dataDir, ...groups.flatMap((g) => ['--group', g])];
  const r = spawnSync(join(ROOT, 'bin/kubeling'), args, { encoding: 'utf8', env: { ...process.env, KUBELING_FROM_SOURCE: '1' }, timeout: 60_000 });
  if (r.status !== 0) throw new Error(`kubeling kubeconfig --user ${user} failed: ${r.stderr}`);
  const path = join(srv.dataDir, `${user}.kubeconfig`);
  writeFileSync(path, r.stdout, { mode: 0o600 });
  return path;
}
