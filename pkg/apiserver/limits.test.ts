// limits.test: the pure planners of limits.ts — connection admission, request classes, the watch budget's choice of victims — and the limits' configuration.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ConnectionTable, DEFAULT_LIMITS, Inflight, WatchBudget, admit, classify, looksLikeHttp, overBudget, resolveLimits, type ConnectionCounts } from './limits.ts';

const L = { maxConnections: 100, maxConnectionsPerIp: 50, maxUnauthenticated: 40, maxUnauthenticatedPerIp: 10 };

describe('admit', () => {
  const cases: [string, ConnectionCounts, ReturnType<typeof admit>][] = [
    ['room everywhere', { total: 0, perIp: 0, unauthenticated: 0, unauthenticatedPerIp: 0 }, 'accept'],
    ['the IP has its share of idle connections: its oldest goes', { total: 20, perIp: 10, unauthenticated: 20, unauthenticatedPerIp: 10 }, 'evict-same-ip'],
    ['the IP is at its cap with some idle: one of those goes', { total: 60, perIp: 50, unauthenticated: 5, unauthenticatedPerIp: 3 }, 'evict-same-ip'],
    ['the IP is at its cap, all authenticated: refused', { total: 60, perIp: 50, unauthenticated: 5, unauthenticatedPerIp: 0 }, 'refuse'],
    ['everyone\'s idle connections at the cap: the oldest of all goes', { total: 40, perIp: 1, unauthenticated: 40, unauthenticatedPerIp: 1 }, 'evict-oldest'],
    ['the server is full with some idle: the oldest goes', { total: 100, perIp: 2, unauthenticated: 7, unauthenticatedPerIp: 0 }, 'evict-oldest'],
    ['the server is full, all authenticated: refused', { total: 100, perIp: 2, unauthenticated: 0, unauthenticatedPerIp: 0 }, 'refuse'],
  ];
  it.each(cases)('%s', (_name, counts, want) => expect(admit(counts, L)).toBe(want));
});

describe('ConnectionTable', () => {
  let port = 1000;
  /** fakeSocket is what the table uses of a socket: its address, destroy() and the close event */
  const fakeSocket = (ip: string) => {
    const s = Object.assign(new EventEmitter(), { remoteAddress: ip, remotePort: port++, destroyed: false, destroy: () => {
      if (s.destroyed) return;
      s.destroyed = true;
      s.emit('close');
    } });
    return s as typeof s & Socket;
  };

  it('evicts the oldest unauthenticated connection of a full IP, refuses when all are authenticated, and counts closes', () => {
    const t = new ConnectionTable({ ...DEFAULT_LIMITS, maxConnections: 100, maxConnectionsPerIp: 3, maxUnauthenticated: 100, maxUnauthenticatedPerIp: 2 });
    const [a, b, c] = [fakeSocket('10.0.0.1'), fakeSocket('10.0.0.1'), fakeSocket('10.0.0.1')];
    expect(t.open(a) && t.open(b)).toBe(true);
    t.authenticated('10.0.0.1', a.remotePort);
    expect(t.open(c)).toBe(true); // b and c unauthenticated, a authenticated: 3 of 3
    const d = fakeSocket('10.0.0.1');
    expect(t.open(d)).toBe(true); // the IP is full: its oldest unauthenticated (b) goes
    expect([a.destroyed, b.destroyed, c.destroyed]).toEqual([false, true, false]);
    t.authenticated('10.0.0.1', c.remotePort);
    t.authenticated('10.0.0.1', d.remotePort);
    const e = fakeSocket('10.0.0.1');
    expect(t.open(e)).toBe(false); // all three authenticated: refused
    expect(e.destroyed).toBe(true);
    expect(t.open(fakeSocket('10.0.0.2'))).toBe(true); // another IP is not affected
    a.destroy();
    expect(t.open(fakeSocket('10.0.0.1'))).toBe(true);
    expect(t.stats).toEqual({ open: 4, unauthenticated: 2, refused: 1, evicted: 1 });
  });
});

describe('classify', () => {
  const cases: [string, string, string, ReturnType<typeof classify>][] = [
    ['GET', '/api/v1/pods', '', 'readonly'],
    ['GET', '/api/v1/pods', 'watch=true', 'long-running'],
    ['GET', '/api/v1/namespaces/a/pods/p', 'watch=1', 'long-running'],
    ['GET', '/api/v1/watch/pods', '', 'long-running'],
    ['GET', '/api/v1/namespaces/a/pods/p/log', 'follow=true', 'long-running'],
    ['POST', '/api/v1/namespaces/a/pods/p/exec', '', 'long-running'],
    ['GET', '/api/v1/namespaces/a/services/s:80/proxy/x', '', 'long-running'],
    ['POST', '/api/v1/namespaces/a/pods', '', 'mutating'],
    ['PATCH', '/apis/apps/v1/namespaces/a/deployments/d', '', 'mutating'],
    ['DELETE', '/api/v1/namespaces/a/pods', '', 'mutating'],
    ['GET', '/version', '', 'readonly'],
  ];
  it.each(cases)('%s %s?%s', (method, path, q, want) => expect(classify(method, path, new URLSearchParams(q))).toBe(want));
});

describe('Inflight', () => {
  it('refuses beyond a pool\'s limit except to system:masters, and gives slots back once', () => {
    const f = new Inflight({ ...DEFAULT_LIMITS, maxMutatingRequestsInflight: 1, maxRequestsInflight: 0 });
    const a = f.enter('mutating', false)!;
    expect(f.enter('mutating', false)).toBeUndefined();
    const admin = f.enter('mutating', true);
    expect(admin).toBeDefined();
    expect(f.enter('readonly', false)).toBeDefined(); // 0 = unlimited
    expect(f.enter('long-running', false)).toBeDefined();
    a();
    a();
    admin!();
    expect(f.count.mutating).toBe(0);
    expect(f.rejected).toBe(1);
  });
});

describe('overBudget', () => {
  const w = (id: number, user: string, queued: number) => ({ id, user, queued });
  const cases: [string, ReturnType<typeof w>[], number, number, number[]][] = [
    ['within both budgets', [w(1, 'a', 5), w(2, 'b', 5)], 10, 8, []],
    ['a user over its budget loses its biggest first', [w(1, 'a', 6), w(2, 'a', 3), w(3, 'b', 4)], 10, 8, [1]],
    ['the total over budget: the biggest go first', [w(1, 'a', 3), w(2, 'b', 7), w(3, 'c', 5)], 10, 100, [2]],
    ['both: per user first, then the total', [w(1, 'a', 9), w(2, 'a', 2), w(3, 'b', 6), w(4, 'c', 5)], 10, 10, [1, 3]],
    ['empty queues are never closed', [w(1, 'a', 0), w(2, 'b', 0)], 0, 0, []],
  ];
  it.each(cases)('%s', (_name, watches, total, perUser, want) => expect(overBudget(watches, total, perUser)).toEqual(want));
});

describe('WatchBudget', () => {
  it('closes the streams holding most once a report passes the budget, reading every stream afresh', () => {
    const b = new WatchBudget(100, 1000);
    const queued = [0, 0, 0];
    const closed: number[] = [];
    const hs = queued.map((_, i) => b.add(`u${i}`, () => queued[i], () => closed.push(i)));
    queued[0] = 60;
    hs[0].report(60);
    queued[1] = 30;
    hs[1].report(30);
    expect(closed).toEqual([]);
    // stream 1 drained meanwhile (its report is stale); stream 2's report passes the budget: stream 0 goes
    queued[1] = 0;
    queued[2] = 50;
    hs[2].report(50);
    expect(closed).toEqual([0]);
    expect(b.bytes).toBe(50);
    expect(b.streams).toBe(2);
    hs[2].release();
    hs[2].release();
    expect(b.bytes).toBe(0);
    expect(b.closed).toBe(1);
  });
});

describe('looksLikeHttp', () => {
  it.each([
    ['GET / HTTP/1.1', true],
    ['POST /api', true],
    ['HEAD /', true],
    ['PUT /x', true],
    ['OPTIONS *', true],
    ['\x16\x03\x01\x02\x00', false],
    ['SSH-2.0', false],
  ])('%j → %s', (s, want) => expect(looksLikeHttp(Buffer.from(s, 'latin1'))).toBe(want));
});

describe('resolveLimits', () => {
  it('merges defaults, the environment and the options, in that order', () => {
    const l = resolveLimits({ maxRequestsInflight: 7 }, JSON.stringify({ maxRequestsInflight: 5, maxMutatingRequestsInflight: 3 }));
    expect(l.maxRequestsInflight).toBe(7);
    expect(l.maxMutatingRequestsInflight).toBe(3);
    expect(l.watchBudgetBytes).toBe(DEFAULT_LIMITS.watchBudgetBytes);
  });
  it('keeps the headers timeout within the request timeout (Node requires it)', () => {
    expect(resolveLimits({ requestTimeoutMs: 1000, headersTimeoutMs: 5000 }, undefined).headersTimeoutMs).toBe(1000);
  });
  it('refuses unknown keys and bad values', () => {
    expect(() => resolveLimits({ nope: 1 } as never, undefined)).toThrow('unknown API limit "nope"');
    expect(() => resolveLimits({ maxConnections: -1 }, undefined)).toThrow('must be a non-negative number');
    expect(() => resolveLimits(undefined, '{')).toThrow('KUBELING_API_LIMITS is not JSON');
    expect(() => resolveLimits(undefined, '{"__proto__":1}')).toThrow('unknown API limit');
  });
});
