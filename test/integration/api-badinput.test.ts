// api-badinput: bad input gets a clear 4xx in upstream's words, nothing is stored and the server stays responsive (issue 8, "Bad input").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import { startServer, kubectl, type RunningServer } from '../helpers/server.ts';
import { apiClient, type ApiClient } from '../helpers/api.ts';

let srv: RunningServer;
let api: ApiClient;

const NS = '/api/v1/namespaces/default';
const DEPLOYS = '/apis/apps/v1/namespaces/default/deployments';
const CMS = `${NS}/configmaps`;
const PODS = `${NS}/pods`;
const SECRETS = `${NS}/secrets`;
const merge = { 'content-type': 'application/merge-patch+json' };
const strategic = { 'content-type': 'application/strategic-merge-patch+json' };
const jsonPatch = { 'content-type': 'application/json-patch+json' };

const deployment = (name: string, spec: Record<string, unknown> = {}, container: Record<string, unknown> = {}, podSpec: Record<string, unknown> = {}) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, labels: { app: name } },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'nginx:1.25', ...container }], ...podSpec } },
    ...spec,
  },
});

beforeAll(async () => {
  srv = await startServer({ args: ['--disable-agent', '--disable-scheduler', '--controllers', 'namespace,serviceaccount'] });
  api = apiClient(srv);
});

afterAll(async () => {
  await api?.close();
  await srv?.cleanup();
});

/** maxStall runs `work` while GETting /version every 10 ms and returns the slowest GET (ms) and the work's result. */
async function maxStall<T>(work: () => Promise<T>): Promise<{ stall: number; result: T }> {
  let stop = false;
  let max = 0;
  const probe = (async () => {
    while (!stop) {
      const t = performance.now();
      await api.req('GET', '/version');
      max = Math.max(max, performance.now() - t);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  try {
    const result = await work();
    return { stall: max, result };
  } finally {
    stop = true;
    await probe;
  }
}

describe('typed decoding', () => {
  const cases: [string, unknown, string][] = [
    ['replicas "3"', deployment('t1', { replicas: '3' }), 'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32'],
    ['paused "yes"', deployment('t2', { paused: 'yes' }), 'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.paused of type bool'],
    ['env value 1', deployment('t3', {}, { env: [{ name: 'A', value: 1 }] }), 'json: cannot unmarshal number into Go struct field EnvVar.spec.template.spec.containers.env.value of type string'],
    ['env name 5', deployment('t4', {}, { env: [{ name: 5 }] }), 'json: cannot unmarshal number into Go struct field EnvVar.spec.template.spec.containers.env.name of type string'],
    ['args [1, true]', deployment('t5', {}, { args: [1, true] }), 'json: cannot unmarshal number into Go struct field Container.spec.template.spec.containers.args of type string'],
    ['workingDir 5', deployment('t6', {}, { workingDir: 5 }), 'json: cannot unmarshal number into Go struct field Container.spec.template.spec.containers.workingDir of type string'],
    ['runAsUser "abc"', deployment('t7', {}, { securityContext: { runAsUser: 'abc' } }), 'json: cannot unmarshal string into Go struct field SecurityContext.spec.template.spec.containers.securityContext.runAsUser of type int64'],
    ['hostNetwork "true"', deployment('t8', {}, {}, { hostNetwork: 'true' }), 'json: cannot unmarshal string into Go struct field PodSpec.spec.template.spec.hostNetwork of type bool'],
  ];
  it.each(cases)('%s is a 400 and nothing is stored', async (_n, body, want) => {
    const r = await api.req('POST', DEPLOYS, body);
    expect(r.status, r.text).toBe(400);
    expect(r.body.reason).toBe('BadRequest');
    expect(r.body.message).toContain(want);
    const name = (body as { metadata: { name: string } }).metadata.name;
    expect((await api.req('GET', `${DEPLOYS}/${name}`)).status).toBe(404);
  });

  it('numeric stringData is a 400', async () => {
    const r = await api.req('POST', SECRETS, { metadata: { name: 's1' }, stringData: { a: 1 } });
    expect(r.status).toBe(400);
    expect(r.body.message).toBe('Secret in version "v1" cannot be handled as a Secret: json: cannot unmarshal number into Go struct field Secret.stringData of type string');
  });

  it('a PUT and a patch that break a type are refused; the object is unchanged', async () => {
    expect((await api.req('POST', DEPLOYS, deployment('typed'))).status).toBe(201);
    const cur = (await api.req('GET', `${DEPLOYS}/typed`)).body;
    const put = await api.req('PUT', `${DEPLOYS}/typed`, { ...cur, spec: { ...cur.spec, paused: 'yes' } });
    expect(put.status).toBe(400);
    expect(put.body.message).toContain('cannot unmarshal string into Go struct field DeploymentSpec.spec.paused of type bool');
    for (const [headers, body] of [[merge, { spec: { replicas: 'x' } }], [strategic, { spec: { replicas: 'x' } }], [jsonPatch, [{ op: 'replace', path: '/spec/replicas', value: 'x' }]]] as const) {
      const r = await api.req('PATCH', `${DEPLOYS}/typed`, body, headers);
      expect(r.status, r.text).toBe(422);
      expect(r.body.message).toContain('json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32');
    }
    expect((await api.req('GET', `${DEPLOYS}/typed`)).body.metadata.resourceVersion).toBe(cur.metadata.resourceVersion);
    // kubectl can still decode it and pause it
    const k = kubectl(srv.kubeconfig, ['rollout', 'pause', 'deployment/typed']);
    expect(k.code, k.stderr).toBe(0);
  });

  it('inherited property names are unknown fields under Strict', async () => {
    for (const key of ['__proto__', 'constructor', 'toString']) {
      const text = `{"metadata":{"name":"strict-${key.replace(/_/g, '')}"},"data":{"a":"b"},"${key}":{"x":1}}`;
      const r = await api.req('POST', `${CMS}?fieldValidation=Strict`, text);
      expect(r.status, r.text).toBe(400);
      expect(r.body.message).toContain(`strict decoding error: unknown field "${key}"`);
    }
    const meta = await api.req('POST', `${CMS}?fieldValidation=Strict`, '{"metadata":{"name":"strict-meta","constructor":"x"}}');
    expect(meta.status).toBe(400);
    expect(meta.body.message).toContain('unknown field "metadata.constructor"');
  });
});

describe('linear parsing and merging', () => {
  it('a YAML body with 50,000 keys is parsed without stalling the server', async () => {
    let yaml = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big-yaml\ndata:\n';
    for (let i = 0; i < 50_000; i++) yaml += `  k${i}: v\n`;
    const { stall, result } = await maxStall(() => api.req('POST', CMS, yaml, { 'content-type': 'application/yaml' }));
    expect(result.status, result.text.slice(0, 300)).toBe(201);
    // generous bounds for a loaded CI host: the quadratic duplicate-key check took 20 s here
    expect(stall).toBeLessThan(8000);
    const dup = await api.req('POST', CMS, 'metadata:\n  name: dup\ndata:\n  a: x\n  a: y\n', { 'content-type': 'application/yaml' });
    expect(dup.status).toBe(400);
    expect(dup.body.message).toContain('Map keys must be unique');
  });

  it('a strategic merge of a 20,000-entry list finishes quickly', async () => {
    const env = Array.from({ length: 20_000 }, (_, i) => ({ name: `E${i}`, value: 'a' }));
    expect((await api.req('POST', DEPLOYS, deployment('bigenv', {}, { env }))).status).toBe(201);
    const patch = { spec: { template: { spec: { containers: [{ name: 'c', env: env.map((e) => ({ ...e, value: 'b' })) }] } } } };
    const t = performance.now();
    const { stall, result } = await maxStall(() => api.req('PATCH', `${DEPLOYS}/bigenv`, patch, strategic));
    const took = performance.now() - t;
    expect(result.status, result.text.slice(0, 300)).toBe(200);
    expect(result.body.spec.template.spec.containers[0].env[19_999]).toEqual({ name: 'E19999', value: 'b' });
    // a guard against a hang only (the quadratic merge took 7.7 s on an idle host, far longer on a loaded one):
    // the speed and the event-loop stall are measured by `npm run bench:abuse`, not asserted on a shared machine
    expect(took).toBeLessThan(60_000);
    expect(stall).toBeLessThan(60_000);
  });

  it('patches nested 10,000 deep are a 4xx, not a stack overflow', async () => {
    expect((await api.req('POST', CMS, { metadata: { name: 'deep' } })).status).toBe(201);
    const deep = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
    for (const [headers, body] of [
      [merge, `{"metadata":{"labels":${deep(10_000)}}}`],
      [strategic, `{"metadata":{"labels":${deep(10_000)}}}`],
      [jsonPatch, `[{"op":"add","path":"/metadata/labels","value":${deep(10_000)}}]`],
      [merge, `{"metadata":{"labels":${deep(9_990)}}}`],
      [strategic, `{"data":${deep(9_990)}}`],
    ] as const) {
      const r = await api.req('PATCH', `${CMS}/deep`, body, headers);
      expect([400, 422], `${headers['content-type']}: ${r.status} ${r.text.slice(0, 200)}`).toContain(r.status);
    }
    const post = await api.req('POST', CMS, `{"metadata":{"name":"deeper"},"data":${deep(20_000)}}`);
    expect(post.status).toBe(400);
    expect((await api.req('GET', '/version')).status).toBe(200);
  });

  it('a JSON patch on /__proto__ is a 422', async () => {
    const r = await api.req('PATCH', `${CMS}/deep`, [{ op: 'add', path: '/__proto__/polluted', value: 'x' }], jsonPatch);
    expect(r.status, r.text).toBe(422);
    const r2 = await api.req('PATCH', `${CMS}/deep`, [{ op: 'replace', path: '/__proto__', value: { a: 1 } }], jsonPatch);
    expect(r2.status, r2.text).toBe(422);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('query input', () => {
  it('bad limits are 400/422, never a 500', async () => {
    for (const limit of ['1.5', '1e20', '1e309', 'abc', '99999999999999999999']) {
      const r = await api.req('GET', `${CMS}?limit=${limit}`);
      expect(r.status, `${limit}: ${r.text.slice(0, 200)}`).toBe(400);
      expect(r.body.message).toContain("strconv.ParseInt: parsing");
    }
    const neg = await api.req('GET', `${CMS}?limit=-1`);
    expect(neg.status, neg.text.slice(0, 200)).toBe(422);
    expect((await api.req('GET', `${CMS}?limit=1`)).status).toBe(200);
  });

  it('resourceVersion and resourceVersionMatch as upstream validates them', async () => {
    expect((await api.req('GET', `${CMS}?resourceVersion=abc`)).status).toBe(400);
    const noRv = await api.req('GET', `${CMS}?resourceVersionMatch=NotOlderThan`);
    expect(noRv.status).toBe(422);
    expect(noRv.body.message).toContain('resourceVersionMatch is forbidden unless resourceVersion is provided');
    const bad = await api.req('GET', `${CMS}?resourceVersion=1&resourceVersionMatch=Sometimes`);
    expect(bad.status).toBe(422);
    expect(bad.body.message).toContain('Unsupported value: "Sometimes"');
    expect((await api.req('GET', `${CMS}?resourceVersion=0&resourceVersionMatch=Exact`)).status).toBe(422);
  });

  it('a continue token whose revision is not valid is a 400', async () => {
    for (const rv of [-1, 1.5, 0]) {
      const token = Buffer.from(JSON.stringify({ v: 1, r: 'configmaps', ns: 'default', n: 'a', rv })).toString('base64url');
      const r = await api.req('GET', `${CMS}?limit=1&continue=${token}`);
      expect(r.status, `${rv}: ${r.text}`).toBe(400);
      expect(r.body.message).toContain('continue key is not valid');
    }
  });

  it('a fieldManager over 128 characters is a 422', async () => {
    const r = await api.req('POST', `${CMS}?fieldManager=${'m'.repeat(129)}`, { metadata: { name: 'fm' } });
    expect(r.status, r.text).toBe(422);
    expect(r.body.message).toContain('fieldManager: Too long');
    expect((await api.req('GET', `${CMS}/fm`)).status).toBe(404);
    expect((await api.req('POST', `${CMS}?fieldManager=${'m'.repeat(128)}`, { metadata: { name: 'fm' } })).status).toBe(201);
  });

  it('a patch that changes metadata.namespace is a 400', async () => {
    expect((await api.req('POST', CMS, { metadata: { name: 'nsmove' } })).status).toBe(201);
    const r = await api.req('PATCH', `${CMS}/nsmove`, { metadata: { namespace: 'kube-system' } }, merge);
    expect(r.status, r.text).toBe(400);
    expect(r.body.message).toBe('the namespace of the object (kube-system) does not match the namespace on the URL (default)');
  });

  it('a watch from a future resourceVersion ends with a 504 Too large resource version', async () => {
    const list = await api.req('GET', CMS);
    const future = Number(list.body.metadata.resourceVersion) + 1000;
    const w = await api.watch(`${CMS}?watch=true&resourceVersion=${future}`);
    const [ev] = await w.waitFor(1, 10_000);
    w.close();
    expect(ev.type).toBe('ERROR');
    expect(ev.object.code).toBe(504);
    expect(ev.object.message).toContain('Too large resource version');
    expect(ev.object.details.retryAfterSeconds).toBe(1);
  });
});

describe('media types', () => {
  it.each(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/cbor'])('POST and PUT with %s are a 415', async (type) => {
    const body = JSON.stringify({ metadata: { name: 'mt' } });
    const r = await api.req('POST', CMS, body, { 'content-type': type });
    expect(r.status, r.text).toBe(415);
    expect(r.body.reason).toBe('UnsupportedMediaType');
    expect((await api.req('GET', `${CMS}/mt`)).status).toBe(404);
    const put = await api.req('PUT', `${CMS}/deep`, JSON.stringify({ metadata: { name: 'deep' } }), { 'content-type': type });
    expect(put.status).toBe(415);
  });

  it('JSON and YAML bodies still work', async () => {
    expect((await api.req('POST', CMS, { metadata: { name: 'ok-json' } })).status).toBe(201);
    expect((await api.req('POST', CMS, 'metadata:\n  name: ok-yaml\n', { 'content-type': 'application/yaml' })).status).toBe(201);
  });
});
