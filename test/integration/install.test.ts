// install: deploy/install.sh and its units on this host — the scripts pass shellcheck, the units pass
// `systemd-analyze verify`, the Vagrantfile parses (`ruby -c`) and provisions with exactly the commands the README
// shows; then a server is installed into a temp root (KUBELING_ROOT: this machine's /etc and /var/lib stay
// untouched), started from its installed unit's ExecStart and config, an agent installed into a second root joins
// it with the printed token, and uninstall.sh --purge removes both.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, ROOT } from '../helpers/server.ts';
import { claimSlot, type Slot } from '../helpers/slots.ts';
import { teardownTestCluster } from '../helpers/teardown.ts';

const has = (bin: string): boolean => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const SCRIPTS = ['scripts/up.sh', 'deploy/install.sh', 'deploy/uninstall.sh', 'deploy/provision.sh'];
const UNITS = ['kubeling-server.service', 'kubeling-agent.service'];

/** vagrantProvisionCommands evaluates the Vagrantfile under a stand-in `Vagrant` that records each shell provisioner's inline command. */
function vagrantProvisionCommands(env: Record<string, string> = {}): string[] {
  const stub = `
    class Rec
      def initialize(log) = @log = log
      def method_missing(name, *args, **kw, &blk)
        @log << kw[:inline] if name == :provision && kw[:inline]
        blk&.call(Rec.new(@log), Rec.new(@log))
        self
      end
      def respond_to_missing?(*) = true
    end
    module Vagrant
      def self.configure(_v) = yield(Rec.new($log))
    end
    $log = []
    load ARGV[0]
    puts $log`;
  const r = spawnSync('ruby', ['-e', stub, join(ROOT, 'Vagrantfile')], { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.trim().split('\n');
}

/** readmeSection is the text of a README section (## title) up to the next. */
function readmeSection(title: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  return readme.split(`\n## ${title}\n`)[1]?.split(/\n## /)[0] ?? '';
}

/** execStart reads the ExecStart and Environment(File) of an installed unit into a command and its environment. */
function execStart(unitFile: string): { argv: string[]; env: Record<string, string> } {
  const text = readFileSync(unitFile, 'utf8');
  const argv = /^ExecStart=(.*)$/m.exec(text)![1]!.split(/\s+/);
  const env: Record<string, string> = {};
  for (const [, kv] of text.matchAll(/^Environment=(.*)$/gm)) {
    const i = kv!.indexOf('=');
    env[kv!.slice(0, i)] = kv!.slice(i + 1);
  }
  for (const [, file] of text.matchAll(/^EnvironmentFile=(.*)$/gm)) {
    for (const line of readFileSync(file!, 'utf8').split('\n')) {
      const i = line.indexOf('=');
      if (i > 0) env[line.slice(0, i)] = line.slice(i + 1);
    }
  }
  return { argv, env };
}

describe('scripts, units and the Vagrantfile', () => {
  it('the scripts pass shellcheck', () => {
    if (!has('shellcheck')) throw new Error('shellcheck is not installed: apt-get install -y shellcheck');
    const r = spawnSync('shellcheck', SCRIPTS, { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stdout).toBe(0);
  });

  it('the Vagrantfile parses, and its provisioning commands are the ones the README shows', () => {
    if (!has('ruby')) throw new Error('ruby is not installed (apt-get install -y ruby): the Vagrantfile cannot be checked');
    const c = spawnSync('ruby', ['-c', 'Vagrantfile'], { cwd: ROOT, encoding: 'utf8' });
    expect(c.stdout).toContain('Syntax OK');
    const cmds = vagrantProvisionCommands({ NODES: '2' });
    expect(cmds).toEqual([
      'bash /vagrant/deploy/provision.sh master 192.168.56.10 /vagrant/.kubeling',
      'bash /vagrant/deploy/provision.sh worker 192.168.56.11 /vagrant/.kubeling 192.168.56.10',
      'bash /vagrant/deploy/provision.sh worker 192.168.56.12 /vagrant/.kubeling 192.168.56.10',
    ]);
    const section = readmeSection('A cluster of Vagrant VMs');
    for (const cmd of cmds) expect(section).toContain(cmd);
    expect(vagrantProvisionCommands({ NODES: '3' })).toHaveLength(4);
  });
});

describe('install.sh into a temp root', () => {
  const roots: string[] = [];
  const procs: ChildProcess[] = [];
  let slot: Slot | undefined;
  let ca: string | undefined;

  afterAll(async () => {
    // a process killed by a signal has exitCode null and signalCode set: only those with neither still run
    const running = (p: ChildProcess) => p.exitCode === null && p.signalCode === null;
    for (const p of procs) if (running(p)) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => (running(p) ? new Promise((r) => p.once('exit', r)) : undefined)));
    if (ca) await teardownTestCluster(ca).catch(() => undefined);
    for (const r of roots) rmSync(r, { recursive: true, force: true });
    slot?.release();
  }, 90_000);

  const install = (root: string, args: string[]) =>
    spawnSync('bash', [join(ROOT, 'deploy/install.sh'), ...args], { encoding: 'utf8', env: { ...process.env, KUBELING_ROOT: root, KUBELING_OFFLINE: '1' }, timeout: 180_000 });

  const start = (root: string, unit: string): ChildProcess => {
    const { argv, env } = execStart(join(root, 'etc/systemd/system', unit));
    const p = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...env, KUBELING_LOG_LEVEL: 'warn' }, stdio: 'ignore' });
    procs.push(p);
    return p;
  };

  const kubectl = (kubeconfig: string, args: string[]) => spawnSync('kubectl', ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8', timeout: 30_000 });

  it('installs a server and an agent that joins it, from their units; uninstall --purge removes them', async () => {
    slot = claimSlot();
    const port = await freePort();
    const server = mkdtempSync(join(tmpdir(), 'kubeling-install-server-'));
    const agent = mkdtempSync(join(tmpdir(), 'kubeling-install-agent-'));
    roots.push(server, agent);
    const ip1 = slot.nodeIp(1);
    const ip2 = slot.nodeIp(2);
    const s = install(server, ['server', '--node-ip', ip1, '--', '--bind-address', '127.0.0.1', '--https-listen-port', String(port), '--cluster-cidr', slot.clusterCidr, '--service-cidr', slot.serviceCidr, '--nodeport-addresses', `${ip1}/32`]);
    expect(s.status, s.stdout + s.stderr).toBe(0);
    const unit = join(server, 'etc/systemd/system/kubeling-server.service');
    expect(existsSync(join(server, 'etc/systemd/system/multi-user.target.wants/kubeling-server.service'))).toBe(true);
    if (!has('systemd-analyze')) throw new Error('systemd-analyze is not installed: apt-get install -y systemd');
    const v = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
    expect(v.status, v.stderr).toBe(0);
    expect(readFileSync(unit, 'utf8')).toMatch(/^Restart=always$/m);

    start(server, 'kubeling-server.service');
    const data = join(server, 'var/lib/kubeling');
    const kc = join(data, 'kubeconfig.yaml');
    for (let i = 0; i < 120 && !(existsSync(kc) && existsSync(join(data, 'token'))); i++) await new Promise((r) => setTimeout(r, 500));
    ca = readFileSync(join(data, 'tls/ca.crt'), 'utf8');
    const token = readFileSync(join(data, 'token'), 'utf8').trim();

    const a = install(agent, ['agent', '--server', `https://127.0.0.1:${port}`, '--token', token, '--node-ip', ip2, '--node-name', 'installed-agent', '--', '--kubelet-port', String(await freePort()), '--nodeport-addresses', `${ip2}/32`]);
    expect(a.status, a.stdout + a.stderr).toBe(0);
    const agentUnit = join(agent, 'etc/systemd/system/kubeling-agent.service');
    const va = spawnSync('systemd-analyze', ['verify', agentUnit], { encoding: 'utf8' });
    expect(va.status, va.stderr).toBe(0);
    expect(readFileSync(join(agent, 'etc/kubeling/agent.env'), 'utf8')).toContain(`KUBELING_TOKEN=${token}`);
    start(agent, 'kubeling-agent.service');

    let ready = '';
    for (let i = 0; i < 90; i++) {
      ready = kubectl(kc, ['get', 'nodes', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status} {end}']).stdout;
      if ((ready.match(/=True/g) ?? []).length === 2) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(ready).toContain('installed-agent=True');
    expect((ready.match(/=True/g) ?? []).length).toBe(2);

    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => (p.exitCode === null && p.signalCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
    for (const root of [server, agent]) {
      const u = spawnSync('bash', [join(ROOT, 'deploy/uninstall.sh'), '--purge'], { encoding: 'utf8', env: { ...process.env, KUBELING_ROOT: root } });
      expect(u.status, u.stderr).toBe(0);
      for (const gone of ['opt/kubeling', 'etc/kubeling', 'var/lib/kubeling', 'etc/systemd/system/kubeling-server.service', 'etc/systemd/system/kubeling-agent.service']) expect(existsSync(join(root, gone))).toBe(false);
    }
  }, 400_000);

  it.each(UNITS)('%s ships restart-on-failure, start-at-boot and journal logging', (u) => {
    const text = readFileSync(join(ROOT, 'deploy/systemd', u), 'utf8');
    expect(text).toMatch(/^Restart=always$/m);
    expect(text).toMatch(/^WantedBy=multi-user.target$/m);
    expect(text).toMatch(/^StandardOutput=journal$/m);
    expect(text).toMatch(/--config \/etc\/kubeling\//);
  });
});
