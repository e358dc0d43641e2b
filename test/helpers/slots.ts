// slots: gives each test cluster its own address space, so clusters of parallel test files share one host and one
// dockerd without clashing — pod CIDR, service CIDR and loopback node addresses are derived from a claimed slot.
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const DIR = '/tmp/kubeling-test-slots';
/** SLOTS bounds the clusters alive at once on one host (10.100–10.149 for pods, 10.200–10.249 for services). */
const SLOTS = 50;

/** Slot is one test cluster's address space. */
export interface Slot {
  index: number;
  /** clusterCidr is the pod address space (--cluster-cidr), 10.(100+index).0.0/16 */
  clusterCidr: string;
  /** serviceCidr is the service address space (--service-cidr), 10.(200+index).0.0/16 */
  serviceCidr: string;
  /** clusterDns is the 10th service address, as the server's default */
  clusterDns: string;
  /** nodeIp gives the n-th node of this cluster a loopback address of its own: 127.1.index.n */
  nodeIp(n: number): string;
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** claimSlot takes the first free slot (a lock file holding our pid); slots of dead processes are taken over. */
export function claimSlot(): Slot {
  mkdirSync(DIR, { recursive: true });
  sweepStale();
  for (let attempt = 0; attempt < 2; attempt++) {
    for (let i = 0; i < SLOTS; i++) {
      const file = join(DIR, String(i));
      try {
        const fd = openSync(file, 'wx');
        writeSync(fd, String(process.pid));
        closeSync(fd);
        return slot(i, file);
      } catch {
        /* taken */
      }
    }
    sweepStale();
  }
  throw new Error(`no free test cluster slot in ${DIR} (${SLOTS} in use)`);
}

/** sweepStale frees the slots whose owner died (a killed test run), so no lock file outlives its process for long. */
function sweepStale(): void {
  for (const name of readdirSync(DIR)) {
    const file = join(DIR, name);
    let pid = 0;
    try {
      pid = Number(readFileSync(file, 'utf8'));
    } catch {
      continue;
    }
    if (!pid || !alive(pid)) rmSync(file, { force: true });
  }
}

function slot(index: number, file: string): Slot {
  return {
    index,
    clusterCidr: `10.${100 + index}.0.0/16`,
    serviceCidr: `10.${200 + index}.0.0/16`,
    clusterDns: `10.${200 + index}.0.10`,
    nodeIp: (n) => `127.1.${index}.${n}`,
    release: () => rmSync(file, { force: true }),
  };
}
