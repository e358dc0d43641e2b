// kubeconfig.test: the YAML has what kubectl reads, is written 0600, and the real kubectl trusts it over TLS.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { kubeconfigYaml, writeKubeconfig } from './kubeconfig.ts';
import { ensureServerPki } from './server.ts';
import { startHttps } from './testserver.ts';

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('kubeconfigYaml', () => {
  it('renders the fields kubectl reads', () => {
    const cfg = parse(kubeconfigYaml({ server: 'https://127.0.0.1:6443', caCertPem: CA, token: 'tok' }));
    expect(cfg).toEqual({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'kubeling', cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority-data': Buffer.from(CA).toString('base64') } }],
      users: [{ name: 'kubeling-admin', user: { token: 'tok' } }],
      contexts: [{ name: 'kubeling', context: { cluster: 'kubeling', user: 'kubeling-admin' } }],
      'current-context': 'kubeling',
      preferences: {},
    });
    expect(Buffer.from(cfg.clusters[0].cluster['certificate-authority-data'], 'base64').toString()).toBe(CA);
  });

  it('honours cluster, user and namespace', () => {
    const cfg = parse(kubeconfigYaml({ server: 'https://h:1', caCertPem: CA, token: 't', cluster: 'c1', user: 'u1', namespace: 'ns1' }));
    expect(cfg.contexts).toEqual([{ name: 'c1', context: { cluster: 'c1', user: 'u1', namespace: 'ns1' } }]);
    expect(cfg['current-context']).toBe('c1');
    expect(cfg.users[0].name).toBe('u1');
  });
});

describe('writeKubeconfig', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubeling-kc-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates parent dirs and writes mode 0600', async () => {
    const path = join(dir, 'a', 'b', 'config');
    await writeKubeconfig(path, 'x: 1\n');
    expect(await readFile(path, 'utf8')).toBe('x: 1\n');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  const kubectl = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));
  it.skipIf(!kubectl)('lets the real kubectl talk to a TLS server with the pinned CA and bearer token', async () => {
    const pki = await ensureServerPki(join(dir, 'data'), { sans: { dns: [], ips: [] } });
    const seen: string[] = [];
    const srv = await startHttps(pki, (req, res) => {
      const path = new URL(req.url ?? '/', 'https://x').pathname; // kubectl adds ?timeout=32s
      seen.push(`${req.method} ${path} ${req.headers.authorization}`);
      if (path !== '/version') return void res.writeHead(404).end();
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({
        major: '1', minor: '31', gitVersion: 'v1.31.0-kubeling', gitCommit: 'test', gitTreeState: 'clean',
        buildDate: '2024-01-01T00:00:00Z', goVersion: 'go1.22', compiler: 'gc', platform: 'linux/amd64',
      }));
    });
    try {
      const path = join(dir, 'kube', 'config');
      await writeKubeconfig(path, kubeconfigYaml({ server: srv.url, caCertPem: pki.caCertPem, token: 'admintok' }));
      const env = { PATH: process.env.PATH ?? '', HOME: dir };
      const { stdout } = await promisify(execFile)(kubectl!, ['--kubeconfig', path, 'version', '-o', 'json'], { env, timeout: 30_000 });
      expect(JSON.parse(stdout).serverVersion.gitVersion).toBe('v1.31.0-kubeling');
      expect(seen).toContain('GET /version Bearer admintok');
      // via the "localhost" name too
      await writeKubeconfig(path, kubeconfigYaml({ server: `https://localhost:${srv.port}`, caCertPem: pki.caCertPem, token: 'admintok' }));
      const viaName = await promisify(execFile)(kubectl!, ['--kubeconfig', path, 'version', '-o', 'json'], { env, timeout: 30_000 });
      expect(JSON.parse(viaName.stdout).serverVersion.gitVersion).toBe('v1.31.0-kubeling');
    } finally {
      await srv.close();
    }
  });
});
