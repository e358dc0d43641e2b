// plan: the pure part of the VM test (issue 11) — the VMs of a run (names, addresses, taps, MACs), QEMU's command
// line for one of them, and the provisioning commands read out of the Vagrantfile, so the test runs what it runs.

/** PREFIX names everything a VM run creates on the host: netns klvm-RUN, /tmp/klvm-RUN, QEMU -name klvm-RUN-VM. */
export const PREFIX = 'klvm';
/** SUBNET is the Vagrantfile's private network (its default KUBELING_SUBNET); it lives inside the run's netns only. */
export const SUBNET = '192.168.56';
/** PRIVATE_HOST is the host end of the private network (the bridge), where the registry and apt source answer. */
export const PRIVATE_HOST = `${SUBNET}.1`;
/** APT_PORT serves the image's apt/ directory (scripts/vm-image.sh points the VMs' sources.list here). */
export const APT_PORT = 8080;
/** REGISTRY_PORT serves the local registry the VMs' dockerd uses as its Docker Hub mirror. */
export const REGISTRY_PORT = 5000;
/** SHARED_IN_VM is the Vagrantfile's SHARED: the synced folder /vagrant's .kubeling. */
export const SHARED_IN_VM = '/vagrant/.kubeling';

/** VmSpec is one VM of a run. */
export interface VmSpec {
  name: string;
  role: 'master' | 'worker';
  ip: string;
  mac: string;
  tap: string;
}

/** planVms lays out the master and `workers` workers the way the Vagrantfile does (master .10, workerN .10+N). */
export function planVms(workers: number): VmSpec[] {
  const vm = (name: string, role: VmSpec['role'], host: number, i: number): VmSpec => ({
    name,
    role,
    ip: `${SUBNET}.${host}`,
    mac: `52:54:00:56:00:${host.toString(16).padStart(2, '0')}`,
    tap: `${PREFIX}tap${i}`,
  });
  return [vm('master', 'master', 10, 0), ...Array.from({ length: workers }, (_, i) => vm(`worker${i + 1}`, 'worker', 11 + i, i + 1))];
}

/** QemuPaths are the files one VM's QEMU uses. */
export interface QemuPaths {
  kernel: string;
  initrd: string;
  disk: string;
  /** the synced folder /vagrant: an ext4 image of the checkout, shared read-only by every VM of the run */
  vagrant: string;
  /** /vagrant/.kubeling over 9p: the one writable part (the master's token and kubeconfig for the workers and the host) */
  shared: string;
  serialLog: string;
  monitor: string;
  pidFile: string;
}

/** QemuOptions size the VM and pick the accelerator (tcg: nested KVM hangs on this machine, see issue 11). */
export interface QemuOptions {
  runId: string;
  memoryMiB: number;
  accel: 'tcg' | 'kvm';
  /** vCPUs (TCG runs one host thread per vCPU) */
  cpus?: number;
}

/**
 * qemuArgs is QEMU's command line for one VM: direct kernel boot, its own root disk, the run's /vagrant image
 * read-only (a Vagrant rsync synced folder copies the tree into the VM: a disk is its stand-in, and virtio-blk is
 * far cheaper than 9p under software emulation), /vagrant/.kubeling over 9p, the NIC on its tap.
 */
export function qemuArgs(vm: VmSpec, p: QemuPaths, o: QemuOptions): string[] {
  return [
    '-name', `${PREFIX}-${o.runId}-${vm.name}`,
    '-accel', o.accel,
    '-cpu', o.accel === 'kvm' ? 'host' : 'max',
    '-smp', String(o.cpus ?? 1),
    '-m', String(o.memoryMiB),
    '-kernel', p.kernel,
    '-initrd', p.initrd,
    '-append', 'root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet',
    '-drive', `file=${p.disk},format=raw,if=virtio,cache=unsafe`,
    '-drive', `file=${p.vagrant},format=raw,if=virtio,readonly=on`,
    '-netdev', `tap,id=net0,ifname=${vm.tap},script=no,downscript=no`,
    '-device', `virtio-net-pci,netdev=net0,mac=${vm.mac}`,
    '-fsdev', `local,id=kubeling,path=${p.shared},security_model=none`,
    '-device', 'virtio-9p-pci,fsdev=kubeling,mount_tag=kubeling',
    '-display', 'none',
    '-serial', `file:${p.serialLog}`,
    '-monitor', `unix:${p.monitor},server,nowait`,
    '-pidfile', p.pidFile,
  ];
}

/** fstab mounts the root disk, the read-only /vagrant disk (no journal: nothing to replay) and .kubeling over 9p. */
export function fstab(shared = SHARED_IN_VM): string {
  return [
    '/dev/vda / ext4 defaults 0 1',
    '/dev/vdb /vagrant ext4 ro,nofail 0 0',
    `kubeling ${shared} 9p trans=virtio,version=9p2000.L,nofail 0 0`,
    '',
  ].join('\n');
}

/** networkdUnit is the VM's private_network configuration (systemd-networkd), written into its disk. */
export function networkdUnit(vm: VmSpec): string {
  return `[Match]\nMACAddress=${vm.mac}\n\n[Network]\nAddress=${vm.ip}/24\n`;
}

/** hostsFile names every VM of the run, as Vagrant's hostmanager-less boxes would need for nothing but convenience. */
export function hostsFile(vms: VmSpec[], self: VmSpec): string {
  return ['127.0.0.1\tlocalhost', `127.0.1.1\t${self.name}`, ...vms.filter((v) => v !== self).map((v) => `${v.ip}\t${v.name}`), ''].join('\n');
}

/** Provisioning is what the Vagrantfile runs on each VM: the inline shell command and the env it passes. */
export interface Provisioning {
  master: string;
  worker: string;
  passEnv: string[];
  subnetDefault: string;
  shared: string;
}

/**
 * readVagrantfile pulls the provisioning commands out of the Vagrantfile's text (the `inline:` strings with their
 * #{…} interpolations left in) and the env names it passes, so the test can run exactly those.
 */
export function readVagrantfile(text: string): Provisioning {
  const inline = [...text.matchAll(/provision\s+'shell'.*?inline:\s*"([^"]+)"/g)].map((m) => m[1]!);
  const master = inline.find((c) => / master /.test(c));
  const worker = inline.find((c) => / worker /.test(c));
  const passEnv = /PASS_ENV\s*=\s*%w\[([^\]]*)\]/.exec(text)?.[1]?.trim().split(/\s+/) ?? [];
  const subnetDefault = /SUBNET\s*=\s*ENV\.fetch\('KUBELING_SUBNET',\s*'([^']+)'\)/.exec(text)?.[1];
  const shared = /SHARED\s*=\s*'([^']+)'/.exec(text)?.[1];
  if (!master || !worker || !subnetDefault || !shared) throw new Error('Vagrantfile: no master/worker shell provisioner, SUBNET or SHARED found');
  return { master, worker, passEnv, subnetDefault, shared };
}

/** provisionCommand fills a Vagrantfile inline command for one VM (the Ruby interpolations it uses). */
export function provisionCommand(p: Provisioning, vm: VmSpec, master: VmSpec): string {
  const vars: Record<string, string> = { MASTER_IP: master.ip, SHARED: p.shared, ip: vm.ip };
  return (vm.role === 'master' ? p.master : p.worker).replace(/#\{(\w+)\}/g, (_, k: string) => {
    const v = vars[k];
    if (v === undefined) throw new Error(`Vagrantfile: unknown interpolation #{${k}}`);
    return v;
  });
}
