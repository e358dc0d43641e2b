// cli-quickstart: runs the README's first Quick start command exactly as written on a clean state (data dir in a temp
// dir through KUBELING_DATA_DIR, the example image replaced by a local stand-in serving on port 3000, since no
// registry is reachable here), fetches the page through NodePort 31515, runs it again (idempotent), makes it tell the
// truth about an image that cannot be pulled, then `kubeling status`, `token create`, `kubeconfig` and `down --wipe`.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerRuntime, busyboxRootfs } from '../../pkg/kubelet/runtime/index.ts';
import { clusterId } from '../../pkg/kubelet/index.ts';
import { hostBusybox } from '../helpers/images.ts';
import { freePort, ROOT } from '../helpers/server.ts';
import { claimSlot, type Slot } from '../helpers/slots.ts';
import { teardownTestCluster } from '../helpers/teardown.ts';

const STAND_IN = 'kubeling/multi-client:test';
const STAND_IN_BODY = 'multi-client stand-in\n';

/** readmeFirstCommand is the first command of the README's Quick start block, as a person would paste it. */
export function readmeFirstCommand(readme: string): string {
  const section = readme.split(/^## Quick start$/m)[1]?.split(/^## /m)[0] ?? '';
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  const line = block.split('\n').find((l) => l.trim() && !l.trim().startsWith('#')) ?? '';
  return line.replace(/\s+#.*$/, '').trim();
}

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = request(url, { timeout: 5000 }, (r) => {
      let body = '';
      r.on('data', (d) => (body += d));
      r.on('end', () => res({ status: r.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', rej);
    req.end();
  });
}

describe('README quick start on a clean state', () => {
  let slot: Slot;
  let dataDir: string;
  let shim: string;
  let env: NodeJS.ProcessEnv;
  let nodeIp: string;

  const run = (cmd: string, extra: NodeJS.ProcessEnv = {}, timeout = 300_000) => spawnSync('bash', ['-c', cmd], { cwd: ROOT, env: { ...env, ...extra }, encoding: 'utf8', timeout });

  beforeAll(async () => {
    // up.sh runs `npm ci` when package-lock.json is newer than node_modules: in the middle of a suite that would pull
    // node_modules from under the other test files, so this test insists on the installed state scripts/test.sh makes
    const lock = statSync(join(ROOT, 'package-lock.json')).mtimeMs;
    const installed = existsSync(join(ROOT, 'node_modules/.package-lock.json')) ? statSync(join(ROOT, 'node_modules/.package-lock.json')).mtimeMs : 0;
    if (installed < lock) throw new Error('node_modules is older than package-lock.json: run npm ci before this test (scripts/up.sh would run it)');
    const rt = new DockerRuntime();
    if (!(await rt.imageExists(STAND_IN))) {
      const www = busyboxRootfs(hostBusybox(), [
        { type: 'dir', path: 'www' },
        { type: 'file', path: 'www/index.html', data: Buffer.from(STAND_IN_BODY) },
      ]);
      await rt.importImage(www, STAND_IN, ['CMD ["httpd", "-f", "-p", "3000", "-h", "/www"]', 'EXPOSE 3000']);
    }
    slot = claimSlot();
    nodeIp = slot.nodeIp(1);
    dataDir = mkdtempSync(join(tmpdir(), 'kubeling-quickstart-'));
    rmSync(dataDir, { recursive: true }); // a clean state: the command makes it
    // As root, `sudo CMD` only runs CMD, except that it resets the environment; this shim runs CMD keeping it, so the
    // test's data dir and addresses reach the command.
    shim = mkdtempSync(join(tmpdir(), 'kubeling-sudo-'));
    writeFileSync(join(shim, 'sudo'), '#!/bin/sh\nexec "$@"\n');
    chmodSync(join(shim, 'sudo'), 0o755);
    env = {
      ...process.env,
      PATH: `${shim}:${process.env.PATH}`,
      KUBELING_DATA_DIR: dataDir,
      KUBELING_HTTPS_LISTEN_PORT: String(await freePort()),
      KUBELING_BIND_ADDRESS: '127.0.0.1',
      KUBELING_NODE_IP: nodeIp,
      KUBELING_NODEPORT_ADDRESSES: `${nodeIp}/32`,
      KUBELING_CLUSTER_CIDR: slot.clusterCidr,
      KUBELING_SERVICE_CIDR: slot.serviceCidr,
      KUBELING_EXAMPLE_IMAGE: STAND_IN,
      KUBELING_LOG_LEVEL: 'warn',
    };
  }, 60_000);

  afterAll(async () => {
    let ca: string | undefined;
    try {
      ca = readFileSync(join(dataDir, 'tls', 'ca.crt'), 'utf8');
    } catch {
      /* wiped */
    }
    spawnSync(join(ROOT, 'bin/kubeling'), ['down', '--wipe'], { env, encoding: 'utf8', timeout: 60_000 });
    if (ca) await teardownTestCluster(ca).catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(shim, { recursive: true, force: true });
    slot?.release();
  }, 90_000);

  it('brings up the cluster, deploys simplek8s and the page answers through NodePort 31515', async () => {
    const cmd = readmeFirstCommand(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    expect(cmd).toBe('sudo ./scripts/up.sh');
    const r = run(cmd);
    const out = `${r.stdout}\n${r.stderr}`;
    expect(r.status, out).toBe(0);
    expect(out).toContain(`http://${nodeIp}:31515/`);
    expect(out).toContain('the example answers');
    expect(out).toMatch(/client-pod/);
    const page = await httpGet(`http://${nodeIp}:31515/`);
    expect(page.status).toBe(200);
    expect(page.body).toBe(STAND_IN_BODY);
    // the tutorial's objects, as written: no nodeName or hostPort added by hand, the scheduler placed them
    const pods = spawnSync(join(ROOT, 'bin/kubeling'), ['kubectl', 'get', 'pods', '-l', 'component=web', '-o', 'jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName}{"\\n"}{end}'], { env, encoding: 'utf8' });
    expect(pods.status, pods.stderr).toBe(0);
    expect(pods.stdout.trim().split('\n')).toHaveLength(2);
  }, 360_000);

  it('is safe to run again', () => {
    const r = run(readmeFirstCommand(readFileSync(join(ROOT, 'README.md'), 'utf8')));
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/already running/);
    expect(r.stdout).toContain('the example answers');
  }, 300_000);

  it('status, token create, kubeconfig', () => {
    const kl = (...args: string[]) => spawnSync(join(ROOT, 'bin/kubeling'), args, { env, encoding: 'utf8', timeout: 60_000 });
    const st = kl('status');
    expect(st.status, st.stderr).toBe(0);
    expect(st.stdout).toMatch(/nodes:\s+1\/1 Ready/);
    expect(st.stdout).toMatch(/livez ok, readyz ok/);
    const tok = kl('token', 'create');
    expect(tok.stdout.trim()).toBe(readFileSync(join(dataDir, 'token'), 'utf8').trim());
    const join_ = kl('token', 'create', '--print-join-command');
    expect(join_.stdout).toMatch(/^sudo deploy\/install\.sh agent --server https:\/\/\S+ --token K10/);
    const kc = kl('kubeconfig', '--address', '10.9.8.7');
    expect(kc.status, kc.stderr).toBe(0);
    expect(kc.stdout).toMatch(/server: https:\/\/10\.9\.8\.7:\d+/);
  }, 120_000);

  it('tells the truth when the image cannot be pulled: the reason from the events and a non-zero exit', () => {
    const r = run('bin/kubeling up --wait 120', { KUBELING_EXAMPLE_IMAGE: 'registry.invalid/multi-client:1' }, 200_000);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(1);
    expect(r.stderr).toMatch(/image registry\.invalid\/multi-client:1 could not be pulled: no route to registry\.invalid/);
    expect(r.stderr).toMatch(/set KUBELING_EXAMPLE_IMAGE or a registry mirror/);
    expect(r.stdout).toMatch(/\[\s*\d+s\] pod client-/); // progress lines while it waits
  }, 240_000);

  it('down --wipe removes the containers and the data dir', async () => {
    const ca = readFileSync(join(dataDir, 'tls', 'ca.crt'), 'utf8');
    const r = spawnSync(join(ROOT, 'bin/kubeling'), ['down', '--wipe'], { env, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/kubeling server stopped/);
    expect(existsSync(dataDir)).toBe(false);
    const left = await new DockerRuntime({ cluster: clusterId(ca) }).listContainers();
    expect(left).toHaveLength(0);
  }, 90_000);
});
