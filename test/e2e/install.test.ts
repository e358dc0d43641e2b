// install.test: deploy/install.sh on real hosts — a server installed on this host (a temp root, the bridge address as
// --node-ip/--bind-address) and an agent installed into a second temp root and started from its unit's ExecStart
// inside a host's network namespace, on that host's dockerd: the Node is Ready with the host's address, a pod runs in
// that dockerd, a NodePort answers on the host's address from the root namespace, uninstall.sh --purge removes both.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Node, Pod, Service } from 'kubernetes-types/core/v1.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupKind } from '../../pkg/api/resources.ts';
import { Client } from '../../pkg/client/index.ts';
import { clusterId } from '../../pkg/kubelet/index.ts';
import { DockerRuntime } from '../../pkg/kubelet/runtime/index.ts';
import { HTTPD_BODY } from '../helpers/images.ts';
import { freePort, kubectl, ROOT, type KubectlResult } from '../helpers/server.ts';
import { httpGet, startHosts, type E2eCluster, type Host } from './hosts.ts';
import { netnsInode, pidsInNetns } from './sys.ts';

const nodeInfo = lookupKind('v1', 'Node')!;
const podInfo = lookupKind('v1', 'Pod')!;

/** INSTALLED are the paths install.sh writes under its root (KUBELING_ROOT), all gone after uninstall.sh --purge. */
const INSTALLED = ['opt/kubeling', 'etc/kubeling', 'var/lib/kubeling', 'etc/systemd/system/kubeling-server.service',
  'etc/systemd/system/kubeling-agent.service', 'etc/systemd/system/multi-user.target.wants/kubeling-server.service',
  'etc/systemd/system/multi-user.target.wants/kubeling-agent.service'];

/** Unit is an installed unit's ExecStart and its environment (Environment= and EnvironmentFile= lines). */
interface Unit {
  argv: string[];
  env: Record<string, string>;
}

/** readUnit reads what systemd would run for an installed unit. */
function readUnit(file: string): Unit {
  const text = readFileSync(file, 'utf8');
  const line = /^ExecStart=(.*)$/m.exec(text);
  if (!line) throw new Error(`${file}: no ExecStart`);
  const env: Record<string, string> = {};
  const assign = (kv: string) => {
    const i = kv.indexOf('=');
    if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
  };
  for (const [, kv] of text.matchAll(/^Environment=(.*)$/gm)) assign(kv!);
  for (const [, f] of text.matchAll(/^EnvironmentFile=(.*)$/gm)) for (const l of readFileSync(f!, 'utf8').split('\n')) assign(l);
  return { argv: line[1]!.trim().split(/\s+/), env };
}

/** Started is a process started from a unit, with its log. */
interface Started {
  proc: ChildProcess;
  exited: Promise<void>;
  log: string;
}

describe('e2e: install.sh — a server on the host, an agent joined from a host network namespace', () => {
  let c: E2eCluster;
  let h: Host;
  const started = Date.now();
  const procs: Started[] = [];
  let serverRoot = '';
  let agentRoot = '';
  let admin: Client | undefined;

  beforeAll(async () => {
    // the hosts' namespaces and dockerds (with the test images); their agents are the installed one
    c = await startHosts({ hosts: 1, agents: false });
    h = c.host('host-1');
    serverRoot = join(c.dir, 'install-server');
    agentRoot = join(c.dir, 'install-agent');
  });

  const stop = async (p: Started) => {
    if (p.proc.exitCode !== null || p.proc.signalCode !== null) return;
    p.proc.kill('SIGTERM');
    const t = setTimeout(() => p.proc.kill('SIGKILL'), 15_000);
    await p.exited;
    clearTimeout(t);
  };

  afterAll(async () => {
    await admin?.close().catch(() => undefined);
    await Promise.all(procs.map(stop));
    for (const r of [serverRoot, agentRoot]) if (r) rmSync(r, { recursive: true, force: true });
    await c?.teardown();
  }, 120_000);

  const install = (root: string, args: string[]) => {
    const r = spawnSync('bash', [join(ROOT, 'deploy/install.sh'), ...args], {
      encoding: 'utf8', env: { ...process.env, KUBELING_ROOT: root, KUBELING_OFFLINE: '1' }, timeout: 180_000,
    });
    expect(r.status, `install.sh ${args[0]}:\n${r.stdout}${r.stderr}`).toBe(0);
    return r.stdout;
  };

  /** start runs an installed unit's ExecStart (inside `netns` if given) as systemd would, its output in a log. */
  const start = (key: string, root: string, unit: string, netns?: string): Started => {
    const { argv, env } = readUnit(join(root, 'etc/systemd/system', unit));
    const log = join(c.dir, `${key}.log`);
    const fd = openSync(log, 'a');
    const cmd = netns ? ['nsenter', `--net=/var/run/netns/${netns}`, ...argv] : argv;
    // from source, as every e2e process: the installed tree carries the dev dependencies, so bin/kubeling would build dist/
    const proc = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', fd, fd], env: { ...process.env, ...env, KUBELING_FROM_SOURCE: '1' } });
    closeSync(fd);
    proc.once('error', () => undefined);
    // a pid file in the run directory: an interrupted run's teardown kills it (its command line names the directory)
    if (proc.pid) writeFileSync(join(c.dir, `${key}.pid`), String(proc.pid));
    const p = { proc, exited: new Promise<void>((r) => proc.once('exit', () => r())), log };
    procs.push(p);
    return p;
  };

  const tail = (p: Started) => (existsSync(p.log) ? readFileSync(p.log, 'utf8').split('\n').slice(-30).join('\n') : '');
  const alive = (p: Started, what: string) => {
    if (p.proc.exitCode !== null || p.proc.signalCode !== null) throw new Error(`${what} exited (${p.proc.exitCode ?? p.proc.signalCode}):\n${tail(p)}`);
  };

  it('installs and starts both, runs a pod on the agent\'s host and serves its NodePort there; uninstall --purge removes both', async () => {
    // the server: the bridge address as node IP (advertise address, TLS SAN) and bind address; it runs no node agent
    // of its own here, so the one Node is the host in the namespace
    const port = await freePort(c.bridgeIp);
    const out = install(serverRoot, ['server', '--node-ip', c.bridgeIp, '--', '--bind-address', c.bridgeIp, '--https-listen-port', String(port),
      '--disable-agent', '--cluster-cidr', c.clusterCidr, '--service-cidr', c.serviceCidr]);
    expect(out).toContain('kubeling server installed');
    const server = start('install-server', serverRoot, 'kubeling-server.service');
    const data = join(serverRoot, 'var/lib/kubeling');
    const kc = join(data, 'kubeconfig.yaml');
    const ctl = (...args: string[]): KubectlResult => kubectl(kc, args);
    await c.waitFor('the installed server', () => {
      alive(server, 'the installed server');
      return existsSync(kc) && existsSync(join(data, 'token')) && ctl('get', '--raw', '/readyz').code === 0;
    }, 60_000);
    const token = readFileSync(join(data, 'token'), 'utf8').trim();
    const caPem = readFileSync(join(data, 'tls/ca.crt'), 'utf8');
    const kubeconfig = readFileSync(kc, 'utf8');
    expect(kubeconfig).toContain(`https://${c.bridgeIp}:${port}`);
    admin = new Client({ server: `https://${c.bridgeIp}:${port}`, token: /token:\s*["']?([^\s"']+)/.exec(kubeconfig)![1]!, caPem });

    // the agent: joins with the URL and token alone (the token pins the CA), on the host's dockerd
    install(agentRoot, ['agent', '--server', `https://${c.bridgeIp}:${port}`, '--token', token, '--node-ip', h.ip, '--node-name', h.name,
      '--', '--docker-host', h.dockerHost]);
    expect(readFileSync(join(agentRoot, 'etc/kubeling/agent.env'), 'utf8')).toContain(`KUBELING_TOKEN=${token}`);
    const agent = start('install-agent', agentRoot, 'kubeling-agent.service', h.netns);

    const node = await c.waitFor(`node ${h.name} Ready`, async () => {
      alive(agent, 'the installed agent');
      alive(server, 'the installed server');
      const n = (await admin!.getOrUndefined(nodeInfo, undefined, h.name)) as Node | undefined;
      return n?.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') ? n : undefined;
    }, 60_000);
    expect(node.status?.addresses).toContainEqual({ type: 'InternalIP', address: h.ip });
    expect(ctl('get', 'nodes', '-o', 'name').stdout.trim()).toBe(`node/${h.name}`);
    expect(pidsInNetns(netnsInode(h.netns)!)).toContain(agent.proc.pid);

    // a pod the scheduler places (no nodeName), and a NodePort Service in front of it
    const pod: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web', labels: { app: 'web' } },
      spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: c.images.httpd, imagePullPolicy: 'Never', ports: [{ containerPort: 80 }] }] },
    };
    const svc: Service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web' },
      spec: { type: 'NodePort', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 80 }] },
    };
    for (const o of [pod, svc]) {
      const r = kubectl(kc, ['apply', '-f', '-'], { input: JSON.stringify(o) });
      expect(r.code, r.stderr).toBe(0);
    }
    const running = await c.waitFor('pod web Running', async () => {
      alive(agent, 'the installed agent');
      const p = (await admin!.getOrUndefined(podInfo, 'default', 'web')) as Pod | undefined;
      return p?.status?.phase === 'Running' ? p : undefined;
    }, 60_000);
    expect(running.spec?.nodeName).toBe(h.name);
    expect(running.status?.hostIP).toBe(h.ip);
    // its container runs in the host's dockerd, labelled with the installed server's cluster
    const docker = new DockerRuntime({ host: h.dockerHost, cluster: clusterId(caPem) });
    const containers = await docker.listContainers({});
    expect(containers.some((x) => x.podName === 'web' && !x.isSandbox && x.state === 'running')).toBe(true);

    const nodePort = (JSON.parse(ctl('get', 'service', 'web', '-o', 'json').stdout) as Service).spec?.ports?.[0]?.nodePort;
    expect(nodePort).toBeGreaterThanOrEqual(30000);
    const page = await c.waitFor(`NodePort ${nodePort} on ${h.ip}`, async () => {
      const r = await httpGet(`http://${h.ip}:${nodePort}/`);
      return r.status === 200 ? r.body : undefined;
    }, 30_000);
    expect(page).toBe(HTTPD_BODY);

    // uninstall: the units stop first (as `systemctl disable --now`), then --purge removes code, config, units and data
    await Promise.all([agent, server].map(stop));
    for (const root of [agentRoot, serverRoot]) {
      const u = spawnSync('bash', [join(ROOT, 'deploy/uninstall.sh'), '--purge'], { encoding: 'utf8', env: { ...process.env, KUBELING_ROOT: root } });
      expect(u.status, u.stdout + u.stderr).toBe(0);
      for (const gone of INSTALLED) expect(existsSync(join(root, gone)), `${root}/${gone}`).toBe(false);
    }
    console.log(`e2e install: ${((Date.now() - started) / 1000).toFixed(1)} s wall time`);
  }, 240_000);
});
