// hosts: a multi-host kubeling cluster on one machine for e2e tests — one network namespace per host on a bridge,
// each host with its own dockerd and `kubeling agent`, the server in the root namespace; faults on demand; teardown.
//
// Layout of a run (RUN = 4 random [a-z0-9]):
//   bridge   kle2eRUN  192.168.X.1/24 in the root namespace (X: the first /24 of 192.168.200-254 no route uses)
//   host i   netns kle2e-RUN-host-N (N = i+1), veth kle2eRUNvI (root side, on the bridge) ↔ eth0 192.168.X.(10+i),
//            default route via 192.168.X.1; dockerd (nsenter --net) with --bip 172.(20+i).0.1/16 and
//            --cgroup-parent /kle2e-RUN-host-N; `kubeling agent --node-ip 192.168.X.(10+i)` in the same netns
//   server   `kubeling server --disable-agent --bind-address 192.168.X.1` in the root namespace
//   registry Debian's docker-registry on 192.168.X.1:5000 (root namespace, with `registry: true`); every dockerd
//            has --insecure-registry for it, so pods pull `192.168.X.1:5000/…` over the bridge — the real pull path
//   state    /tmp/kle2e-RUN/ (run.json, server/, registry/, host-N/{data,exec,agent,*.log}); root FORWARD rule `kle2e:RUN`
//
// Sysctls: the root namespace has br_netfilter loaded with net.bridge.bridge-nf-call-iptables=1 and Docker's
// FORWARD policy DROP, so frames bridged between two hosts' veths traverse the root FORWARD chain and are dropped;
// the harness inserts `-A FORWARD -i kle2eRUN -o kle2eRUN -j ACCEPT` (comment kle2e:RUN) for the run's bridge.
// Inside each host's netns dockerd sets net.ipv4.ip_forward=1 and its own iptables (they vanish with the netns).
//
// Routes of the root namespace: the server proxies to pod IPs (pods/…/proxy, services/…/proxy) as upstream's API server
// does from a node of the pod network, so the root namespace routes the cluster CIDR onto the bridge (never out of
// the default route) and each Node's podCIDR via its host; both go with the bridge.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type { Node } from 'kubernetes-types/core/v1.js';
import { Agent as UndiciAgent, fetch as ufetch } from 'undici';
import { lookupKind } from '../../pkg/api/resources.ts';
import { Client } from '../../pkg/client/index.ts';
import { clusterId } from '../../pkg/kubelet/index.ts';
import { DockerRuntime } from '../../pkg/kubelet/runtime/index.ts';
import { ensureTestImages, TEST_IMAGES } from '../helpers/images.ts';
import { freePort, kubectl, ROOT, type KubectlResult } from '../helpers/server.ts';
import {
  alive, checkPrerequisites, cmdline, killAll, must, netnsInode, pidsInCgroup, pidsInNetns, procStat, removeCgroup, run,
  sleep, unmountUnder, withDescendants, type CmdResult,
} from './sys.ts';
import { waitFor } from '../helpers/wait.ts';

/** PREFIX starts the name of everything a run creates, so a later run finds the leftovers of an interrupted one. */
export const PREFIX = 'kle2e';
/** STATE_ROOT holds the runs' state directories (/tmp/kle2e-RUN). */
const STATE_ROOT = process.env.KUBELING_E2E_STATE ?? '/tmp';
const RUN_ID = /^[a-z0-9]{4}$/;
const nodeInfo = lookupKind('v1', 'Node')!;

export interface HostsOptions {
  /** number of worker hosts (default 2) */
  hosts?: number;
  /** the cluster's pod CIDR (default 10.244.0.0/16: each host's pods live only in its netns) */
  clusterCidr?: string;
  /** the cluster's service CIDR, passed when the server has --service-cidr (default 10.96.0.0/16) */
  serviceCidr?: string;
  /** extra flags of `kubeling server` */
  serverArgs?: string[];
  /** extra flags of every `kubeling agent` */
  agentArgs?: string[];
  /** the agent's command line before `agent …` (default bin/kubeling; env KUBELING_E2E_AGENT, space-separated) */
  agentCommand?: string[];
  /** log level of server and agents (default info, or E2E_LOG_LEVEL); logs go to files in the run directory */
  logLevel?: string;
  /** start a local image registry (Debian's docker-registry) on the bridge that every host's dockerd pulls from */
  registry?: boolean;
  /** start each host's `kubeling agent` (default true); false leaves the hosts with their dockerd only, for a test that starts its own agent there */
  agents?: boolean;
}

/** REGISTRY_PORT is the local registry's port on the bridge address. */
export const REGISTRY_PORT = 5000;

/** Host is one worker host: a network namespace with its own dockerd and kubeling agent. */
export interface Host {
  /** the host's name, also its Node's name: host-1, host-2, … */
  name: string;
  index: number;
  /** the host's address on the bridge (its --node-ip) */
  ip: string;
  /** the network namespace's name (/var/run/netns/NAME) */
  netns: string;
  /** the root-namespace end of the host's veth (link down/up cuts the host off) */
  veth: string;
  /** the host's dockerd endpoint, unix:///tmp/kle2e-RUN/host-N/docker.sock */
  dockerHost: string;
  /** a Docker client of the host's dockerd that sees this cluster's containers only */
  docker: DockerRuntime;
  dir: string;
}

/** E2eCluster is a running multi-host cluster and its fault switches. */
export interface E2eCluster {
  runId: string;
  dir: string;
  bridge: string;
  /** the bridge's address: the server's --bind-address, and each host's default gateway */
  bridgeIp: string;
  hosts: Host[];
  host(name: string): Host;
  serverUrl: string;
  kubeconfig: string;
  admin: Client;
  clusterCidr: string;
  serviceCidr: string;
  images: typeof TEST_IMAGES;
  /** the local registry's address `192.168.X.1:5000` (with `registry: true`); image references start with it */
  registry?: string;
  /** pushImage pushes an image from a host's dockerd to the local registry (`docker push` against that dockerd) */
  pushImage(host: string, ref: string): void;
  /** kubectl runs the real kubectl against the cluster; never throws on exit codes */
  kubectl(...args: string[]): KubectlResult;
  /** kubectlInput is kubectl with standard input (`apply -f -`) */
  kubectlInput(input: string, ...args: string[]): KubectlResult;
  /** waitFor polls `probe` until it returns something other than undefined/false, or throws naming `what` */
  waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs?: number): Promise<T>;
  /** nodeReady returns the Node when its Ready condition is True */
  nodeReady(name: string): Promise<Node | undefined>;
  /** inHost runs a command inside the host's network namespace (nsenter --net) */
  inHost(name: string, cmd: string, args: string[]): CmdResult;
  /** routes prints `ip route` of the host's namespace */
  routes(name: string): string;
  /** killHost SIGKILLs everything of the host: agent, dockerd, containerd, shims and containers */
  killHost(name: string): Promise<void>;
  /** startHost starts the host's dockerd and agent again (after killHost) and waits until its Node is Ready */
  startHost(name: string): Promise<void>;
  /** linkDown cuts the host off the network (its veth's root end down); linkUp reconnects it */
  linkDown(name: string): void;
  linkUp(name: string): void;
  /** killAgent SIGKILLs the host's agent; startAgent starts it and waits for Ready; restartAgent does both */
  killAgent(name: string): Promise<void>;
  startAgent(name: string): Promise<void>;
  restartAgent(name: string): Promise<void>;
  /** restartDockerd stops the host's dockerd (SIGTERM: its containers stop; SIGKILL: they are orphaned) and starts it */
  restartDockerd(name: string, signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** killServer SIGKILLs the server; startServer starts it again on the same data and port */
  killServer(): Promise<void>;
  startServer(): Promise<void>;
  /** logs returns the tail of every log of the run (server, dockerds, agents) */
  logs(lines?: number): string;
  /** teardown removes everything the run created */
  teardown(): Promise<void>;
}

/** RunState is run.json: what teardown needs when the process that made the run is gone. */
interface RunState {
  runId: string;
  owner: number;
  ownerStart: string;
  hosts: string[];
}

/** Proc is a process the harness started, with its log file. */
interface Proc {
  proc: ChildProcess;
  exited: Promise<void>;
}

function names(runId: string) {
  return {
    dir: join(STATE_ROOT, `${PREFIX}-${runId}`),
    bridge: `${PREFIX}${runId}`,
    netns: (host: string) => `${PREFIX}-${runId}-${host}`,
    veth: (i: number) => `${PREFIX}${runId}v${i}`,
    cgroup: (host: string) => `/${PREFIX}-${runId}-${host}`,
    comment: `${PREFIX}:${runId}`,
  };
}

/** startHosts builds the bridge, the hosts' namespaces and dockerds, the server and the agents; all nodes Ready. */
export async function startHosts(opts: HostsOptions = {}): Promise<E2eCluster> {
  checkPrerequisites();
  await teardownLeftovers();
  const count = opts.hosts ?? 2;
  const clusterCidr = opts.clusterCidr ?? '10.244.0.0/16';
  const serviceCidr = opts.serviceCidr ?? '10.96.0.0/16';
  const logLevel = opts.logLevel ?? process.env.E2E_LOG_LEVEL ?? 'info';
  const agentCommand = opts.agentCommand ?? process.env.KUBELING_E2E_AGENT?.split(' ').filter(Boolean) ?? [join(ROOT, 'bin/kubeling')];
  let runId: string;
  do runId = randomBytes(8).toString('hex').replace(/[^a-z0-9]/g, '').slice(0, 4);
  while (!RUN_ID.test(runId) || existsSync(names(runId).dir));
  const n = names(runId);
  mkdirSync(n.dir, { recursive: true });
  const hostNames = Array.from({ length: count }, (_, i) => `host-${i + 1}`);
  const state: RunState = { runId, owner: process.pid, ownerStart: procStat(process.pid)!.startTime, hosts: hostNames };
  writeFileSync(join(n.dir, 'run.json'), JSON.stringify(state));

  const procs = new Map<string, Proc>(); // 'server', 'dockerd:host-1', 'agent:host-1'
  const dockers: DockerRuntime[] = [];
  let admin: Client | undefined;
  const logFiles: string[] = [];

  const spawnLogged = (key: string, cmd: string, args: string[], log: string): Proc => {
    const fd = openSync(log, 'a');
    if (!logFiles.includes(log)) logFiles.push(log);
    const proc = spawn(cmd, args, { stdio: ['ignore', fd, fd], env: { ...process.env, KUBELING_FROM_SOURCE: process.env.KUBELING_FROM_SOURCE ?? '1' } });
    closeSync(fd);
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.once('error', () => undefined);
    if (proc.pid) writeFileSync(join(n.dir, `${key.replace(':', '.')}.pid`), String(proc.pid));
    const p = { proc, exited };
    procs.set(key, p);
    return p;
  };
  const stopProc = async (key: string, signal: NodeJS.Signals, graceMs = 20_000) => {
    const p = procs.get(key);
    procs.delete(key);
    if (!p || p.proc.exitCode !== null || p.proc.signalCode !== null) return;
    p.proc.kill(signal);
    const t = setTimeout(() => p.proc.kill('SIGKILL'), graceMs);
    await p.exited;
    clearTimeout(t);
  };
  const tail = (file: string, lines: number) => {
    try {
      return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  let torn = false;
  const teardown = async () => {
    if (torn) return;
    torn = true;
    if (process.env.E2E_KEEP) {
      console.log(`E2E_KEEP: run ${runId} left up in ${n.dir} (kubeconfig server/kubeconfig.yaml); the next run removes it`);
      return;
    }
    await admin?.close().catch(() => undefined);
    await teardownRun(runId);
  };

  try {
    // the bridge, on the first free 192.168.X.0/24
    const octet = pickSubnet();
    const subnet = `192.168.${octet}`;
    const bridgeIp = `${subnet}.1`;
    must('ip', ['link', 'add', n.bridge, 'type', 'bridge']);
    must('ip', ['addr', 'add', `${bridgeIp}/24`, 'dev', n.bridge]);
    must('ip', ['link', 'set', n.bridge, 'up']);
    must('iptables', ['-w', '-I', 'FORWARD', '1', '-i', n.bridge, '-o', n.bridge, '-m', 'comment', '--comment', n.comment, '-j', 'ACCEPT']);
    must('ip', ['route', 'replace', clusterCidr, 'dev', n.bridge]);

    const hosts: Host[] = hostNames.map((name, i) => {
      const dir = join(n.dir, name);
      mkdirSync(join(dir, 'agent'), { recursive: true });
      const dockerHost = `unix://${join(dir, 'docker.sock')}`;
      const docker = new DockerRuntime({ host: dockerHost });
      dockers.push(docker);
      return { name, index: i, ip: `${subnet}.${10 + i}`, netns: n.netns(name), veth: n.veth(i), dockerHost, docker, dir };
    });
    for (const h of hosts) {
      must('ip', ['netns', 'add', h.netns]);
      must('ip', ['link', 'add', h.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.netns]);
      must('ip', ['link', 'set', h.veth, 'master', n.bridge, 'up']);
      must('ip', ['-n', h.netns, 'addr', 'add', `${h.ip}/24`, 'dev', 'eth0']);
      must('ip', ['-n', h.netns, 'link', 'set', 'lo', 'up']);
      must('ip', ['-n', h.netns, 'link', 'set', 'eth0', 'up']);
      must('ip', ['-n', h.netns, 'route', 'add', 'default', 'via', bridgeIp]);
    }
    // the local registry, on the bridge address: started before the dockerds, which trust it (--insecure-registry)
    const registry = opts.registry ? `${bridgeIp}:${REGISTRY_PORT}` : undefined;
    if (registry) {
      if (run('sh', ['-c', 'command -v docker-registry']).code !== 0) throw new Error('the e2e registry needs docker-registry: apt-get install -y docker-registry');
      if (run('sh', ['-c', 'command -v docker']).code !== 0) throw new Error('pushing test images needs the docker CLI: apt-get install -y docker.io');
      const dir = join(n.dir, 'registry');
      mkdirSync(join(dir, 'data'), { recursive: true });
      const config = join(dir, 'config.yml');
      writeFileSync(config, `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: ${registry}\n`);
      const p = spawnLogged('registry', 'docker-registry', ['serve', config], join(dir, 'registry.log'));
      await waitFor('the local registry', async () => {
        if (p.proc.exitCode !== null) throw new Error(`docker-registry exited (${p.proc.exitCode}):\n${tail(join(dir, 'registry.log'), 20)}`);
        const r = await ufetch(`http://${registry}/v2/`, { signal: AbortSignal.timeout(1000) });
        return r.ok;
      }, 30_000);
    }
    const host = (name: string): Host => {
      const h = hosts.find((x) => x.name === name);
      if (!h) throw new Error(`no host ${name} (hosts: ${hostNames.join(', ')})`);
      return h;
    };

    const startDockerd = async (h: Host) => {
      const pidfile = join(h.dir, 'dockerd.pid');
      // after a kill, dockerd would take a dead (zombie, not yet reaped by init) dockerd or containerd for running
      for (const f of [pidfile, join(h.dir, 'exec', 'containerd', 'containerd.pid')]) {
        if (existsSync(f) && !alive(Number(readFileSync(f, 'utf8')))) rmSync(f);
      }
      const p = spawnLogged(`dockerd:${h.name}`, 'nsenter', [`--net=/var/run/netns/${h.netns}`, 'dockerd',
        '--data-root', join(h.dir, 'data'), '--exec-root', join(h.dir, 'exec'), '-H', h.dockerHost, '--pidfile', pidfile,
        '--bip', `172.${20 + h.index}.0.1/16`, '--iptables=true', '--cgroup-parent', n.cgroup(h.name),
        ...(registry ? ['--insecure-registry', registry] : [])], join(h.dir, 'dockerd.log'));
      await waitFor(`dockerd of ${h.name}`, async () => {
        if (p.proc.exitCode !== null) throw new Error(`dockerd of ${h.name} exited (${p.proc.exitCode}):\n${tail(join(h.dir, 'dockerd.log'), 20)}`);
        return !!(await h.docker.version().catch(() => undefined));
      }, 60_000);
    };

    // the server, in the root namespace on the bridge address
    const serverDir = join(n.dir, 'server');
    mkdirSync(serverDir, { recursive: true });
    const port = await freePort(bridgeIp);
    const serverUrl = `https://${bridgeIp}:${port}`;
    const kubeconfig = join(serverDir, 'kubeconfig.yaml');
    const serverHelp = must(join(ROOT, 'bin/kubeling'), ['server', '--help']);
    const serverArgs = ['server', '--data-dir', serverDir, '--bind-address', bridgeIp, '--https-listen-port', String(port),
      '--disable-agent', '--log-level', logLevel, '--cluster-cidr', clusterCidr,
      ...(serverHelp.includes('--service-cidr') ? ['--service-cidr', serviceCidr] : []), ...(opts.serverArgs ?? [])];
    const startServerProc = async () => {
      const p = spawnLogged('server', join(ROOT, 'bin/kubeling'), serverArgs, join(serverDir, 'server.log'));
      await waitFor('the kubeling server', async () => {
        if (p.proc.exitCode !== null) throw new Error(`kubeling server exited (${p.proc.exitCode}):\n${tail(join(serverDir, 'server.log'), 30)}`);
        if (!existsSync(kubeconfig)) return false;
        const r = await ufetch(`${serverUrl}/readyz`, { signal: AbortSignal.timeout(1000), dispatcher: insecure });
        return r.ok;
      }, 60_000);
    };

    // dockerds, test images and the server start side by side
    await Promise.all([
      startServerProc(),
      ...hosts.map(async (h) => {
        await startDockerd(h);
        await ensureTestImages(h.docker);
      }),
    ]);
    const caPem = readFileSync(join(serverDir, 'tls', 'ca.crt'), 'utf8');
    const token = readFileSync(join(serverDir, 'token'), 'utf8').trim();
    const adminToken = readAdminToken(kubeconfig);
    admin = new Client({ server: serverUrl, token: adminToken, caPem });
    const cluster = clusterId(caPem);
    for (const h of hosts) h.docker = new DockerRuntime({ host: h.dockerHost, cluster });
    dockers.push(...hosts.map((h) => h.docker));

    const nodeReady = async (name: string): Promise<Node | undefined> => {
      const node = (await admin!.getOrUndefined(nodeInfo, undefined, name)) as Node | undefined;
      return node?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? node : undefined;
    };
    const startAgent = async (name: string) => {
      const h = host(name);
      if (procs.get(`agent:${name}`)?.proc.exitCode === null) throw new Error(`the agent of ${name} already runs`);
      const p = spawnLogged(`agent:${name}`, 'nsenter', [`--net=/var/run/netns/${h.netns}`, ...agentCommand, 'agent',
        '--server', serverUrl, '--token', token, '--ca-file', join(serverDir, 'tls', 'ca.crt'), '--node-name', name,
        '--node-ip', h.ip, '--data-dir', join(h.dir, 'agent'), '--docker-host', h.dockerHost, '--log-level', logLevel,
        ...(opts.agentArgs ?? [])], join(h.dir, 'agent.log'));
      // a Node may still look Ready from before: wait for the heartbeat the new agent posts when it registers, and for
      // the podCIDR the server allocates (a Ready node may not have it yet): without its route, the root namespace's
      // cluster route puts the pods on the bridge, where nobody answers for them ("no route to host")
      const since = Math.floor(Date.now() / 1000) * 1000;
      const podCidr = await waitFor(`node ${name} Ready with a podCIDR`, async () => {
        if (p.proc.exitCode !== null) throw new Error(`the agent of ${name} exited (${p.proc.exitCode}):\n${tail(join(h.dir, 'agent.log'), 30)}`);
        const node = await nodeReady(name);
        const ready = node?.status?.conditions?.find((x) => x.type === 'Ready');
        return !!ready?.lastHeartbeatTime && Date.parse(ready.lastHeartbeatTime) >= since ? node?.spec?.podCIDR : undefined;
      }, 60_000);
      must('ip', ['route', 'replace', podCidr, 'via', h.ip, 'dev', n.bridge]);
    };
    const killAgent = async (name: string) => {
      host(name);
      await stopProc(`agent:${name}`, 'SIGKILL');
    };

    const c: E2eCluster = {
      runId,
      dir: n.dir,
      bridge: n.bridge,
      bridgeIp,
      hosts,
      host,
      serverUrl,
      kubeconfig,
      admin,
      clusterCidr,
      serviceCidr,
      images: TEST_IMAGES,
      registry,
      pushImage(name, ref) {
        if (!registry) throw new Error('pushImage needs startHosts({ registry: true })');
        must('docker', ['-H', host(name).dockerHost, 'push', '--quiet', ref], { timeoutMs: 120_000 });
      },
      kubectl: (...args) => kubectl(kubeconfig, args),
      kubectlInput: (input, ...args) => kubectl(kubeconfig, args, { input }),
      waitFor,
      nodeReady,
      inHost: (name, cmd, args) => run('nsenter', [`--net=/var/run/netns/${host(name).netns}`, cmd, ...args]),
      routes: (name) => must('ip', ['-n', host(name).netns, 'route']),
      async killHost(name) {
        const h = host(name);
        const ino = netnsInode(h.netns);
        // repeated until nothing is left: a process may spawn one while it dies (a shim, the agent's certificate helper)
        for (let round = 0; round < 20; round++) {
          const roots = [...(ino ? pidsInNetns(ino) : []), ...pidsInCgroup(n.cgroup(name))];
          if (!roots.length) break;
          await killAll(withDescendants(roots));
          await new Promise((r) => setTimeout(r, 100));
        }
        await Promise.all([`agent:${name}`, `dockerd:${name}`].map((k) => stopProc(k, 'SIGKILL')));
      },
      async startHost(name) {
        const h = host(name);
        if (procs.get(`dockerd:${name}`)?.proc.exitCode === null) throw new Error(`the dockerd of ${name} already runs`);
        await startDockerd(h);
        await startAgent(name);
      },
      linkDown: (name) => void must('ip', ['link', 'set', host(name).veth, 'down']),
      linkUp: (name) => void must('ip', ['link', 'set', host(name).veth, 'up']),
      killAgent,
      startAgent,
      async restartAgent(name) {
        await killAgent(name);
        await startAgent(name);
      },
      async restartDockerd(name, signal = 'SIGTERM') {
        const h = host(name);
        await stopProc(`dockerd:${name}`, signal, 60_000);
        await startDockerd(h);
      },
      killServer: () => stopProc('server', 'SIGKILL'),
      startServer: startServerProc,
      logs: (lines = 60) => logFiles.map((f) => `--- ${f}\n${tail(f, lines)}`).join('\n'),
      teardown,
    };
    if (opts.agents !== false) await Promise.all(hostNames.map((h) => startAgent(h)));
    return c;
  } catch (e) {
    const logs = logFiles.map((f) => `--- ${f}\n${tail(f, 30)}`).join('\n');
    await teardown();
    throw new Error(`${(e as Error).message}\n${logs}`);
  }
}

const insecure = new UndiciAgent({ connect: { rejectUnauthorized: false } });

function readAdminToken(kubeconfig: string): string {
  const m = /token:\s*(\S+)/.exec(readFileSync(kubeconfig, 'utf8'));
  if (!m) throw new Error(`no token in ${kubeconfig}`);
  return m[1]!.replace(/^["']|["']$/g, '');
}

/** pickSubnet returns X of the first 192.168.X.0/24 (X in 200…254) that no route of the root namespace covers. */
function pickSubnet(): number {
  const used = must('ip', ['-4', 'route', 'show', 'table', 'all']);
  for (let x = 200; x <= 254; x++) {
    const net = `192.168.${x}.`;
    if (!used.includes(net) && !used.includes('192.168.0.0/16')) return x;
  }
  throw new Error('no free 192.168.X.0/24 (X = 200…254) for the e2e bridge');
}

/** httpGet fetches `url` from the root namespace; resolves with status and body, rejects on error or timeout. */
export function httpGet(url: string, timeoutMs = 3000): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = request(url, { timeout: timeoutMs, agent: false }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (d: string) => (body += d));
      r.on('end', () => res({ status: r.statusCode ?? 0, body }));
      r.on('error', rej);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', rej);
    req.end();
  });
}

/**
 * teardownRun removes everything of run `runId`, from what is on disk and in the kernel (the process that made it
 * may be gone): its processes (pid files checked against their command line, everything in the run's network
 * namespaces and cgroups, and their descendants), mounts under its directory, namespaces, links, the FORWARD rule,
 * cgroups and the directory.
 */
export async function teardownRun(runId: string): Promise<void> {
  if (!RUN_ID.test(runId)) throw new Error(`not an e2e run id: ${runId}`);
  const n = names(runId);
  const netnsNames = existsSync('/var/run/netns') ? readdirSync('/var/run/netns').filter((x) => x.startsWith(`${PREFIX}-${runId}-`)) : [];
  const cgroups = cgroupNames().filter((x) => x.startsWith(`${PREFIX}-${runId}-`));
  const roots: number[] = [];
  if (existsSync(n.dir)) {
    for (const f of readdirSync(n.dir).filter((x) => x.endsWith('.pid'))) {
      const pid = Number(readFileSync(join(n.dir, f), 'utf8'));
      if (pid > 1 && cmdline(pid).includes(n.dir)) roots.push(pid);
    }
    for (const d of readdirSync(n.dir)) {
      const pidfile = join(n.dir, d, 'dockerd.pid'); // dockerd's own pid file
      if (existsSync(pidfile)) {
        const pid = Number(readFileSync(pidfile, 'utf8'));
        if (pid > 1 && cmdline(pid).includes(n.dir)) roots.push(pid);
      }
    }
  }
  for (const ns of netnsNames) {
    const ino = netnsInode(ns);
    if (ino) roots.push(...pidsInNetns(ino));
  }
  for (const cg of cgroups) roots.push(...pidsInCgroup(`/${cg}`));
  await killAll(withDescendants(roots));
  if (existsSync(n.dir)) unmountUnder(n.dir);
  for (const ns of netnsNames) run('ip', ['netns', 'del', ns]);
  for (const link of rootLinks().filter((l) => l.startsWith(n.bridge))) run('ip', ['link', 'del', link]);
  for (const rule of forwardRules().filter((r) => r.includes(`"${n.comment}"`) || r.includes(` ${n.comment} `))) {
    run('iptables', ['-w', ...rule.replace(/^-A /, '-D ').match(/"[^"]*"|\S+/g)!.map((a) => a.replace(/^"|"$/g, ''))]);
  }
  for (const cg of cgroups) removeCgroup(`/${cg}`);
  if (existsSync(n.dir)) {
    if (unmountedClean(n.dir)) rmSync(n.dir, { recursive: true, force: true });
    else throw new Error(`${n.dir} still has mounts; not removed`);
  }
}

function unmountedClean(dir: string): boolean {
  return !readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${dir}/`);
}

/**
 * teardownLeftovers finds the runs of earlier, failed or interrupted e2e runs (by the kle2e prefix of directories,
 * namespaces, links, FORWARD rules and cgroups) whose owning process is gone, and tears each down. A run whose
 * owner still runs (a concurrent `npm run e2e`) is left alone.
 */
export async function teardownLeftovers(): Promise<string[]> {
  const ids = new Set<string>();
  const add = (re: RegExp, s: string) => {
    const m = re.exec(s);
    if (m && RUN_ID.test(m[1]!)) ids.add(m[1]!);
  };
  if (existsSync(STATE_ROOT)) for (const d of readdirSync(STATE_ROOT)) add(/^kle2e-([a-z0-9]{4})$/, d);
  if (existsSync('/var/run/netns')) for (const ns of readdirSync('/var/run/netns')) add(/^kle2e-([a-z0-9]{4})-/, ns);
  for (const l of rootLinks()) add(/^kle2e([a-z0-9]{4})/, l);
  for (const r of forwardRules()) add(/kle2e:([a-z0-9]{4})/, r);
  for (const cg of cgroupNames()) add(/^kle2e-([a-z0-9]{4})-/, cg);
  const removed: string[] = [];
  for (const id of ids) {
    if (ownerAlive(id)) continue;
    await teardownRun(id);
    removed.push(id);
  }
  return removed;
}

function ownerAlive(runId: string): boolean {
  try {
    const s = JSON.parse(readFileSync(join(names(runId).dir, 'run.json'), 'utf8')) as RunState;
    return alive(s.owner, s.ownerStart);
  } catch {
    return false;
  }
}

function rootLinks(): string[] {
  return must('ip', ['-o', 'link', 'show'])
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
    .filter((x): x is string => !!x && x.startsWith(PREFIX));
}

function forwardRules(): string[] {
  return must('iptables', ['-w', '-S', 'FORWARD']).split('\n').filter((l) => l.startsWith('-A ') && l.includes(`${PREFIX}:`));
}

/** cgroupNames lists the top-level kle2e cgroups of every hierarchy. */
function cgroupNames(): string[] {
  const root = '/sys/fs/cgroup';
  if (!existsSync(root)) return [];
  const hier = existsSync(join(root, 'cgroup.procs')) ? [root] : readdirSync(root).map((d) => join(root, d));
  const out = new Set<string>();
  for (const h of hier) {
    try {
      if (!statSync(h).isDirectory()) continue;
      for (const d of readdirSync(h)) if (d.startsWith(`${PREFIX}-`)) out.add(d);
    } catch {
      /* not a hierarchy */
    }
  }
  return [...out];
}
