// audit.test: the audit event's shape (objectRef, sources, stages, failed authentication), the bounded buffer and the rotating file.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuditLog,
  BufferedWriter,
  RotatingFile,
  authMethods,
  backupName,
  backupTime,
  backupsToRemove,
  microTime,
  newEvent,
  serialize,
  sourceIPs,
  type AuditEvent,
  type AuditSink,
} from './audit.ts';

const fakeReq = (method: string, url: string, headers: Record<string, string> = {}) => ({ method, url, headers, socket: { remoteAddress: '::ffff:127.0.0.1' } }) as unknown as IncomingMessage;

describe('event fields', () => {
  it('microTime has microseconds in UTC', () => {
    expect(microTime(Date.UTC(2024, 4, 1, 10, 0, 0, 123) + 0.456)).toBe('2024-05-01T10:00:00.123456Z');
    expect(microTime(Date.UTC(2024, 4, 1))).toBe('2024-05-01T00:00:00.000000Z');
  });

  it.each<[string, Record<string, string>, string | undefined, string[]]>([
    ['the peer only', {}, '::ffff:10.0.0.1', ['10.0.0.1']],
    ['forwarded first, each once', { 'x-forwarded-for': '1.2.3.4, 10.0.0.1', 'x-real-ip': '5.6.7.8' }, '10.0.0.1', ['1.2.3.4', '10.0.0.1', '5.6.7.8']],
    ['invalid addresses skipped', { 'x-forwarded-for': 'nope, ::1' }, undefined, ['::1']],
  ])('sourceIPs: %s', (_n, headers, remote, want) => expect(sourceIPs(headers, remote)).toEqual(want));

  it.each<[string, Record<string, string>, string, string]>([
    ['no credentials', {}, '/api', 'Authentication failed, no credentials provided'],
    ['a bearer token', { authorization: 'Bearer abc' }, '/api', 'Authentication failed, attempted: bearer'],
    ['basic', { authorization: 'Basic dTpw' }, '/api', 'Authentication failed, attempted: basic'],
    ['access_token', {}, '/api?access_token=x', 'Authentication failed, attempted: access_token'],
  ])('authMethods: %s', (_n, headers, url, want) => expect(authMethods({ headers, url, socket: {} } as unknown as IncomingMessage)).toBe(want));

  it.each<[string, string, string, AuditEvent['objectRef'], boolean]>([
    ['POST', '/api/v1/namespaces/default/pods', 'create', { resource: 'pods', namespace: 'default', apiVersion: 'v1' }, false],
    ['GET', '/apis/apps/v1/namespaces/a/deployments/web', 'get', { resource: 'deployments', namespace: 'a', name: 'web', apiGroup: 'apps', apiVersion: 'v1' }, false],
    ['GET', '/api/v1/namespaces/a/pods?watch=true&resourceVersion=5', 'watch', { resource: 'pods', namespace: 'a', apiVersion: 'v1' }, true],
    ['GET', '/api/v1/namespaces/a/pods/web/log?follow=true', 'get', { resource: 'pods', namespace: 'a', name: 'web', apiVersion: 'v1', subresource: 'log' }, true],
    ['DELETE', '/api/v1/namespaces/kube-system', 'delete', { resource: 'namespaces', namespace: 'kube-system', name: 'kube-system', apiVersion: 'v1' }, false],
    ['GET', '/healthz', 'get', undefined, false],
  ])('newEvent: %s %s', (method, url, verb, ref, long) => {
    const { event, longRunning } = newEvent(fakeReq(method, url, { 'user-agent': 'kubectl/v1.32.0' }), Date.UTC(2024, 0, 1), 'id-1');
    expect(event).toMatchObject({ kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'Metadata', auditID: 'id-1', requestURI: url, verb, user: {}, sourceIPs: ['127.0.0.1'], userAgent: 'kubectl/v1.32.0' });
    expect(event.objectRef).toEqual(ref);
    expect(longRunning).toBe(long);
  });

  it('truncates a long user agent as upstream', () => {
    const { event } = newEvent(fakeReq('GET', '/version', { 'user-agent': 'x'.repeat(2000) }), 0, 'i');
    expect(event.userAgent).toBe(`${'x'.repeat(1024)}...TRUNCATED`);
  });

  it('serialize keeps upstream\'s field order and leaves out what is unset', () => {
    const { event } = newEvent(fakeReq('GET', '/api/v1/pods'), 0, 'i');
    const line = serialize({ ...event, stage: 'ResponseComplete', stageTimestamp: microTime(1), responseStatus: { metadata: {}, code: 200 }, annotations: { a: 'b' } });
    expect(line.endsWith('}\n')).toBe(true);
    expect(Object.keys(JSON.parse(line))).toEqual(['kind', 'apiVersion', 'level', 'auditID', 'stage', 'requestURI', 'verb', 'user', 'sourceIPs', 'objectRef', 'responseStatus', 'requestReceivedTimestamp', 'stageTimestamp', 'annotations']);
  });
});

describe('rotation names', () => {
  it('backupName and backupTime round-trip (lumberjack format, UTC)', () => {
    const t = new Date(Date.UTC(2024, 4, 1, 10, 2, 3, 45));
    const name = backupName('/var/log/kubeling/audit.log', t);
    expect(name).toBe('/var/log/kubeling/audit-2024-05-01T10-02-03.045.log');
    expect(backupTime('/var/log/kubeling/audit.log', 'audit-2024-05-01T10-02-03.045.log')).toBe(t.getTime());
    expect(backupTime('/x/audit.log', 'audit.log')).toBeUndefined();
    expect(backupTime('/x/audit.log', 'other-2024-05-01T10-02-03.045.log')).toBeUndefined();
  });
  it('backupsToRemove keeps the newest maxBackups and drops the too old', () => {
    const day = 86_400_000;
    const now = 100 * day;
    const b: [string, number][] = [['a', now - 1 * day], ['b', now - 2 * day], ['c', now - 3 * day], ['d', now - 40 * day]];
    expect(backupsToRemove(b, 2, 0, now).sort()).toEqual(['c', 'd']);
    expect(backupsToRemove(b, 0, 30, now)).toEqual(['d']);
    expect(backupsToRemove(b, 0, 0, now)).toEqual([]);
  });
});

/** memorySink collects writes; `gate` holds every write until released. */
function memorySink(): AuditSink & { chunks: string[]; lines(): AuditEvent[]; hold(): () => void; fail: boolean } {
  let gate: Promise<void> | undefined;
  const s = {
    chunks: [] as string[],
    fail: false,
    lines: () => s.chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditEvent),
    hold: () => {
      let release!: () => void;
      gate = new Promise<void>((r) => (release = r));
      return () => {
        gate = undefined;
        release();
      };
    },
    write: async (c: string) => {
      if (gate) await gate;
      if (s.fail) throw new Error('disk full');
      s.chunks.push(c);
    },
    close: async () => undefined,
  };
  return s;
}

describe('BufferedWriter', () => {
  it('never waits: a full buffer drops and counts, the rest is written in order', async () => {
    const sink = memorySink();
    const release = sink.hold();
    const w = new BufferedWriter(sink, 3);
    expect(w.push('1\n')).toBe(true);
    await new Promise((r) => setImmediate(r)); // the first line is taken into the (held) write
    expect([w.push('2\n'), w.push('3\n'), w.push('4\n'), w.push('5\n')]).toEqual([true, true, true, false]);
    expect(w.dropped).toBe(1);
    release();
    await w.flush();
    expect(sink.chunks.join('')).toBe('1\n2\n3\n4\n');
    expect(w.queued).toBe(0);
  });
  it('a failed write drops its batch and counts it', async () => {
    const sink = memorySink();
    sink.fail = true;
    const drops: number[] = [];
    const w = new BufferedWriter(sink, 10, (n) => drops.push(n));
    w.push('a\n');
    w.push('b\n');
    await w.flush();
    expect(w.dropped).toBe(2);
    expect(drops).toEqual([2]);
  });
});

describe('RotatingFile', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kubeling-audit-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('appends (0600), rotates past maxsize and keeps maxbackup files', async () => {
    const path = join(dir, 'sub', 'audit.log');
    let t = Date.UTC(2024, 0, 1);
    const f = new RotatingFile(path, { maxSizeMB: 100 / (1024 * 1024), maxBackups: 2 }, () => new Date((t += 1000)));
    const line = `${'x'.repeat(59)}\n`; // 60 bytes: one per file at a 100-byte limit
    for (let i = 0; i < 5; i++) await f.write(line);
    await f.close();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toBe(line);
    const backups = readdirSync(join(dir, 'sub')).filter((n) => n !== 'audit.log').sort();
    // four rotations at clock readings 1, 3, 5, 7 s (each rotation reads the clock twice): the newest two are kept
    expect(backups).toEqual(['audit-2024-01-01T00-00-05.000.log', 'audit-2024-01-01T00-00-07.000.log']);
  });
});

describe('AuditLog over HTTP', () => {
  let server: Server;
  let base = '';
  const sink = memorySink();
  const audit = new AuditLog({ path: '-', sink });
  /** the handler plays the API server's hooks: begin, then the outcome the test path asks for */
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    audit.begin(req, res);
    const url = req.url ?? '';
    const bob = { name: 'bob', groups: ['devs', 'system:authenticated'] };
    if (url.startsWith('/api/v1/namespaces/default/configmaps') && req.method === 'POST') {
      audit.user(req, bob);
      audit.decision(req, { allowed: true, reason: 'RBAC: allowed by RoleBinding "x/default" of ClusterRole "edit" to User "bob"' });
      audit.object(req, { name: 'cm1', namespace: 'default' });
      res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
    } else if (url.startsWith('/api/v1/secrets')) {
      audit.user(req, { name: 'carol', groups: ['system:authenticated'] }, bob);
      audit.decision(req, { allowed: false, reason: '' });
      audit.status(req, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'secrets is forbidden: User "carol" cannot list', reason: 'Forbidden', code: 403 });
      res.writeHead(403).end('{}');
    } else if (url.includes('watch=true')) {
      audit.user(req, bob);
      audit.decision(req, { allowed: true, reason: '' });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"type":"ADDED"}\n');
      setTimeout(() => res.end(), 30);
    } else {
      res.writeHead(401, { connection: 'close' }).end('{}'); // authentication failed before any user
    }
  };
  beforeAll(async () => {
    server = createServer(handle);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const send = (method: string, path: string, headers: Record<string, string> = {}) =>
    new Promise<{ code: number; auditId: string }>((resolve, reject) => {
      const r = request(`${base}${path}`, { method, headers: { 'user-agent': 'kubectl/v1.32.0 (linux/amd64)', ...headers } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ code: res.statusCode!, auditId: String(res.headers['audit-id'] ?? '') }));
      });
      r.on('error', reject);
      r.end();
    });
  const eventsOf = async (id: string) => {
    await new Promise((r) => setTimeout(r, 20));
    await audit.flush();
    return sink.lines().filter((e) => e.auditID === id);
  };

  it('a create: one ResponseComplete with user, objectRef, code and the decision', async () => {
    const r = await send('POST', '/api/v1/namespaces/default/configmaps', { authorization: 'Bearer s3cr3t-token' });
    expect(r.code).toBe(201);
    expect(r.auditId).toMatch(/^[0-9a-f-]{36}$/);
    const evs = await eventsOf(r.auditId);
    expect(evs).toHaveLength(1);
    expect(evs[0]).toMatchObject({
      stage: 'ResponseComplete',
      requestURI: '/api/v1/namespaces/default/configmaps',
      verb: 'create',
      user: { username: 'bob', groups: ['devs', 'system:authenticated'] },
      sourceIPs: ['127.0.0.1'],
      userAgent: 'kubectl/v1.32.0 (linux/amd64)',
      objectRef: { resource: 'configmaps', namespace: 'default', name: 'cm1', apiVersion: 'v1' },
      responseStatus: { metadata: {}, code: 201 },
      annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': 'RBAC: allowed by RoleBinding "x/default" of ClusterRole "edit" to User "bob"' },
    });
    expect(evs[0]!.stageTimestamp >= evs[0]!.requestReceivedTimestamp).toBe(true);
    expect(Object.keys(evs[0]!.objectRef!)).toEqual(['resource', 'namespace', 'name', 'apiVersion']);
    expect(sink.chunks.join('')).not.toContain('s3cr3t-token');
  });

  it('a forbidden, impersonated request: the actor, the impersonated user, the status without its message', async () => {
    const r = await send('GET', '/api/v1/secrets', { 'audit-id': 'my-audit-id' });
    expect(r).toEqual({ code: 403, auditId: 'my-audit-id' });
    const [ev] = await eventsOf('my-audit-id');
    expect(ev).toMatchObject({ verb: 'list', user: { username: 'bob' }, impersonatedUser: { username: 'carol', groups: ['system:authenticated'] }, annotations: { 'authorization.k8s.io/decision': 'forbid', 'authorization.k8s.io/reason': '' } });
    expect(ev!.responseStatus).toEqual({ metadata: {}, status: 'Failure', reason: 'Forbidden', code: 403 });
  });

  it('a failed authentication: one ResponseStarted event, user {}, the methods tried, never the token', async () => {
    const r = await send('GET', '/api/v1/pods', { authorization: 'Bearer wrong-token-value' });
    expect(r.code).toBe(401);
    const evs = await eventsOf(r.auditId);
    expect(evs).toHaveLength(1);
    expect(evs[0]).toMatchObject({ stage: 'ResponseStarted', verb: 'list', user: {}, responseStatus: { metadata: {}, message: 'Authentication failed, attempted: bearer', code: 401 } });
    expect(evs[0]!.annotations).toBeUndefined();
    expect(sink.chunks.join('')).not.toContain('wrong-token-value');
  });

  it('a watch: ResponseStarted when the headers go out, ResponseComplete at its end', async () => {
    const r = await send('GET', '/api/v1/namespaces/default/pods?watch=true');
    const evs = await eventsOf(r.auditId);
    expect(evs.map((e) => [e.stage, e.verb, e.responseStatus?.code])).toEqual([
      ['ResponseStarted', 'watch', 200],
      ['ResponseComplete', 'watch', 200],
    ]);
    expect(evs[1]!.stageTimestamp >= evs[0]!.stageTimestamp).toBe(true);
  });
});
