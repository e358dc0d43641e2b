// up: `kubeling up` — a single-node cluster on this machine in one command: checks Docker, the port and the data
// dir, starts `kubeling server` in the background (or finds it running), deploys deploy/examples/simplek8s, shows
// progress while the image pulls, and ends by telling the truth: the page answers on 31515, or why not (exit 1).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { delimiter, dirname, join, resolve } from 'node:path';
import { Command } from 'commander';
import type { Event, Node, Pod } from 'kubernetes-types/core/v1.js';
import { ApiError } from '../pkg/api/errors.ts';
import { lookupKind } from '../pkg/api/resources.ts';
import type { KubeObject } from '../pkg/api/types.ts';
import type { Client } from '../pkg/client/index.ts';
import {
  clientFor,
  dataDirProblem,
  DEFAULT_DATA_DIR,
  dockerProblem,
  EXAMPLE_IMAGE,
  EXAMPLE_NODE_PORT,
  EXAMPLE_SELECTOR,
  loadExample,
  logFile,
  nodePortHost,
  podVerdict,
  rolloutPending,
  portProblem,
  progressLine,
  readLocalCluster,
  recordServer,
  runningServer,
  withImage,
  type LocalCluster,
  type Verdict,
} from '../pkg/cli/index.ts';
import { collect, flag } from './options.ts';

export interface UpFlags {
  dataDir: string;
  httpsListenPort: number;
  bindAddress: string;
  dockerHost?: string;
  nodeportAddresses?: string[] | string;
  example: boolean;
  exampleImage: string;
  wait: number;
}

export function upCommand(): Command {
  const cmd = new Command('up')
    .description('start a single-node cluster on this machine (server + its agent, in the background), deploy deploy/examples/simplek8s and check that its page answers on :31515; safe to run again')
    .usage('[options] [-- server flags…]')
    .addOption(flag('--data-dir <dir>', 'the server\'s data dir (state, certificates, tokens, server.log, server.pid)', DEFAULT_DATA_DIR))
    .addOption(flag('--https-listen-port <port>', 'HTTPS port of the API server', 6443).argParser(Number))
    .addOption(flag('--bind-address <ip>', 'address the API server listens on', '0.0.0.0'))
    .addOption(flag('--docker-host <url>', 'Docker Engine endpoint (default unix:///var/run/docker.sock)'))
    .addOption(flag('--nodeport-addresses <cidrs>', 'where NodePorts listen (passed to the server through the environment)').argParser(collect))
    .addOption(flag('--no-example', 'only start the cluster'))
    .addOption(flag('--example-image <image>', `image to run instead of ${EXAMPLE_IMAGE} (offline, or behind a mirror)`, EXAMPLE_IMAGE))
    .addOption(flag('--wait <seconds>', 'how long to wait for the example\'s pods', 300).argParser(Number))
    .argument('[server-flags...]', 'more flags for `kubeling server`, after --')
    .action(async (serverArgs: string[]) => {
      process.exitCode = await up(cmd.opts() as UpFlags, serverArgs);
    });
  return cmd;
}

const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const step = (s: string): void => console.log(bold(`==> ${s}`));
const fail = (s: string): number => {
  console.error(`kubeling up: ${s}`);
  return 1;
};

/** up runs the steps and answers the exit code. */
export async function up(o: UpFlags, serverArgs: string[] = []): Promise<number> {
  const dataDir = resolve(o.dataDir);
  const problem = checkDataDir(dataDir);
  if (problem) return fail(problem);

  const pid = runningServer(dataDir);
  if (pid !== undefined) {
    step(`kubeling server already running (pid ${pid}, data in ${dataDir})`);
  } else {
    if (!serverArgs.includes('--disable-agent')) {
      const docker = await checkDocker(o.dockerHost);
      if (docker) return fail(docker);
    }
    const port = await checkPort(o.bindAddress, o.httpsListenPort);
    if (port) return fail(port);
    step(`starting kubeling server (data in ${dataDir}, log in ${logFile(dataDir)})`);
    startServer(dataDir, o, serverArgs);
  }

  const cluster = await waitForApi(dataDir);
  if (typeof cluster === 'string') return fail(cluster);
  const client = clientFor(cluster, 'kubeling-up');
  try {
    const node = await waitForNode(client, dataDir);
    if (typeof node === 'string') return fail(node);
    const internalIp = node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
    if (o.example === false) {
      printNext(cluster, internalIp, o);
      return 0;
    }
    const dir = exampleDir();
    step(`deploying the example (${dir.replace(`${repoRoot()}/`, '')}${o.exampleImage !== EXAMPLE_IMAGE ? `, image ${o.exampleImage}` : ''})`);
    for (const obj of withImage(loadExample(dir), o.exampleImage)) console.log(`  ${await applyObject(client, obj)}`);

    step(`waiting for the example's pods (the first start pulls ${o.exampleImage})`);
    const verdicts = await waitForPods(client, o.wait * 1000);
    const stuck = verdicts.filter((v) => v.kind !== 'running');
    if (!verdicts.length || stuck.length) {
      console.error('');
      for (const v of stuck) console.error(`kubeling up: ${v.kind === 'stuck' ? v.line : `after ${o.wait}s, still: ${v.line}`}`);
      if (!verdicts.length) console.error(`kubeling up: no pod with ${EXAMPLE_SELECTOR} appeared in ${o.wait}s — see \`kubeling status\` and ${logFile(dataDir)}`);
      console.error(`kubeling up: the cluster is up, the example is not: \`kubeling kubectl describe pods -l ${EXAMPLE_SELECTOR}\` shows more`);
      return 1;
    }
    const nodePorts = typeof o.nodeportAddresses === 'string' ? collect(o.nodeportAddresses) : (o.nodeportAddresses ?? []);
    const host = nodePortHost(internalIp, nodePorts);
    const url = `http://${host}:${EXAMPLE_NODE_PORT}/`;
    step(`checking ${url}`);
    const page = await fetchPage(url, 30_000);
    if (!page.ok) return fail(`the example's pods run but ${url} does not answer: ${page.error} — see \`kubeling kubectl get endpoints client-node-port\``);
    console.log(`  HTTP ${page.status}, ${page.bytes} bytes`);
    printNext(cluster, internalIp, o, url, nodePorts.length === 0);
    return 0;
  } finally {
    await client.close();
  }
}

/** checkDataDir makes the data dir and proves it writable; answers the problem or undefined. */
function checkDataDir(dir: string): string | undefined {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const probe = join(dir, `.probe-${process.pid}`);
    writeFileSync(probe, '');
    rmSync(probe);
    return undefined;
  } catch (e) {
    return dataDirProblem((e as NodeJS.ErrnoException).code, dir);
  }
}

/** checkDocker pings the Engine API (GET /_ping); answers the problem or undefined. */
async function checkDocker(dockerHost: string | undefined): Promise<string | undefined> {
  const host = dockerHost ?? process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
  const target = host.startsWith('tcp://') ? (() => { const u = new URL(host.replace(/^tcp:/, 'http:')); return { host: u.hostname, port: Number(u.port || 2375) }; })() : { socketPath: host.replace(/^unix:\/\//, '') || '/var/run/docker.sock' };
  const code = await new Promise<string | undefined>((res) => {
    const req = request({ ...target, path: '/_ping', method: 'GET', timeout: 5000 }, (r) => {
      r.resume();
      res(r.statusCode === 200 ? undefined : `HTTP ${r.statusCode}`);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => res(e.code ?? e.message));
    req.end();
  });
  if (code === undefined) return undefined;
  const installed = (process.env.PATH ?? '/usr/bin:/usr/sbin').split(delimiter).concat('/usr/sbin', '/usr/bin').some((d) => existsSync(join(d, 'dockerd')));
  return dockerProblem(code, host, installed);
}

/** checkPort tries to listen where the API server will; answers the problem or undefined. */
function checkPort(address: string, port: number): Promise<string | undefined> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', (e: NodeJS.ErrnoException) => res(portProblem(e.code, address, port)));
    s.listen(port, address, () => s.close(() => res(undefined)));
  });
}

/** startServer spawns `kubeling server` detached, its output appended to DATA_DIR/server.log, and records its pid. */
function startServer(dataDir: string, o: UpFlags, serverArgs: string[]): void {
  logStart = existsSync(logFile(dataDir)) ? statSync(logFile(dataDir)).size : 0;
  const log = openSync(logFile(dataDir), 'a');
  const args = [...process.execArgv, process.argv[1]!, 'server', '--data-dir', dataDir, '--https-listen-port', String(o.httpsListenPort), '--bind-address', o.bindAddress, ...serverArgs];
  const env = { ...process.env };
  if (o.dockerHost) env.KUBELING_DOCKER_HOST = o.dockerHost;
  if (o.nodeportAddresses?.length) env.KUBELING_NODEPORT_ADDRESSES = ([] as string[]).concat(o.nodeportAddresses).join(',');
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log], env });
  closeSync(log);
  recordServer(dataDir, child.pid!);
  child.unref();
}

/** logStart is the size of server.log when this run began: a failure shows only what this run's server wrote. */
let logStart = 0;

function serverDied(dataDir: string): string | undefined {
  if (runningServer(dataDir) !== undefined) return undefined;
  let tail = '';
  try {
    tail = readFileSync(logFile(dataDir)).subarray(logStart).toString('utf8').trimEnd().split('\n').slice(-15).join('\n');
  } catch {
    /* no log */
  }
  return `kubeling server exited; the last lines of ${logFile(dataDir)}:\n${tail}`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** waitForApi waits for the server's kubeconfig and a first answer from the API. */
async function waitForApi(dataDir: string, timeoutMs = 90_000): Promise<LocalCluster | string> {
  process.stdout.write('  waiting for the API server ');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const died = serverDied(dataDir);
    if (died) return (console.log(''), died);
    if (existsSync(join(dataDir, 'kubeconfig.yaml'))) {
      const cluster = readLocalCluster(dataDir);
      const client = clientFor(cluster, 'kubeling-up');
      try {
        await client.list(lookupKind('v1', 'Namespace')!);
        console.log('ready');
        return cluster;
      } catch {
        /* not yet */
      } finally {
        await client.close();
      }
    }
    if (Date.now() > deadline) return (console.log(''), `the API server did not answer in ${timeoutMs / 1000}s — see ${logFile(dataDir)}`);
    process.stdout.write('.');
    await sleep(1000);
  }
}

/** waitForNode waits for a Ready node (this machine's embedded agent). */
async function waitForNode(client: Client, dataDir: string, timeoutMs = 120_000): Promise<Node | string> {
  process.stdout.write('  waiting for the node to be Ready ');
  const deadline = Date.now() + timeoutMs;
  let last: Node | undefined;
  for (;;) {
    const died = serverDied(dataDir);
    if (died) return (console.log(''), died);
    const nodes = (await client.list(lookupKind('v1', 'Node')!).catch(() => ({ items: [] }))).items as Node[];
    last = nodes[0];
    const ready = nodes.find((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    if (ready) {
      console.log(`${ready.metadata?.name} Ready`);
      return ready;
    }
    if (Date.now() > deadline) {
      console.log('');
      const cond = last?.status?.conditions?.find((c) => c.type === 'Ready');
      return last ? `node ${last.metadata?.name} is not Ready after ${timeoutMs / 1000}s: ${cond?.message ?? cond?.reason ?? 'no Ready condition'} — see ${logFile(dataDir)}` : `no node registered in ${timeoutMs / 1000}s — see ${logFile(dataDir)}`;
    }
    process.stdout.write('.');
    await sleep(1000);
  }
}

/** applyObject creates the object, or patches it to the manifest when it exists (so running `up` again is safe). */
async function applyObject(client: Client, obj: KubeObject): Promise<string> {
  const info = lookupKind(obj.apiVersion ?? '', obj.kind ?? '');
  if (!info) throw new Error(`unknown kind ${obj.apiVersion}/${obj.kind}`);
  const ns = info.namespaced ? (obj.metadata.namespace ?? 'default') : undefined;
  const what = `${info.resource}/${obj.metadata.name}`;
  try {
    await client.create(info, ns, obj, { fieldManager: 'kubeling-up' });
    return `${what} created`;
  } catch (e) {
    if (!(e instanceof ApiError) || e.code !== 409) throw e;
  }
  await client.patch(info, ns, obj.metadata.name!, obj, 'strategic');
  return `${what} unchanged or updated`;
}

/** waitForPods polls the example's pods and events, prints progress, and returns once all run or one is stuck (or time is up). */
async function waitForPods(client: Client, timeoutMs: number): Promise<Verdict[]> {
  const started = Date.now();
  let shown = '';
  let shownAt = 0;
  let verdicts: Verdict[] = [];
  for (;;) {
    const pods = ((await client.list(lookupKind('v1', 'Pod')!, 'default', { labelSelector: EXAMPLE_SELECTOR }).catch(() => ({ items: [] }))).items as Pod[]).filter((p) => !p.metadata?.deletionTimestamp);
    const events = (await client.list(lookupKind('v1', 'Event')!, 'default').catch(() => ({ items: [] }))).items as Event[];
    verdicts = pods.map((p) => podVerdict(p, events));
    const deployments = (await client.list(lookupKind('apps/v1', 'Deployment')!, 'default').catch(() => ({ items: [] }))).items;
    const rollouts = deployments.map((d) => rolloutPending(d as Parameters<typeof rolloutPending>[0])).filter((x): x is string => !!x);
    const line = [verdicts.length ? progressLine(verdicts) : 'waiting for the pods to be created', ...rollouts].join('; ');
    const secs = Math.round((Date.now() - started) / 1000);
    if (line !== shown || Date.now() - shownAt >= 15_000) {
      console.log(`  [${String(secs).padStart(3)}s] ${line}`);
      shown = line;
      shownAt = Date.now();
    }
    const done = verdicts.length > 0 && verdicts.every((v) => v.kind === 'running') && rollouts.length === 0;
    if (done || verdicts.some((v) => v.kind === 'stuck') || Date.now() - started > timeoutMs) return verdicts;
    await sleep(1000);
  }
}

/** fetchPage GETs the URL until it answers 2xx/3xx or time is up. */
async function fetchPage(url: string, timeoutMs: number): Promise<{ ok: true; status: number; bytes: number } | { ok: false; error: string }> {
  const deadline = Date.now() + timeoutMs;
  let error = '';
  for (;;) {
    const r = await new Promise<{ status: number; bytes: number } | { error: string }>((res) => {
      const req = request(url, { timeout: 5000 }, (resp) => {
        let bytes = 0;
        resp.on('data', (d: Buffer) => (bytes += d.length));
        resp.on('end', () => res({ status: resp.statusCode ?? 0, bytes }));
        resp.on('error', (e) => res({ error: e.message }));
      });
      req.on('timeout', () => req.destroy(new Error('no answer in 5s')));
      req.on('error', (e: NodeJS.ErrnoException) => res({ error: e.code ?? e.message }));
      req.end();
    });
    if ('status' in r && r.status < 400) return { ok: true, ...r };
    error = 'status' in r ? `HTTP ${r.status}` : r.error;
    if (Date.now() > deadline) return { ok: false, error };
    await sleep(1000);
  }
}

function printNext(c: LocalCluster, internalIp: string | undefined, o: UpFlags, url?: string, localhostToo = false): void {
  let token = '';
  try {
    token = readFileSync(join(c.dataDir, 'token'), 'utf8').trim();
  } catch {
    /* no token */
  }
  const dd = c.dataDir === DEFAULT_DATA_DIR ? '' : ` --data-dir ${c.dataDir}`;
  console.log(`
kubeling is up${url ? ' and the example answers' : ''}.
${url ? `  browse:   ${url}${localhostToo ? `   (or http://localhost:${EXAMPLE_NODE_PORT}/ on this machine)` : ''}\n` : ''}  kubectl:  export KUBECONFIG=${c.kubeconfigPath}      (or: kubeling kubectl${dd} get pods)
  another machine's kubectl:  kubeling kubeconfig${dd} > kubeconfig.yaml
  status:   kubeling status${dd}
  join a node:  sudo deploy/install.sh agent --server https://${internalIp ?? '<this host>'}:${o.httpsListenPort} --token ${token || '<DATA_DIR/token>'}
  stop:     kubeling down${dd}   (--wipe also deletes the data dir)`);
}

/** repoRoot is the checkout this CLI runs from (cmd/ or dist/cmd/ sits under it). */
export function repoRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'deploy'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the kubeling checkout (deploy/examples) above ' + import.meta.dirname);
    dir = up;
  }
  return dir;
}

function exampleDir(): string {
  return join(repoRoot(), 'deploy', 'examples', 'simplek8s');
}
