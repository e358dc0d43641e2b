// convert.test: table tests of the pure Kubernetes → Docker mappings.
import { describe, expect, it } from 'vitest';
import {
  classifyPullError,
  containerState,
  cpuQuota,
  cpuShares,
  dockerName,
  dockerTime,
  entrypointAndCmd,
  normalizeImageRef,
  parseDockerHost,
  portBindingsFor,
  resolvConf,
  toContainerInfo,
} from './convert.ts';

describe('cpu', () => {
  it.each([
    [undefined, 2],
    [0, 2],
    [1, 2],
    [250, 256],
    [1000, 1024],
    [2500, 2560],
  ])('cpuShares(%s) = %s', (m, want) => expect(cpuShares(m)).toBe(want));
  it.each([
    [500, 50_000],
    [1000, 100_000],
    [1, 1000],
    [1500, 150_000],
  ])('cpuQuota(%s) = %s', (m, want) => expect(cpuQuota(m)).toBe(want));
});

describe('normalizeImageRef', () => {
  it.each([
    ['busybox', 'busybox:latest'],
    ['busybox:1.36', 'busybox:1.36'],
    ['127.0.0.1:5000/app', '127.0.0.1:5000/app:latest'],
    ['127.0.0.1:5000/team/app:v2', '127.0.0.1:5000/team/app:v2'],
    ['app@sha256:abcd', 'app@sha256:abcd'],
  ])('%s → %s', (ref, want) => expect(normalizeImageRef(ref)).toBe(want));
});

describe('classifyPullError', () => {
  it.each([
    ['Get "https://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused', 'Unreachable'],
    ['manifest for 127.0.0.1:5000/x:1 not found: manifest unknown: manifest unknown', 'ImageNotFound'],
    ['pull access denied for nope, repository does not exist or may require \'docker login\'', 'ImageNotFound'],
    ['Head "https://r/v2/x/manifests/1": unauthorized: authentication required', 'Unauthorized'],
    ['something odd', 'PullFailed'],
  ])('%s → %s', (msg, want) => expect(classifyPullError(msg)).toBe(want));
});

describe('entrypointAndCmd', () => {
  it.each([
    [undefined, undefined, {}],
    [[], [], {}],
    [['sh', '-c'], ['echo hi'], { Entrypoint: ['sh', '-c'], Cmd: ['echo hi'] }],
    [['sleep', '1'], undefined, { Entrypoint: ['sleep', '1'], Cmd: [] }],
    [undefined, ['-x'], { Cmd: ['-x'] }],
  ])('command %j args %j', (command, args, want) => expect(entrypointAndCmd(command, args)).toEqual(want));
});

describe('states and names', () => {
  it('maps docker states to CRI states', () => {
    expect(['created', 'running', 'paused', 'restarting', 'exited', 'dead', 'removing', 'weird'].map(containerState)).toEqual([
      'created', 'running', 'running', 'running', 'exited', 'exited', 'exited', 'unknown',
    ]);
  });
  it('names containers like dockershim', () => {
    expect(dockerName('POD', 'web', 'default', 'u1', 0)).toBe('k8s_POD_web_default_u1_0');
  });
  it('drops docker zero times', () => {
    expect(dockerTime('0001-01-01T00:00:00Z')).toBeUndefined();
    expect(dockerTime('2025-01-02T03:04:05.123Z')).toBe('2025-01-02T03:04:05.123Z');
  });
  it('builds port bindings', () => {
    expect(portBindingsFor([{ containerPort: 80, hostPort: 8080 }, { containerPort: 53, hostPort: 5353, protocol: 'UDP', hostIP: '127.0.0.1' }])).toEqual({
      ExposedPorts: { '80/tcp': {}, '53/udp': {} },
      PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }], '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }] },
    });
  });
});

describe('toContainerInfo', () => {
  it('reads labels, state, times and ip', () => {
    const info = toContainerInfo({
      Id: 'abc',
      Name: '/k8s_app_web_default_u1_2',
      Created: '2025-01-01T00:00:00Z',
      Image: 'sha256:img',
      State: { Status: 'exited', ExitCode: 137, StartedAt: '2025-01-01T00:00:01Z', FinishedAt: '2025-01-01T00:00:09Z', OOMKilled: true, Pid: 0 },
      Config: {
        Image: 'kubeling/busybox:test',
        Labels: { 'io.kubernetes.pod.uid': 'u1', 'io.kubernetes.container.name': 'app', 'io.kubernetes.container.restartCount': '2' },
      },
      NetworkSettings: { IPAddress: '', Networks: { bridge: { IPAddress: '172.17.0.5' } } },
    });
    expect(info).toMatchObject({
      id: 'abc', name: 'k8s_app_web_default_u1_2', podUid: 'u1', containerName: 'app', attempt: 2, isSandbox: false,
      state: 'exited', exitCode: 137, oomKilled: true, finishedAt: '2025-01-01T00:00:09Z', image: 'kubeling/busybox:test',
      imageID: 'sha256:img', ip: '172.17.0.5',
    });
    expect(info.pid).toBeUndefined();
  });
  it('leaves exitCode and finishedAt out while running', () => {
    const info = toContainerInfo({ Id: 'x', State: { Status: 'running', ExitCode: 0, FinishedAt: '0001-01-01T00:00:00Z' }, Config: { Labels: null } });
    expect(info.state).toBe('running');
    expect(info.exitCode).toBeUndefined();
    expect(info.finishedAt).toBeUndefined();
  });
});

describe('parseDockerHost', () => {
  it('reads unix and tcp hosts', () => {
    expect(parseDockerHost('unix:///run/docker.sock')).toEqual({ socketPath: '/run/docker.sock' });
    expect(parseDockerHost('unix://')).toEqual({ socketPath: '/var/run/docker.sock' });
    expect(parseDockerHost('tcp://127.0.0.1:2376')).toEqual({ host: '127.0.0.1', port: 2376, protocol: 'http' });
    expect(parseDockerHost('tcp://docker')).toEqual({ host: 'docker', port: 2375, protocol: 'http' });
    expect(() => parseDockerHost('ssh://x')).toThrow(/unsupported docker host/);
  });
});

describe('resolvConf', () => {
  it.each([
    [
      'ClusterFirst',
      { nameservers: ['10.43.0.10'], searches: ['default.svc.cluster.local', 'svc.cluster.local', 'cluster.local'], options: ['ndots:5'] },
      'nameserver 10.43.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n',
    ],
    ['two nameservers, no search or options', { nameservers: ['1.1.1.1', '8.8.8.8'], searches: [], options: [] }, 'nameserver 1.1.1.1\nnameserver 8.8.8.8\n'],
    ['options only', { nameservers: [], searches: [], options: ['ndots:2', 'edns0'] }, 'options ndots:2 edns0\n'],
    ['empty', { nameservers: [], searches: [], options: [] }, ''],
  ])('%s', (_name, dns, want) => expect(resolvConf(dns)).toBe(want));
});
