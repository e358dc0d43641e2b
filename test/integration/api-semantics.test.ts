// api-semantics: the API machinery's object semantics (metadata, generation, subresources, deletion, dry-run, validation, paging, allocation) via raw HTTPS and kubectl.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startServer, kubectl, type RunningServer } from '../helpers/server.ts';
import { apiClient, type ApiClient } from '../helpers/api.ts';

let srv: RunningServer;
let api: ApiClient;
let dir: string;
const k = (args: string[]) => kubectl(srv.kubeconfig, args);
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const DEPLOYS = '/apis/apps/v1/namespaces/default/deployments';
const CMS = '/api/v1/namespaces/default/configmaps';
const PODS = '/api/v1/namespaces/default/pods';
const SVCS = '/api/v1/namespaces/default/services';
const TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json';
const merge = { 'content-type': 'application/merge-patch+json' };

const deployment = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, labels: { app: name } },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'nginx:1.25' }] } },
    ...extra,
  },
});

beforeAll(async () => {
  // the API alone: only the namespace controller runs, so stored workloads stay exactly as the test wrote them
  srv = await startServer({ args: ['--disable-agent', '--disable-scheduler', '--controllers', 'namespace,serviceaccount'] });
  api = apiClient(srv);
  dir = mkdtempSync(join(tmpdir(), 'kubeling-sem-'));
});

afterAll(async () => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  await api?.close();
  await srv?.cleanup();
});

/** snapshot is every object of a few kinds plus the store revision, to prove that a request changed nothing. */
/**
 * snapshot is the objects of a few kinds, each with its own resourceVersion. The lists' resourceVersion is left out:
 * it is the store's newest revision, which any write moves (the controllers' leader lease is renewed every 2 s).
 */
async function snapshot(): Promise<string> {
  const parts = await Promise.all([CMS, DEPLOYS, PODS, SVCS, '/api/v1/namespaces'].map((p) => api.req('GET', p)));
  return JSON.stringify(parts.map((p) => p.body.items));
}

describe('metadata', () => {
  it('generateName gives a unique suffixed name', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const r = await api.req('POST', CMS, { metadata: { generateName: 'gen-' } });
      expect(r.status, r.text).toBe(201);
      expect(r.body.metadata.name).toMatch(/^gen-[a-z0-9]{5}$/);
      expect(r.body.metadata.generateName).toBe('gen-');
      seen.add(r.body.metadata.name);
    }
    expect(seen.size).toBe(5);
    const bad = await api.req('POST', CMS, { metadata: {} });
    expect(bad.status).toBe(422);
    expect(bad.body.details.causes[0]).toMatchObject({ reason: 'FieldValueRequired', field: 'metadata.name' });
  });

  it('keeps uid and creationTimestamp: a changed uid is Invalid, a changed creationTimestamp is ignored', async () => {
    const c = (await api.req('POST', CMS, { metadata: { name: 'imm' }, data: { a: '1' } })).body;
    const uid = c.metadata.uid;
    const ts = c.metadata.creationTimestamp;
    let r = await api.req('PUT', `${CMS}/imm`, { ...c, metadata: { ...c.metadata, creationTimestamp: '2001-01-01T00:00:00Z' }, data: { a: '2' } });
    expect(r.status, r.text).toBe(200);
    expect(r.body.metadata.creationTimestamp).toBe(ts);
    expect(r.body.metadata.uid).toBe(uid);
    r = await api.req('PUT', `${CMS}/imm`, { ...r.body, metadata: { ...r.body.metadata, uid: '00000000-0000-0000-0000-000000000000' } });
    expect(r.status, r.text).toBe(422);
    expect(r.body.details.causes[0]).toMatchObject({ field: 'metadata.uid', message: 'Invalid value: "00000000-0000-0000-0000-000000000000": field is immutable' });
    r = await api.req('PATCH', `${CMS}/imm`, { metadata: { uid: 'x' } }, merge);
    expect(r.status).toBe(422);
    expect((await api.req('GET', `${CMS}/imm`)).body.metadata.uid).toBe(uid);
  });

  it('bumps generation on spec changes only (not labels, not status)', async () => {
    let d = (await api.req('POST', DEPLOYS, deployment('gen'))).body;
    expect(d.metadata.generation).toBe(1);
    d = (await api.req('PATCH', `${DEPLOYS}/gen`, { metadata: { labels: { extra: 'x' } } }, merge)).body;
    expect(d.metadata.generation).toBe(1);
    d = (await api.req('PATCH', `${DEPLOYS}/gen`, { metadata: { annotations: { a: 'b' } } }, merge)).body;
    expect(d.metadata.generation).toBe(1);
    d = (await api.req('PATCH', `${DEPLOYS}/gen/status`, { status: { replicas: 1, observedGeneration: 1 } }, merge)).body;
    expect(d.metadata.generation).toBe(1);
    expect(d.status.replicas).toBe(1);
    d = (await api.req('PATCH', `${DEPLOYS}/gen`, { spec: { replicas: 3 } }, merge)).body;
    expect(d.metadata.generation).toBe(2);
    d = (await api.req('PATCH', `${DEPLOYS}/gen`, { spec: { replicas: 3 } }, merge)).body;
    expect(d.metadata.generation).toBe(2);
    // a client-supplied generation is ignored
    d = (await api.req('PATCH', `${DEPLOYS}/gen`, { metadata: { generation: 40 } }, merge)).body;
    expect(d.metadata.generation).toBe(2);
  });

  it('status subresource ignores spec; the main resource ignores status', async () => {
    const cur = (await api.req('GET', `${DEPLOYS}/gen`)).body;
    let r = await api.req('PUT', `${DEPLOYS}/gen/status`, { ...cur, spec: { ...cur.spec, replicas: 9 }, status: { replicas: 2, readyReplicas: 1 } });
    expect(r.status, r.text).toBe(200);
    expect(r.body.spec.replicas).toBe(3);
    expect(r.body.status).toMatchObject({ replicas: 2, readyReplicas: 1 });
    r = await api.req('PUT', `${DEPLOYS}/gen`, { ...r.body, spec: { ...r.body.spec, replicas: 4 }, status: { replicas: 7 } });
    expect(r.status, r.text).toBe(200);
    expect(r.body.spec.replicas).toBe(4);
    expect(r.body.status.replicas).toBe(2);
    r = await api.req('PATCH', `${DEPLOYS}/gen`, { status: { replicas: 8 } }, merge);
    expect(r.body.status.replicas).toBe(2);
    const got = (await api.req('GET', `${DEPLOYS}/gen/status`)).body;
    expect(got.kind).toBe('Deployment');
    expect(got.status.replicas).toBe(2);
  });

  it('answers a stale resourceVersion PUT with 409 Conflict and upstream message', async () => {
    const cur = (await api.req('GET', `${DEPLOYS}/gen`)).body;
    expect((await api.req('PUT', `${DEPLOYS}/gen`, { ...cur, spec: { ...cur.spec, replicas: 5 } })).status).toBe(200);
    const r = await api.req('PUT', `${DEPLOYS}/gen`, { ...cur, spec: { ...cur.spec, replicas: 6 } });
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({
      kind: 'Status',
      reason: 'Conflict',
      code: 409,
      message: 'Operation cannot be fulfilled on deployments.apps "gen": the object has been modified; please apply your changes to the latest version and try again',
      details: { name: 'gen', group: 'apps', kind: 'deployments' },
    });
    const f = file('stale.json', JSON.stringify({ ...cur, spec: { ...cur.spec, replicas: 7 } }));
    const kr = k(['replace', '-f', f]);
    expect(kr.code).toBe(1);
    expect(kr.stderr).toContain('Error from server (Conflict)');
    expect(kr.stderr).toContain('Operation cannot be fulfilled on deployments.apps "gen": the object has been modified');
    expect((await api.req('GET', `${DEPLOYS}/gen`)).body.spec.replicas).toBe(5);
  });
});

describe('deletion', () => {
  it('keeps an object with finalizers until a PATCH removes them', async () => {
    await api.req('POST', CMS, { metadata: { name: 'fin', finalizers: ['example.com/hold'] } });
    const w = await api.watch(`${CMS}?watch=true&fieldSelector=metadata.name%3Dfin&resourceVersion=${(await api.req('GET', `${CMS}/fin`)).body.metadata.resourceVersion}`);
    const del = await api.req('DELETE', `${CMS}/fin`);
    expect(del.status).toBe(200);
    expect(del.body.metadata.deletionTimestamp).toBeTruthy();
    const still = await api.req('GET', `${CMS}/fin`);
    expect(still.status).toBe(200);
    expect(still.body.metadata.deletionTimestamp).toBe(del.body.metadata.deletionTimestamp);
    expect(still.body.metadata.deletionGracePeriodSeconds).toBe(0);
    // deleting again changes nothing
    expect((await api.req('DELETE', `${CMS}/fin`)).body.metadata.resourceVersion).toBe(still.body.metadata.resourceVersion);
    // no new finalizers on a terminating object
    const add = await api.req('PATCH', `${CMS}/fin`, { metadata: { finalizers: ['example.com/hold', 'example.com/more'] } }, merge);
    expect(add.status).toBe(403);
    const done = await api.req('PATCH', `${CMS}/fin`, { metadata: { finalizers: null } }, merge);
    expect(done.status, done.text).toBe(200);
    expect((await api.req('GET', `${CMS}/fin`)).status).toBe(404);
    const evs = await w.waitFor(2);
    expect(evs.map((e) => e.type)).toEqual(['MODIFIED', 'DELETED']);
    w.close();
  });

  it('deletes a scheduled pod gracefully; gracePeriodSeconds=0 (the agent) and kubectl --force finish it', async () => {
    const pod = (name: string, nodeName?: string) => ({ metadata: { name }, spec: { ...(nodeName ? { nodeName } : {}), containers: [{ name: 'c', image: 'busybox' }] } });
    // an unscheduled pod goes at once
    expect((await api.req('POST', PODS, pod('unsched'))).status).toBe(201);
    expect((await api.req('DELETE', `${PODS}/unsched`)).status).toBe(200);
    expect((await api.req('GET', `${PODS}/unsched`)).status).toBe(404);

    expect((await api.req('POST', PODS, pod('sched', 'node-1'))).status).toBe(201);
    const before = Date.now();
    const del = await api.req('DELETE', `${PODS}/sched`, { propagationPolicy: 'Background' });
    expect(del.status).toBe(200);
    expect(del.body.metadata.deletionGracePeriodSeconds).toBe(30);
    const dts = Date.parse(del.body.metadata.deletionTimestamp);
    expect(dts).toBeGreaterThan(before + 25_000);
    expect(dts).toBeLessThan(before + 35_000);
    expect((await api.req('GET', `${PODS}/sched`)).status).toBe(200);
    // a shorter grace period shortens it; a longer one does not lengthen it
    expect((await api.req('DELETE', `${PODS}/sched?gracePeriodSeconds=10`)).body.metadata.deletionGracePeriodSeconds).toBe(10);
    expect((await api.req('DELETE', `${PODS}/sched?gracePeriodSeconds=20`)).body.metadata.deletionGracePeriodSeconds).toBe(10);
    // the agent's final delete
    const fin = await api.req('DELETE', `${PODS}/sched`, { gracePeriodSeconds: 0 });
    expect(fin.status).toBe(200);
    expect((await api.req('GET', `${PODS}/sched`)).status).toBe(404);

    expect((await api.req('POST', PODS, pod('forced', 'node-1'))).status).toBe(201);
    const r = k(['delete', 'pod', 'forced', '--grace-period=0', '--force']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('pod "forced" force deleted');
    expect(r.stderr).toContain('Immediate deletion does not wait for confirmation');
    expect((await api.req('GET', `${PODS}/forced`)).status).toBe(404);
  });

  it('deletes a collection by label selector', async () => {
    for (const [n, l] of [['dc-1', 'yes'], ['dc-2', 'yes'], ['dc-3', 'no']]) await api.req('POST', CMS, { metadata: { name: n, labels: { dc: l } } });
    const r = await api.req('DELETE', `${CMS}?labelSelector=dc%3Dyes`);
    expect(r.status, r.text).toBe(200);
    expect(r.body.kind).toBe('ConfigMapList');
    expect(r.body.items.map((i: any) => i.metadata.name).sort()).toEqual(['dc-1', 'dc-2']);
    const left = (await api.req('GET', `${CMS}?labelSelector=dc`)).body.items.map((i: any) => i.metadata.name);
    expect(left).toEqual(['dc-3']);
    const kr = k(['delete', 'cm', '-l', 'dc=no']);
    expect(kr.stdout).toContain('configmap "dc-3" deleted');
  });
});

describe('dry run and validation', () => {
  it('?dryRun=All for create, update, patch and delete changes nothing', async () => {
    await api.req('POST', CMS, { metadata: { name: 'dry' }, data: { a: '1' } });
    const before = await snapshot();
    let r = await api.req('POST', `${CMS}?dryRun=All`, { metadata: { name: 'dry-new' }, data: { a: '1' } });
    expect(r.status, r.text).toBe(201);
    expect(r.body.metadata.uid).toBeTruthy();
    const cur = (await api.req('GET', `${CMS}/dry`)).body;
    r = await api.req('PUT', `${CMS}/dry?dryRun=All`, { ...cur, data: { a: '2' } });
    expect(r.status, r.text).toBe(200);
    expect(r.body.data).toEqual({ a: '2' });
    r = await api.req('PATCH', `${CMS}/dry?dryRun=All`, { data: { b: '3' } }, merge);
    expect(r.status, r.text).toBe(200);
    expect(r.body.data).toEqual({ a: '1', b: '3' });
    r = await api.req('DELETE', `${CMS}/dry?dryRun=All`);
    expect(r.status, r.text).toBe(200);
    r = await api.req('DELETE', `${CMS}?dryRun=All`);
    expect(r.status, r.text).toBe(200);
    r = await api.req('POST', `${SVCS}?dryRun=All`, { metadata: { name: 'dry-svc' }, spec: { type: 'NodePort', ports: [{ port: 80, nodePort: 30999 }] } });
    expect(r.status, r.text).toBe(201);
    r = await api.req('POST', `${DEPLOYS}?dryRun=All`, deployment('dry-deploy'));
    expect(r.status, r.text).toBe(201);
    expect(await snapshot()).toBe(before);
    // the dry-run service did not keep its node port
    r = await api.req('POST', SVCS, { metadata: { name: 'real-svc' }, spec: { type: 'NodePort', ports: [{ port: 80, nodePort: 30999 }] } });
    expect(r.status, r.text).toBe(201);
    expect(k(['delete', 'cm', 'dry', '--dry-run=server']).stdout).toContain('configmap "dry" deleted (server dry run)');
    expect((await api.req('GET', `${CMS}/dry`)).status).toBe(200);
  });

  it('fieldValidation Strict rejects, Warn warns (kubectl prints it), Ignore drops unknown fields', async () => {
    const body = (name: string) => ({ ...deployment(name), spec: { ...deployment(name).spec, foo: 1 } });
    let r = await api.req('POST', `${DEPLOYS}?fieldValidation=Strict`, body('fv-strict'));
    expect(r.status).toBe(400);
    expect(r.body.message).toBe('Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.foo"');
    r = await api.req('POST', `${DEPLOYS}?fieldValidation=Warn`, body('fv-warn'));
    expect(r.status).toBe(201);
    expect(r.headers.warning).toBe('299 - "unknown field \\"spec.foo\\""');
    expect(r.body.spec.foo).toBeUndefined();
    r = await api.req('POST', `${DEPLOYS}?fieldValidation=Ignore`, body('fv-ignore'));
    expect(r.status).toBe(201);
    expect(r.headers.warning).toBeUndefined();
    expect(r.body.spec.foo).toBeUndefined();
    // patches too: Strict refuses what the patch brings, the default (Warn) drops it with a warning
    r = await api.req('PATCH', `${DEPLOYS}/fv-warn?fieldValidation=Strict`, { spec: { bar: 1 } }, merge);
    expect(r.status).toBe(400);
    expect(r.body.message).toContain('strict decoding error: unknown field "spec.bar"');
    r = await api.req('PATCH', `${DEPLOYS}/fv-warn`, { spec: { bar: 1, replicas: 2 } }, merge);
    expect(r.status).toBe(200);
    expect(r.headers.warning).toBe('299 - "unknown field \\"spec.bar\\""');
    expect(r.body.spec.bar).toBeUndefined();
    expect(r.body.spec.replicas).toBe(2);
    r = await api.req('POST', `${DEPLOYS}?fieldValidation=Bogus`, body('fv-bogus'));
    expect(r.status).toBe(400);
    const y = `apiVersion: v1
kind: ConfigMap
metadata: {name: fv-kubectl}
data: {a: b}
foo: bar
`;
    const kr = k(['create', '--validate=warn', '-f', file('fv.yaml', y)]);
    expect(kr.code, kr.stderr).toBe(0);
    expect(kr.stderr).toContain('Warning: unknown field "foo"');
    expect(kr.stdout).toContain('configmap/fv-kubectl created');
    const strict = k(['apply', '-f', file('fv2.yaml', y.replace('fv-kubectl', 'fv-strict'))]);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toContain('strict decoding error: unknown field "foo"');
  });

  it('answers an unsupported patch content type with 415', async () => {
    const r = await api.req('PATCH', `${CMS}/dry`, '<x/>', { 'content-type': 'application/xml' });
    expect(r.status).toBe(415);
    expect(r.body).toMatchObject({ kind: 'Status', reason: 'UnsupportedMediaType', code: 415 });
  });

  it('answers bad input with a Status (causes for Invalid) and leaves the store unchanged', async () => {
    const before = await snapshot();
    let r = await api.req('POST', DEPLOYS, { ...deployment('bad'), spec: { ...deployment('bad').spec, replicas: -1, selector: { matchLabels: { app: 'other' } } } });
    expect(r.status).toBe(422);
    expect(r.body).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'Invalid', details: { name: 'bad', group: 'apps', kind: 'Deployment' } });
    const fields = r.body.details.causes.map((c: any) => c.field);
    expect(fields).toContain('spec.replicas');
    expect(fields).toContain('spec.template.metadata.labels');
    r = await api.req('POST', CMS, '{not json', {});
    expect(r.status).toBe(400);
    expect(r.body.reason).toBe('BadRequest');
    r = await api.req('POST', CMS, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'wrongkind' } });
    expect(r.status).toBe(400);
    r = await api.req('POST', SVCS, { metadata: { name: 'badsvc' }, spec: { type: 'NodePort', ports: [{ port: 80, nodePort: 99 }] } });
    expect(r.status).toBe(422);
    expect(r.body.details.causes[0]).toMatchObject({ field: 'spec.ports[0].nodePort' });
    const cur = (await api.req('GET', `${DEPLOYS}/gen`)).body;
    r = await api.req('PUT', `${DEPLOYS}/gen`, { ...cur, spec: { ...cur.spec, template: { ...cur.spec.template, spec: { containers: [] } } } });
    expect(r.status).toBe(422);
    r = await api.req('PATCH', `${DEPLOYS}/gen`, [{ op: 'replace', path: '/spec/nope/x', value: 1 }], { 'content-type': 'application/json-patch+json' });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(r.body.kind).toBe('Status');
    expect(await snapshot()).toBe(before);
  });

  it('refuses to create in a missing namespace: NotFound namespaces "x"', async () => {
    const r = await api.req('POST', '/api/v1/namespaces/x/configmaps', { metadata: { name: 'a' } });
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ reason: 'NotFound', message: 'namespaces "x" not found', details: { name: 'x', kind: 'namespaces' } });
    const kr = k(['create', 'configmap', 'a', '-n', 'x']);
    expect(kr.stderr.trim()).toBe('error: failed to create configmap: namespaces "x" not found');
  });
});

describe('reads', () => {
  it('pages with limit + continue; kubectl --chunk-size=2 lists all', async () => {
    await api.req('POST', '/api/v1/namespaces', { metadata: { name: 'page' } });
    for (let i = 1; i <= 5; i++) await api.req('POST', '/api/v1/namespaces/page/configmaps', { metadata: { name: `p${i}` } });
    const got: string[] = [];
    let cont = '';
    let pages = 0;
    let rv = '';
    do {
      const r = await api.req('GET', `/api/v1/namespaces/page/configmaps?limit=2${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`);
      expect(r.status, r.text).toBe(200);
      pages++;
      got.push(...r.body.items.map((i: any) => i.metadata.name));
      cont = r.body.metadata.continue ?? '';
      if (pages === 1) {
        expect(r.body.metadata.remainingItemCount).toBe(3);
        rv = r.body.metadata.resourceVersion;
      }
    } while (cont);
    expect(pages).toBe(3);
    expect(got).toEqual(['p1', 'p2', 'p3', 'p4', 'p5']);
    expect(rv).toMatch(/^\d+$/);
    const kr = k(['get', 'cm', '-n', 'page', '--chunk-size=2', '-o', 'name']);
    expect(kr.code, kr.stderr).toBe(0);
    expect(kr.stdout.trim().split('\n')).toEqual(['p1', 'p2', 'p3', 'p4', 'p5'].map((n) => `configmap/${n}`));
    expect(k(['get', 'cm', '-n', 'page', '--chunk-size=2']).stdout.trim().split('\n')).toHaveLength(6);
    const badCont = await api.req('GET', '/api/v1/namespaces/page/configmaps?limit=2&continue=garbage');
    expect(badCont.status).toBe(400);
  });

  it('renders a Table for a single object', async () => {
    const r = await api.req('GET', `${DEPLOYS}/gen`, undefined, { accept: TABLE });
    expect(r.status).toBe(200);
    expect(r.body.kind).toBe('Table');
    expect(r.body.apiVersion).toBe('meta.k8s.io/v1');
    expect(r.body.columnDefinitions.map((c: any) => c.name)).toEqual(['Name', 'Ready', 'Up-to-date', 'Available', 'Age', 'Containers', 'Images', 'Selector']);
    expect(r.body.rows).toHaveLength(1);
    expect(r.body.rows[0].cells[0]).toBe('gen');
    expect(r.body.rows[0].object).toMatchObject({ kind: 'PartialObjectMetadata', metadata: { name: 'gen', namespace: 'default' } });
    expect(k(['get', 'deploy', 'gen']).stdout).toMatch(/^gen\s+\d\/5\s+/m);
  });

  it('serves discovery and raw paths to kubectl get --raw', () => {
    const gv = JSON.parse(k(['get', '--raw', '/apis/apps/v1']).stdout);
    expect(gv).toMatchObject({ kind: 'APIResourceList', groupVersion: 'apps/v1' });
    expect(gv.resources.map((r: any) => r.name)).toEqual(expect.arrayContaining(['deployments', 'deployments/scale', 'deployments/status', 'replicasets', 'statefulsets', 'daemonsets']));
    const core = JSON.parse(k(['get', '--raw', '/api/v1']).stdout);
    expect(core.resources.find((r: any) => r.name === 'pods')).toMatchObject({ namespaced: true, kind: 'Pod', shortNames: ['po'] });
    expect(JSON.parse(k(['get', '--raw', '/api']).stdout)).toMatchObject({ kind: 'APIVersions', versions: ['v1'] });
    const groups = JSON.parse(k(['get', '--raw', '/apis']).stdout);
    expect(groups.groups.map((g: any) => g.name)).toEqual(expect.arrayContaining(['apps', 'batch', 'coordination.k8s.io']));
    expect(JSON.parse(k(['get', '--raw', '/apis/apps']).stdout)).toMatchObject({ kind: 'APIGroup', name: 'apps', preferredVersion: { groupVersion: 'apps/v1' } });
    expect(JSON.parse(k(['get', '--raw', '/version']).stdout)).toMatchObject({ major: '1', minor: '32' });
    expect(JSON.parse(k(['get', '--raw', '/api/v1/namespaces/default/configmaps/imm']).stdout).metadata.name).toBe('imm');
    const nf = k(['get', '--raw', '/apis/nope/v1']);
    expect(nf.code).toBe(1);
    expect(nf.stderr).toContain('NotFound');
  });
});

describe('services', () => {
  it('allocates unique ClusterIPs in 10.43.0.0/16 and NodePorts in 30000-32767', async () => {
    const rs = await Promise.all(
      Array.from({ length: 20 }, (_, i) => api.req('POST', SVCS, { metadata: { name: `alloc-${i}` }, spec: { type: i % 2 ? 'NodePort' : 'ClusterIP', ports: [{ port: 80 }, { port: 443, name: 'https' }].slice(0, i % 2 ? 2 : 1).map((p, j) => ({ ...p, name: j ? 'https' : 'http' })) } })),
    );
    for (const r of rs) expect(r.status, r.text).toBe(201);
    const ips = rs.map((r) => r.body.spec.clusterIP as string);
    for (const ip of ips) expect(ip).toMatch(/^10\.43\.\d{1,3}\.\d{1,3}$/);
    expect(new Set(ips).size).toBe(ips.length);
    expect(ips).not.toContain('10.43.0.1');
    for (const r of rs) expect(r.body.spec.clusterIPs).toEqual([r.body.spec.clusterIP]);
    const ports = rs.flatMap((r) => (r.body.spec.ports as any[]).map((p) => p.nodePort)).filter((p) => p !== undefined);
    expect(ports).toHaveLength(20);
    for (const p of ports) {
      expect(p).toBeGreaterThanOrEqual(30000);
      expect(p).toBeLessThanOrEqual(32767);
    }
    expect(new Set(ports).size).toBe(ports.length);
    // an explicit IP that is taken, or outside the range, is Invalid
    let r = await api.req('POST', SVCS, { metadata: { name: 'dup-ip' }, spec: { clusterIP: ips[0], ports: [{ port: 80 }] } });
    expect(r.status).toBe(422);
    expect(r.body.details.causes[0].message).toContain('provided IP is already allocated');
    r = await api.req('POST', SVCS, { metadata: { name: 'far-ip' }, spec: { clusterIP: '192.168.1.1', ports: [{ port: 80 }] } });
    expect(r.status).toBe(422);
    r = await api.req('POST', SVCS, { metadata: { name: 'dup-port' }, spec: { type: 'NodePort', ports: [{ port: 80, nodePort: ports[0] }] } });
    expect(r.status).toBe(422);
    // a freed IP / port can be claimed again
    expect((await api.req('DELETE', `${SVCS}/alloc-1`)).status).toBe(200);
    r = await api.req('POST', SVCS, { metadata: { name: 'reuse' }, spec: { type: 'NodePort', clusterIP: ips[1], ports: [{ port: 80, nodePort: rs[1].body.spec.ports[0].nodePort }] } });
    expect(r.status, r.text).toBe(201);
    // headless
    r = await api.req('POST', SVCS, { metadata: { name: 'headless' }, spec: { clusterIP: 'None', ports: [{ port: 80 }] } });
    expect(r.body.spec.clusterIP).toBe('None');
    expect(k(['get', 'svc', 'alloc-3']).stdout).toMatch(/^alloc-3\s+NodePort\s+10\.43\.\d+\.\d+\s+<none>\s+80:3\d{4}\/TCP,443:3\d{4}\/TCP/m);
  });
});

describe('kubectl views', () => {
  it('describes a deployment and a hand-made node; cluster-info and explain work', () => {
    let r = k(['describe', 'deployment', 'gen']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Name:\s+gen/);
    expect(r.stdout).toMatch(/Selector:\s+app=gen/);
    expect(r.stdout).toMatch(/StrategyType:\s+RollingUpdate/);
    expect(r.stdout).toMatch(/Image:\s+nginx:1\.25/);
    const node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'node-1', labels: { 'kubernetes.io/hostname': 'node-1', 'node-role.kubernetes.io/control-plane': 'true' } },
      spec: { podCIDR: '10.42.1.0/24' },
      status: {
        addresses: [{ type: 'InternalIP', address: '10.0.0.10' }, { type: 'Hostname', address: 'node-1' }],
        capacity: { cpu: '4', memory: '8Gi', pods: '110' },
        allocatable: { cpu: '4', memory: '8Gi', pods: '110' },
        conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: new Date().toISOString(), lastTransitionTime: new Date().toISOString() }],
        nodeInfo: { kubeletVersion: 'v1.32.0-kubeling', osImage: 'Debian', kernelVersion: '6.1', containerRuntimeVersion: 'docker://27', operatingSystem: 'linux', architecture: 'amd64', machineID: '', systemUUID: '', bootID: '', kubeProxyVersion: '' },
      },
    };
    r = k(['create', '-f', file('node.json', JSON.stringify(node))]);
    expect(r.code, r.stderr).toBe(0);
    r = k(['get', 'nodes']);
    expect(r.stdout).toMatch(/^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION/);
    expect(r.stdout).toMatch(/^node-1\s+Ready\s+control-plane\s+\S+\s+v1\.32\.0-kubeling/m);
    r = k(['describe', 'node', 'node-1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Name:\s+node-1/);
    expect(r.stdout).toMatch(/InternalIP:\s+10\.0\.0\.10/);
    expect(r.stdout).toMatch(/PodCIDR:\s+10\.42\.1\.0\/24/);
    expect(r.stdout).toContain('Non-terminated Pods:');
    r = k(['cluster-info']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Kubernetes control plane is running at ${srv.url}`);
    r = k(['explain', 'deployment.spec']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/KIND:\s+Deployment/);
    expect(r.stdout).toMatch(/GROUP:\s+apps/);
    expect(r.stdout).toMatch(/VERSION:\s+v1/);
    expect(r.stdout).toContain('replicas');
    expect(r.stdout).toContain('template');
    r = k(['explain', 'pod.spec.containers.ports']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('containerPort');
  });

  it('binds a pod with pods/binding: nodeName and PodScheduled', async () => {
    await api.req('POST', PODS, { metadata: { name: 'tobind' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
    let r = await api.req('POST', `${PODS}/tobind/binding`, { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'tobind' }, target: { apiVersion: 'v1', kind: 'Node', name: 'node-1' } });
    expect(r.status, r.text).toBe(201);
    expect(r.body).toMatchObject({ kind: 'Status', status: 'Success' });
    const p = (await api.req('GET', `${PODS}/tobind`)).body;
    expect(p.spec.nodeName).toBe('node-1');
    expect(p.status.conditions).toEqual([expect.objectContaining({ type: 'PodScheduled', status: 'True' })]);
    r = await api.req('POST', `${PODS}/tobind/binding`, { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'tobind' }, target: { name: 'node-2' } });
    expect(r.status).toBe(409);
    expect(r.body.message).toContain('is already assigned to node "node-1"');
    expect(k(['get', 'pod', 'tobind', '-o', 'wide']).stdout).toMatch(/^tobind\s+0\/1\s+Pending\s+0\s+\S+\s+<none>\s+node-1/m);
  });
});

describe('large answers', () => {
  it('answers the delete of a collection larger than a page with every deleted object, written a page at a time', async () => {
    const names = Array.from({ length: 520 }, (_, i) => `big-${String(i).padStart(4, '0')}`);
    for (let i = 0; i < names.length; i += 50) await Promise.all(names.slice(i, i + 50).map((n) => api.req('POST', CMS, { metadata: { name: n, labels: { big: 'yes' } }, data: { k: n } })));
    const r = await api.req('DELETE', `${CMS}?labelSelector=big%3Dyes`);
    expect(r.status, r.text.slice(0, 200)).toBe(200);
    expect(r.body.kind).toBe('ConfigMapList');
    expect(r.body.apiVersion).toBe('v1');
    expect(r.body.items.map((i: any) => i.metadata.name).sort()).toEqual(names);
    expect(r.body.items.every((i: any) => i.data.k === i.metadata.name)).toBe(true);
    expect((await api.req('GET', `${CMS}?labelSelector=big`)).body.items).toEqual([]);
  });
});
