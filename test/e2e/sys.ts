// sys: the host-level primitives of the e2e harness — commands, processes by network namespace and cgroup, mounts.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** CmdResult is what `run` returns: never throws on exit codes. */
export interface CmdResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** run executes a command synchronously (short administrative commands only: ip, iptables, umount). */
export function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): CmdResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input: opts.input, timeout: opts.timeoutMs ?? 30_000 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${cmd} is not installed`);
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** must is `run` that throws with the command's stderr when it fails. */
export function must(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): string {
  const r = run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** REQUIRED_TOOLS maps each command the harness runs to the Debian package that provides it. */
export const REQUIRED_TOOLS: Record<string, string> = {
  ip: 'iproute2',
  iptables: 'iptables',
  nsenter: 'util-linux',
  umount: 'mount',
  dockerd: 'docker.io',
  kubectl: 'kubectl',
};

/** checkPrerequisites throws a message saying what to install (or that root is needed); it never skips. */
export function checkPrerequisites(): void {
  if (process.getuid?.() !== 0) throw new Error('the e2e harness needs root (network namespaces, bridges, dockerd): run it as root');
  const missing = Object.entries(REQUIRED_TOOLS).filter(([tool]) => run('sh', ['-c', `command -v ${tool}`]).code !== 0);
  if (missing.length) throw new Error(`the e2e harness needs ${missing.map(([t]) => t).join(', ')}: apt-get install -y ${[...new Set(missing.map(([, p]) => p))].join(' ')}`);
  if (!existsSync('/bin/busybox')) throw new Error('the e2e test images need a static busybox at /bin/busybox: apt-get install -y busybox-static');
}

/** ProcStat is the part of /proc/PID/stat the harness reads. */
export interface ProcStat {
  pid: number;
  ppid: number;
  state: string;
  startTime: string;
}

/** procStat reads /proc/PID/stat, or undefined when the process is gone. */
export function procStat(pid: number): ProcStat | undefined {
  let s: string;
  try {
    s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // the command name (field 2) may hold spaces and parentheses: fields after it follow the last ')'
  const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { pid, state: rest[0]!, ppid: Number(rest[1]), startTime: rest[19]! };
}

/** alive tells whether PID runs (a zombie counts as gone), and when `startTime` is given, is still that process. */
export function alive(pid: number, startTime?: string): boolean {
  const st = procStat(pid);
  return !!st && st.state !== 'Z' && (startTime === undefined || st.startTime === startTime);
}

/** cmdline reads a process's argv joined by spaces ('' when gone). */
export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

function allPids(): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
}

/** netnsInode is the inode that identifies a named network namespace (/var/run/netns/NAME), if it exists. */
export function netnsInode(name: string): number | undefined {
  try {
    return statSync(`/var/run/netns/${name}`).ino;
  } catch {
    return undefined;
  }
}

/** pidsInNetns lists the processes whose network namespace is the one with inode `ino`. */
export function pidsInNetns(ino: number): number[] {
  const want = `net:[${ino}]`;
  const out: number[] = [];
  for (const pid of allPids()) {
    try {
      if (readlinkSync(`/proc/${pid}/ns/net`) === want) out.push(pid);
    } catch {
      /* gone or a kernel thread */
    }
  }
  return out;
}

/** withDescendants adds every descendant of `roots` (container processes under their containerd shims). */
export function withDescendants(roots: number[]): number[] {
  const children = new Map<number, number[]>();
  for (const pid of allPids()) {
    const st = procStat(pid);
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push(pid);
    children.set(st.ppid, list);
  }
  const seen = new Set<number>();
  const queue = [...roots];
  while (queue.length) {
    const p = queue.pop()!;
    if (seen.has(p) || p <= 1) continue;
    seen.add(p);
    queue.push(...(children.get(p) ?? []));
  }
  return [...seen];
}

/** CGROUP_ROOT is where cgroup v1 hierarchies (or the v2 unified one) are mounted. */
const CGROUP_ROOT = '/sys/fs/cgroup';

/** cgroupDirs lists the directories of cgroup `path` (e.g. /kle2e-ab12-host-1) in every mounted hierarchy. */
export function cgroupDirs(path: string): string[] {
  if (!existsSync(CGROUP_ROOT)) return [];
  const roots = existsSync(join(CGROUP_ROOT, 'cgroup.procs')) ? [CGROUP_ROOT] : readdirSync(CGROUP_ROOT).map((d) => join(CGROUP_ROOT, d));
  return roots.map((r) => join(r, path)).filter((d) => existsSync(d));
}

/** pidsInCgroup lists every process under cgroup `path`, its children included. */
export function pidsInCgroup(path: string): number[] {
  const out = new Set<number>();
  const walk = (dir: string) => {
    try {
      for (const l of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (l) out.add(Number(l));
      for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name));
    } catch {
      /* removed meanwhile */
    }
  };
  for (const d of cgroupDirs(path)) walk(d);
  return [...out];
}

/** removeCgroup removes cgroup `path` and its children, deepest first, in every hierarchy (they must be empty). */
export function removeCgroup(path: string): void {
  const rm = (dir: string) => {
    try {
      for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rm(join(dir, e.name));
      rmdirSync(dir);
    } catch {
      /* busy or gone: the next teardown retries */
    }
  };
  for (const d of cgroupDirs(path)) rm(d);
}

/** killAll SIGKILLs the processes and waits until each is gone or a zombie (at most `timeoutMs`). */
export async function killAll(pids: number[], timeoutMs = 10_000): Promise<void> {
  const targets = pids.filter((p) => p > 1 && p !== process.pid);
  for (const p of targets) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  const until = Date.now() + timeoutMs;
  while (targets.some((p) => alive(p)) && Date.now() < until) await sleep(50);
}

/** mountsUnder lists the mount points at or below `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => !!p)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p === dir || p.startsWith(prefix));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** unmountUnder unmounts everything mounted below `dir` (overlays, netns and shm bind mounts dockerd left). */
export function unmountUnder(dir: string): void {
  for (let round = 0; round < 3; round++) {
    const points = mountsUnder(dir);
    if (!points.length) return;
    for (const p of points) if (run('umount', [p]).code !== 0) run('umount', ['-l', p]);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
