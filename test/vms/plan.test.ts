// plan.test: the VM test's pure planning — the run's VMs, QEMU's command line, the Vagrantfile's commands.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fstab, hostsFile, networkdUnit, planVms, provisionCommand, qemuArgs, readVagrantfile } from './plan.ts';

const ROOT = resolve(import.meta.dirname, '../..');

describe('planVms', () => {
  const cases = [
    { workers: 0, want: [['master', '192.168.56.10', 'klvmtap0', '52:54:00:56:00:0a']] },
    {
      workers: 2,
      want: [
        ['master', '192.168.56.10', 'klvmtap0', '52:54:00:56:00:0a'],
        ['worker1', '192.168.56.11', 'klvmtap1', '52:54:00:56:00:0b'],
        ['worker2', '192.168.56.12', 'klvmtap2', '52:54:00:56:00:0c'],
      ],
    },
  ];
  for (const c of cases) {
    it(`${c.workers} workers`, () => {
      expect(planVms(c.workers).map((v) => [v.name, v.ip, v.tap, v.mac])).toEqual(c.want);
    });
  }
});

describe('qemuArgs', () => {
  const vm = planVms(1)[1]!;
  const paths = { kernel: '/i/vmlinuz', initrd: '/i/initrd.img', disk: '/r/worker1.img', vagrant: '/r/vagrant.img', shared: '/r/kubeling', serialLog: '/r/s.log', monitor: '/r/m', pidFile: '/r/p' };
  const cases = [
    { accel: 'tcg' as const, cpu: 'max' },
    { accel: 'kvm' as const, cpu: 'host' },
  ];
  for (const c of cases) {
    it(c.accel, () => {
      const a = qemuArgs(vm, paths, { runId: 'ab12cd', memoryMiB: 1280, accel: c.accel });
      const opt = (k: string) => a[a.indexOf(k) + 1];
      expect(opt('-name')).toBe('klvm-ab12cd-worker1');
      expect(opt('-accel')).toBe(c.accel);
      expect(opt('-cpu')).toBe(c.cpu);
      expect(opt('-m')).toBe('1280');
      expect(opt('-netdev')).toBe('tap,id=net0,ifname=klvmtap1,script=no,downscript=no');
      expect(opt('-device')).toBe('virtio-net-pci,netdev=net0,mac=52:54:00:56:00:0b');
      expect(opt('-append')).toMatch(/^root=\/dev\/vda rw console=ttyS0/);
      expect(a).toContain('virtio-9p-pci,fsdev=kubeling,mount_tag=kubeling');
      expect(a).toContain('file=/r/vagrant.img,format=raw,if=virtio,readonly=on');
    });
  }
});

describe('guest files', () => {
  const vms = planVms(2);
  it('networkd unit matches the MAC and sets the private address', () => {
    expect(networkdUnit(vms[2]!)).toBe('[Match]\nMACAddress=52:54:00:56:00:0c\n\n[Network]\nAddress=192.168.56.12/24\n');
  });
  it('fstab mounts /vagrant read-only from the second disk and .kubeling over 9p', () => {
    expect(fstab().split('\n')).toEqual([
      '/dev/vda / ext4 defaults 0 1',
      '/dev/vdb /vagrant ext4 ro,nofail 0 0',
      'kubeling /vagrant/.kubeling 9p trans=virtio,version=9p2000.L,nofail 0 0',
      '',
    ]);
  });
  it('hosts names the other VMs', () => {
    expect(hostsFile(vms, vms[0]!)).toBe('127.0.0.1\tlocalhost\n127.0.1.1\tmaster\n192.168.56.11\tworker1\n192.168.56.12\tworker2\n');
  });
});

describe('readVagrantfile', () => {
  it("reads this checkout's Vagrantfile and fills its commands per VM", () => {
    const p = readVagrantfile(readFileSync(join(ROOT, 'Vagrantfile'), 'utf8'));
    const [master, worker1] = planVms(1) as [ReturnType<typeof planVms>[0], ReturnType<typeof planVms>[0]];
    expect(provisionCommand(p, master, master)).toBe('bash /vagrant/deploy/provision.sh master 192.168.56.10 /vagrant/.kubeling');
    expect(provisionCommand(p, worker1, master)).toBe('bash /vagrant/deploy/provision.sh worker 192.168.56.11 /vagrant/.kubeling 192.168.56.10');
  });
  const bad = [
    { name: 'no provisioner', text: "SUBNET = ENV.fetch('KUBELING_SUBNET', '10.0.0')\nSHARED = '/x'\n" },
    { name: 'no SHARED', text: `SUBNET = ENV.fetch('KUBELING_SUBNET', '10.0.0')\nm.vm.provision 'shell', inline: "a master b"\nw.vm.provision 'shell', inline: "a worker b"\n` },
  ];
  for (const c of bad) it(`throws: ${c.name}`, () => expect(() => readVagrantfile(c.text)).toThrow(/Vagrantfile/));
  it('throws on an unknown interpolation', () => {
    const p = { master: 'x #{nope}', worker: '', passEnv: [], subnetDefault: '1', shared: '/s' };
    expect(() => provisionCommand(p, planVms(0)[0]!, planVms(0)[0]!)).toThrow(/#\{nope\}/);
  });
});
