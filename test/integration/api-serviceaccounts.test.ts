// api-serviceaccounts: ServiceAccounts as upstream — default accounts and kube-root-ca.crt per namespace, TokenRequest and `kubectl create token`, TokenReview, 401 for expired/forged tokens, the projected kube-api-access volume in real pods, and an in-cluster @kubernetes/client-node client (loadFromCluster) that gets 403 until a RoleBinding grants view.
import { execFileSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, fetch as ufetch } from 'undici';
import { signJwt, tokenClaims, keyId, DEFAULT_ISSUER } from '../../pkg/apiserver/auth/serviceaccount.ts';
import { busyboxRootfs, DockerRuntime, type TarEntry } from '../../pkg/kubelet/runtime/index.ts';
import { startTwoNodeCluster, type TwoNodeCluster } from '../helpers/cluster.ts';
import { hostBusybox } from '../helpers/images.ts';
import { ROOT, kubectl, startServer, type RunningServer } from '../helpers/server.ts';
import { createPublicKey } from 'node:crypto';

const insecure = new Agent({ connect: { rejectUnauthorized: false } });
const ok = (r: { code: number; stdout: string; stderr: string }) => {
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
};
const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8'));

async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('service accounts and tokens (API)', () => {
  let srv: RunningServer;
  const k = (...args: string[]) => kubectl(srv.kubeconfig, args);
  const asToken = (token: string, ...args: string[]) => kubectl(srv.kubeconfig, ['--token', token, ...args]);

  beforeAll(async () => {
    srv = await startServer({ args: ['--disable-agent', '--disable-scheduler'] });
  }, 120_000);
  afterAll(async () => {
    await srv?.cleanup();
  });

  it('every namespace gets a default ServiceAccount and kube-root-ca.crt, made again when deleted', async () => {
    ok(k('create', 'namespace', 'team'));
    await until('default sa', () => k('get', 'sa', 'default', '-n', 'team').code === 0);
    const cm = JSON.parse(ok(await until('root ca', () => { const r = k('get', 'cm', 'kube-root-ca.crt', '-n', 'team', '-o', 'json'); return r.code === 0 && r; })));
    expect(cm.data['ca.crt']).toBe(srv.caPem);
    expect(cm.metadata.annotations['kubernetes.io/description']).toMatch(/^Contains a CA bundle/);
    ok(k('delete', 'sa', 'default', '-n', 'team'));
    ok(k('delete', 'cm', 'kube-root-ca.crt', '-n', 'team'));
    await until('default sa again', () => k('get', 'sa', 'default', '-n', 'team').code === 0);
    await until('root ca again', () => k('get', 'cm', 'kube-root-ca.crt', '-n', 'team').code === 0);
  });

  it('kubectl create token issues a bound JWT with upstream claims; TokenReview and whoami see the account', () => {
    ok(k('create', 'sa', 'robot'));
    const uid = ok(k('get', 'sa', 'robot', '-o', 'jsonpath={.metadata.uid}'));
    const token = ok(k('create', 'token', 'robot', '--duration', '15m'));
    const c = claimsOf(token);
    expect(c.iss).toBe(DEFAULT_ISSUER);
    expect(c.sub).toBe('system:serviceaccount:default:robot');
    expect(c.aud).toEqual([DEFAULT_ISSUER]);
    expect(c.exp - c.iat).toBe(900);
    expect(c.nbf).toBe(c.iat);
    expect(c['kubernetes.io']).toEqual({ namespace: 'default', serviceaccount: { name: 'robot', uid } });
    const review = JSON.parse(ok(kubectl(srv.kubeconfig, ['create', '-o', 'json', '-f', '-'], { input: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } }) })));
    expect(review.status.authenticated).toBe(true);
    expect(review.status.user).toMatchObject({ username: 'system:serviceaccount:default:robot', uid, groups: ['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated'] });
    expect(review.status.audiences).toEqual([DEFAULT_ISSUER]);
    const who = JSON.parse(ok(asToken(token, 'auth', 'whoami', '-o', 'json')));
    expect(who.status.userInfo.username).toBe('system:serviceaccount:default:robot');
    // a token for another audience does not authenticate to the API
    const vault = ok(k('create', 'token', 'robot', '--audience', 'vault'));
    expect(asToken(vault, 'auth', 'whoami').code).not.toBe(0);
  });

  it('refuses bad TokenRequests as upstream', () => {
    expect(k('create', 'token', 'nobody').stderr).toContain('serviceaccounts "nobody" not found');
    expect(k('create', 'token', 'robot', '--duration', '5m').stderr).toContain('may not specify a duration less than 10 minutes');
    expect(k('create', 'token', 'robot', '--bound-object-kind', 'Pod', '--bound-object-name', 'nope').stderr).toContain('pods "nope" not found');
  });

  it('answers 401 for an expired, a forged and an orphaned token', async () => {
    const key = createPrivateKey(readFileSync(join(srv.dataDir, 'tls', 'service.key'), 'utf8'));
    const uid = ok(k('get', 'sa', 'robot', '-o', 'jsonpath={.metadata.uid}'));
    const sign = (kk: KeyObject, nowS: number, exp = 600) =>
      signJwt(tokenClaims({ issuer: DEFAULT_ISSUER, namespace: 'default', sa: { name: 'robot', uid }, audiences: [DEFAULT_ISSUER], expirationSeconds: exp, nowS }), kk, keyId(createPublicKey(kk)));
    const call = (t: string) => ufetch(`${srv.url}/api/v1/namespaces/default/pods`, { dispatcher: insecure, headers: { authorization: `Bearer ${t}` } });
    // the server's own key, still in date: authenticated (403, no rights yet) — the same token shape expired: 401
    expect((await call(sign(key, Math.floor(Date.now() / 1000)))).status).toBe(403);
    const expired = await call(sign(key, Math.floor(Date.now() / 1000) - 3600));
    expect(expired.status).toBe(401);
    expect(await expired.json()).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });
    const forged = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    expect((await call(sign(forged, Math.floor(Date.now() / 1000)))).status).toBe(401);
    // an account deleted and made again has a new uid: the old account's token is refused
    ok(k('create', 'sa', 'temp'));
    const temp = ok(k('create', 'token', 'temp'));
    ok(k('delete', 'sa', 'temp'));
    ok(k('create', 'sa', 'temp'));
    expect((await call(temp)).status).toBe(401);
    const review = JSON.parse(ok(kubectl(srv.kubeconfig, ['create', '-o', 'json', '-f', '-'], { input: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: temp } }) })));
    expect(review.status.authenticated).toBeUndefined();
  });

  it('admission projects kube-api-access into pods and refuses a missing account', () => {
    ok(k('run', 'plain', '--image=kubeling/busybox:test', '--restart=Never'));
    const pod = JSON.parse(ok(k('get', 'pod', 'plain', '-o', 'json')));
    expect(pod.spec.serviceAccountName).toBe('default');
    const vol = pod.spec.volumes.find((v: { name: string }) => v.name.startsWith('kube-api-access-'));
    expect(vol.name).toMatch(/^kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect(vol.projected.sources[0]).toEqual({ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } });
    expect(pod.spec.containers[0].volumeMounts).toEqual([{ name: vol.name, readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }]);
    const off = kubectl(srv.kubeconfig, ['create', '-o', 'json', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'off' }, spec: { automountServiceAccountToken: false, containers: [{ name: 'c', image: 'kubeling/busybox:test' }] } }) });
    expect(JSON.parse(ok(off)).spec.volumes).toBeUndefined();
    const r = k('run', 'ghost', '--image=kubeling/busybox:test', '--restart=Never', '--overrides', '{"spec":{"serviceAccountName":"ghost"}}');
    expect(r.stderr).toContain('pods "ghost" is forbidden: error looking up service account default/ghost: serviceaccount "ghost" not found');
  });
});

/** NODE_IMAGE runs the host's node binary (with the libraries ldd names) over busybox; node_modules come by hostPath. */
const NODE_IMAGE = 'kubeling/node:test';

async function ensureNodeImage(docker: DockerRuntime): Promise<void> {
  if (await docker.imageExists(NODE_IMAGE)) return;
  const node = process.execPath;
  const libs = execFileSync('ldd', [node], { encoding: 'utf8' }).split('\n').map((l) => /(\/\S+) \(0x/.exec(l)?.[1]).filter((p): p is string => !!p);
  const dirs = new Set<string>(['usr', 'usr/local', 'usr/local/bin']);
  for (const l of libs) for (let d = dirname(l).slice(1); d && d !== '.'; d = dirname(d)) dirs.add(d);
  const extra: TarEntry[] = [
    ...[...dirs].sort().map((path): TarEntry => ({ type: 'dir', path })),
    { type: 'file', path: 'usr/local/bin/node', data: readFileSync(node), mode: 0o755 },
    ...libs.map((l): TarEntry => ({ type: 'file', path: l.slice(1), data: readFileSync(l), mode: 0o755 })),
  ];
  await docker.importImage(busyboxRootfs(hostBusybox(), extra.filter((e) => !(e.type === 'dir' && ['bin', 'etc', 'dev', 'proc', 'sys', 'tmp', 'root'].includes(e.path)))), NODE_IMAGE, ['CMD ["sh"]', 'LABEL kubeling.image=node']);
}

/** IN_CLUSTER is the client a pod runs: loadFromCluster, then list pods every second, printing the outcome. */
const IN_CLUSTER = `import * as k8s from '@kubernetes/client-node';
const kc = new k8s.KubeConfig();
kc.loadFromCluster();
const api = kc.makeApiClient(k8s.CoreV1Api);
console.log('server', kc.getCurrentCluster().server);
for (;;) {
  try {
    const r = await api.listNamespacedPod({ namespace: 'default' });
    console.log('LISTED', r.items.map((p) => p.metadata.name).sort().join(','));
  } catch (e) {
    console.log('ERROR', e.code ?? '', String(e.body ?? e.message).slice(0, 300).replace(/\\n/g, ' '));
  }
  await new Promise((r) => setTimeout(r, 1000));
}
`;

describe('service account tokens in real pods', () => {
  let c: TwoNodeCluster;
  beforeAll(async () => {
    c = await startTwoNodeCluster();
    await ensureNodeImage(new DockerRuntime());
  }, 240_000);
  afterAll(async () => {
    await c?.cleanup();
  });

  it('a pod sees token, ca.crt and namespace, and the kubernetes service address', async () => {
    ok(c.kubectl('run', 'reader', '--image=kubeling/busybox:test', '--restart=Never', '--', 'sleep', '3600'));
    await c.waitFor('reader running', async () => (await c.pods()).find((p) => p.metadata.name === 'reader' && p.status?.phase === 'Running'), 60_000);
    const dir = '/var/run/secrets/kubernetes.io/serviceaccount';
    const token = ok(c.kubectl('exec', 'reader', '--', 'cat', `${dir}/token`));
    const claims = claimsOf(token);
    const pod = JSON.parse(ok(c.kubectl('get', 'pod', 'reader', '-o', 'json')));
    expect(claims.sub).toBe('system:serviceaccount:default:default');
    expect(claims['kubernetes.io'].pod).toEqual({ name: 'reader', uid: pod.metadata.uid });
    expect(claims.exp - claims.iat).toBe(3607);
    expect(ok(c.kubectl('exec', 'reader', '--', 'cat', `${dir}/ca.crt`))).toBe(c.server.caPem.trim());
    expect(ok(c.kubectl('exec', 'reader', '--', 'cat', `${dir}/namespace`))).toBe('default');
    const env = ok(c.kubectl('exec', 'reader', '--', 'env'));
    const svc = JSON.parse(ok(c.kubectl('get', 'svc', 'kubernetes', '-o', 'json')));
    expect(env).toContain(`KUBERNETES_SERVICE_HOST=${svc.spec.clusterIP}`);
    expect(env).toContain('KUBERNETES_SERVICE_PORT=443');
    // the projected token authenticates as the pod's account, with the pod named in the user's extras
    const who = JSON.parse(ok(kubectl(c.kubeconfig, ['--token', token, 'auth', 'whoami', '-o', 'json'])));
    expect(who.status.userInfo.username).toBe('system:serviceaccount:default:default');
    expect(who.status.userInfo.extra['authentication.kubernetes.io/pod-name']).toEqual(['reader']);
    // deleting the pod ends its token (once past the authenticator's 10 s cache)
  }, 120_000);

  it('an in-cluster client-node client gets 403 until a RoleBinding grants view, then lists pods', async () => {
    ok(c.kubectl('create', 'sa', 'lister'));
    ok(c.kubectl('create', 'configmap', 'incluster', `--from-literal=main.mjs=${IN_CLUSTER}`));
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'incluster' },
      spec: {
        serviceAccountName: 'lister',
        restartPolicy: 'Never',
        containers: [{ name: 'client', image: NODE_IMAGE, command: ['/usr/local/bin/node', '/app/main/main.mjs'], volumeMounts: [{ name: 'mods', mountPath: '/app/node_modules', readOnly: true }, { name: 'main', mountPath: '/app/main' }] }],
        volumes: [{ name: 'mods', hostPath: { path: join(ROOT, 'node_modules'), type: 'Directory' } }, { name: 'main', configMap: { name: 'incluster' } }],
      },
    };
    ok(c.kubectlInput(JSON.stringify(pod), 'create', '-f', '-'));
    const logs = () => c.kubectl('logs', 'incluster').stdout;
    await c.waitFor('a 403 from the API', () => /ERROR 403 .*system:serviceaccount:default:lister.*cannot list resource \\?"pods\\?"/.test(logs()), 90_000).catch((e) => {
      throw new Error(`${(e as Error).message}\n${logs()}\n${c.kubectl('describe', 'pod', 'incluster').stdout}`);
    });
    expect(logs()).toMatch(/server https:\/\/10\.[0-9.]+:443/);
    ok(c.kubectl('create', 'rolebinding', 'lister-view', '--clusterrole=view', '--serviceaccount=default:lister'));
    await c.waitFor('pods listed', () => /LISTED .*incluster/.test(logs()), 30_000).catch((e) => {
      throw new Error(`${(e as Error).message}\n${logs()}`);
    });
  }, 240_000);
});
