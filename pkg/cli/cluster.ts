// cluster: the local cluster a data dir holds, as the CLI commands reach it — its admin kubeconfig, an API client,
// the pid file of a server that `kubeling up` started, and stopping that server.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { Client } from '../client/index.ts';

/** LocalCluster is what a server wrote into its data dir. */
export interface LocalCluster {
  dataDir: string;
  kubeconfigPath: string;
  server: string;
  token: string;
  caPem: string;
}

/** DEFAULT_DATA_DIR is the server's default --data-dir. */
export const DEFAULT_DATA_DIR = '/var/lib/kubeling';

/** readLocalCluster reads DATA_DIR/kubeconfig.yaml; throws a sentence a person can act on when there is none. */
export function readLocalCluster(dataDir: string): LocalCluster {
  const kubeconfigPath = join(dataDir, 'kubeconfig.yaml');
  if (!existsSync(kubeconfigPath)) {
    throw new Error(`no cluster in ${dataDir} (no kubeconfig.yaml): start one with \`kubeling up\`, or pass --data-dir (KUBELING_DATA_DIR)`);
  }
  const kc = parse(readFileSync(kubeconfigPath, 'utf8')) as {
    clusters?: { cluster?: { server?: string; 'certificate-authority-data'?: string } }[];
    users?: { user?: { token?: string } }[];
  };
  const cluster = kc.clusters?.[0]?.cluster;
  if (!cluster?.server) throw new Error(`${kubeconfigPath} names no server`);
  return {
    dataDir,
    kubeconfigPath,
    server: cluster.server,
    token: kc.users?.[0]?.user?.token ?? '',
    caPem: Buffer.from(cluster['certificate-authority-data'] ?? '', 'base64').toString('utf8'),
  };
}

/** clientFor is an admin API client for the local cluster. */
export function clientFor(c: LocalCluster, userAgent = 'kubeling-cli'): Client {
  return new Client({ server: c.server, token: c.token, caPem: c.caPem, userAgent });
}

/** pidFile is where `kubeling up` records the server it started. */
export function pidFile(dataDir: string): string {
  return join(dataDir, 'server.pid');
}

/** logFile is where the server that `kubeling up` started writes its log. */
export function logFile(dataDir: string): string {
  return join(dataDir, 'server.log');
}

/** alive says whether a process exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** runningServer is the pid of the live `kubeling server` recorded in DATA_DIR/server.pid, if any (a stale file is removed). */
export function runningServer(dataDir: string): number | undefined {
  const file = pidFile(dataDir);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  let cmdline = '';
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    /* gone */
  }
  if (pid > 0 && alive(pid) && cmdline.includes('server')) return pid;
  rmSync(file, { force: true });
  return undefined;
}

/** recordServer writes the pid file. */
export function recordServer(dataDir: string, pid: number): void {
  writeFileSync(pidFile(dataDir), `${pid}\n`);
}

/** stopServer sends SIGTERM, waits up to `graceMs` for the exit, then SIGKILL. Resolves true if a server was running. */
export async function stopServer(dataDir: string, graceMs = 20_000): Promise<boolean> {
  const pid = runningServer(dataDir);
  if (pid === undefined) return false;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive(pid)) process.kill(pid, 'SIGKILL');
  while (alive(pid)) await new Promise((r) => setTimeout(r, 50));
  rmSync(pidFile(dataDir), { force: true });
  return true;
}
