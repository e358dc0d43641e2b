// decode.test: decodes protobuf bodies captured from real kubectl 1.32/1.33 `create` commands and compares them with the JSON kubectl prints for the same command.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../errors.ts';
import { MAGIC, decodeKubernetesProtobuf, messageForKind, protoRoot } from './index.ts';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const names = fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.bin')).map((f) => f.slice(0, -4));

/** envelope wraps a raw message the way client-go does: magic + runtime.Unknown. */
function envelope(apiVersion: string, kind: string, raw: Uint8Array, contentEncoding = ''): Buffer {
  const Unknown = protoRoot().lookupType('k8s.io.apimachinery.pkg.runtime.Unknown');
  const body = Unknown.encode(Unknown.create({ typeMeta: { apiVersion, kind }, raw, contentEncoding, contentType: '' })).finish();
  return Buffer.concat([MAGIC, body]);
}

function encode(apiVersion: string, kind: string, obj: object): Buffer {
  const type = messageForKind(apiVersion, kind)!;
  return envelope(apiVersion, kind, type.encode(type.fromObject(obj)).finish());
}

function badRequest(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).code).toBe(400);
    return e as ApiError;
  }
  throw new Error('expected a BadRequest');
}

describe('decodeKubernetesProtobuf on kubectl captures', () => {
  expect(names.length).toBeGreaterThanOrEqual(13);
  for (const name of names) {
    it(`${name}: same object as kubectl's -o json --dry-run=client`, () => {
      const got = decodeKubernetesProtobuf(fs.readFileSync(path.join(FIXTURES, `${name}.bin`)));
      const want = JSON.parse(fs.readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8'));
      expect(got).toStrictEqual(want);
    });
  }

  it('keeps a pointer zero (replicas: 0) and drops omitempty zeros', () => {
    const got = decodeKubernetesProtobuf(fs.readFileSync(path.join(FIXTURES, 'deployment-zero.bin')));
    expect(got.spec.replicas).toBe(0);
    expect(got.spec).not.toHaveProperty('minReadySeconds');
    expect(got.spec).not.toHaveProperty('paused');
    expect(got.metadata).not.toHaveProperty('namespace');
  });

  it('puts apiVersion and kind first, from the envelope', () => {
    const got = decodeKubernetesProtobuf(fs.readFileSync(path.join(FIXTURES, 'namespace.bin')));
    expect(Object.keys(got).slice(0, 2)).toEqual(['apiVersion', 'kind']);
    expect(got).toMatchObject({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } });
  });
});

describe('decodeKubernetesProtobuf conversions', () => {
  it('int-or-string, quantities, times, bytes, camelCase names and inline fields', () => {
    const pod = {
      metadata: { name: 'p', creationTimestamp: { seconds: 1714557600 }, deletionTimestamp: { seconds: 1714557601, nanos: 5 } },
      spec: {
        hostNetwork: true,
        hostPID: false,
        containers: [{
          name: 'c',
          image: 'nginx',
          resources: { limits: { cpu: { string: '500m' }, memory: { string: '64Mi' } } },
          readinessProbe: { handler: { httpGet: { path: '/', port: { type: 1, strVal: 'http' } } }, periodSeconds: 3 },
          livenessProbe: { handler: { tcpSocket: { port: { type: 0, intVal: 8080 } } } },
          securityContext: { runAsUser: 0, privileged: false },
        }],
        volumes: [{ name: 'v', volumeSource: { emptyDir: {} } }],
        terminationGracePeriodSeconds: 0,
        enableServiceLinks: false,
      },
      status: { podIPs: [{ ip: '10.42.0.5' }], startTime: { seconds: 0 } },
    };
    const got = decodeKubernetesProtobuf(encode('v1', 'Pod', pod));
    expect(got.metadata.creationTimestamp).toBe('2024-05-01T10:00:00Z');
    expect(got.metadata.deletionTimestamp).toBe('2024-05-01T10:00:01Z');
    const c = got.spec.containers[0];
    expect(c.resources).toEqual({ limits: { cpu: '500m', memory: '64Mi' } });
    expect(c.readinessProbe).toEqual({ httpGet: { path: '/', port: 'http' }, periodSeconds: 3 });
    expect(c.livenessProbe).toEqual({ tcpSocket: { port: 8080 } });
    expect(c.securityContext).toEqual({ runAsUser: 0, privileged: false });
    expect(got.spec.volumes).toEqual([{ name: 'v', emptyDir: {} }]);
    expect(got.spec.hostNetwork).toBe(true);
    expect(got.spec).not.toHaveProperty('hostPID');
    expect(got.spec.terminationGracePeriodSeconds).toBe(0);
    expect(got.spec.enableServiceLinks).toBe(false);
    expect(got.status.podIPs).toEqual([{ ip: '10.42.0.5' }]);
    expect(got.status.startTime).toBe('1970-01-01T00:00:00Z');
  });

  it('services: externalIPs, targetPort strings, allocateLoadBalancerNodePorts false', () => {
    const got = decodeKubernetesProtobuf(encode('v1', 'Service', {
      metadata: { name: 's' },
      spec: { ports: [{ port: 80, targetPort: { type: 1, strVal: 'web' } }], externalIPs: ['192.0.2.1'], allocateLoadBalancerNodePorts: false, clusterIP: '' },
    }));
    expect(got.spec).toEqual({ ports: [{ port: 80, targetPort: 'web' }], externalIPs: ['192.0.2.1'], allocateLoadBalancerNodePorts: false });
  });

  it('secret data bytes become base64, including binary', () => {
    const got = decodeKubernetesProtobuf(encode('v1', 'Secret', { metadata: { name: 's' }, data: { bin: Buffer.from([0, 255, 1]) } }));
    expect(got.data).toEqual({ bin: 'AP8B' });
  });

  it('lease microtime has six fraction digits', () => {
    const got = decodeKubernetesProtobuf(encode('coordination.k8s.io/v1', 'Lease', { metadata: { name: 'n' }, spec: { renewTime: { seconds: 1714557600, nanos: 123456789 } } }));
    expect(got.spec.renewTime).toBe('2024-05-01T10:00:00.123456Z');
  });

  it('skips unknown fields', () => {
    const type = messageForKind('v1', 'ConfigMap')!;
    const known = type.encode(type.fromObject({ metadata: { name: 'c' }, data: { a: 'b' } })).finish();
    const extra = protobuf.Writer.create().uint32((900 << 3) | 2).string('future field').finish();
    const got = decodeKubernetesProtobuf(envelope('v1', 'ConfigMap', Buffer.concat([known, extra])));
    expect(got).toEqual({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: 'b' } });
  });
});

describe('decodeKubernetesProtobuf rejects malformed input with 400', () => {
  it('missing magic', () => {
    badRequest(() => decodeKubernetesProtobuf(Buffer.from('{"kind":"Pod"}')));
  });
  it('truncated envelope', () => {
    const good = fs.readFileSync(path.join(FIXTURES, 'deployment.bin'));
    badRequest(() => decodeKubernetesProtobuf(good.subarray(0, good.length - 20)));
  });
  it('garbage raw message', () => {
    badRequest(() => decodeKubernetesProtobuf(envelope('v1', 'Pod', Buffer.from([0x0a, 0xff, 0xff, 0xff]))));
  });
  it('unknown kind', () => {
    const e = badRequest(() => decodeKubernetesProtobuf(envelope('v1', 'Widget', new Uint8Array())));
    expect(e.message).toBe('no kind "Widget" is registered for version "v1"');
  });
  it('missing kind', () => {
    badRequest(() => decodeKubernetesProtobuf(envelope('v1', '', new Uint8Array())));
  });
  it('compressed content encoding', () => {
    badRequest(() => decodeKubernetesProtobuf(envelope('v1', 'Pod', new Uint8Array(), 'gzip')));
  });
});
