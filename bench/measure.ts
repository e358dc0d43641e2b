// measure: what every benchmark reads off processes and samples — /proc figures (RSS, CPU time, finding processes),
// nearest-rank quantiles, and the common end of a run (cleanup, wall time, the JSON result line).
import { readdirSync, readFileSync } from 'node:fs';

/** quantile of sorted-ascending samples (nearest rank); NaN when there are none. */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** rssMb reads VmRSS and its peak VmHWM of a process from /proc/<pid>/status, in MB. */
export function rssMb(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

/** cpuSeconds reads a process's user+system CPU time from /proc/<pid>/stat (clock ticks at 100 Hz); NaN if unreadable. */
export function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** mainThreadCpuSeconds is cpuSeconds of a process's main thread alone (its event loop, for a Node process); NaN if unreadable. */
export function mainThreadCpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** ProcInfo is what pidsWhere shows of a process: its pid, command name and argument vector. */
export interface ProcInfo {
  pid: number;
  comm: string;
  argv: string[];
}

/** pidsWhere lists the processes for which `match` holds (processes that vanish while being read are skipped). */
export function pidsWhere(match: (p: ProcInfo) => boolean): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const p = { pid: Number(d), comm: readFileSync(`/proc/${d}/comm`, 'utf8').trim(), argv: readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0') };
      if (match(p)) out.push(p.pid);
    } catch {
      /* gone */
    }
  }
  return out;
}

/** finishBench runs a bench's cleanup whatever happened, records the wall time, and prints the result as one JSON line (exit code 1 when it holds an error). */
export async function finishBench(result: Record<string, unknown>, t0: number, cleanup: () => Promise<number>, log: (m: string) => void): Promise<void> {
  const removed = await cleanup().catch((e) => {
    log(`cleanup failed: ${(e as Error).message}`);
    return -1;
  });
  result.seconds = (performance.now() - t0) / 1000;
  log(`removed ${removed} containers; done in ${(result.seconds as number).toFixed(1)} s`);
  console.log(JSON.stringify(result));
  if (result.error) process.exitCode = 1;
}
