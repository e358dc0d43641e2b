// pump.test: the endpoint→client direction of the TCP forwarder — buffer growth, bytes intact under back-pressure (the reused buffer is never overwritten while a write holds it), the endpoint paused by a client that does not read, the endpoint's half-close.
import { afterEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { silentLogger } from '../util/log.ts';
import { EndpointPicker } from './picker.ts';
import { nextBufferSize, PUMP_MAX_BUFFER, PUMP_MIN_BUFFER } from './pump.ts';
import { TcpListener } from './tcp.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('nextBufferSize', () => {
  const K = 1024;
  it.each([
    { name: 'a full read grows ×4', read: 16 * K, size: 16 * K, max: 256 * K, want: 64 * K },
    { name: 'growth stops at max', read: 128 * K, size: 128 * K, max: 256 * K, want: 256 * K },
    { name: 'a full read at max stays', read: 256 * K, size: 256 * K, max: 256 * K, want: 256 * K },
    { name: 'a short read keeps the size', read: 1200, size: 64 * K, max: 256 * K, want: 64 * K },
    { name: 'a short read never shrinks', read: 1, size: 256 * K, max: 256 * K, want: 256 * K },
  ])('$name', ({ read, size, max, want }) => {
    expect(nextBufferSize(read, size, max)).toBe(want);
  });
  it('defaults start small and end large', () => {
    expect(PUMP_MIN_BUFFER).toBeLessThan(PUMP_MAX_BUFFER);
  });
});

/** listen starts a server on 127.0.0.1:0 that destroys its sockets at cleanup. */
async function listen(onConn: (s: Socket) => void, allowHalfOpen = false): Promise<{ server: Server; port: number }> {
  const server = createServer({ allowHalfOpen }, onConn);
  const sockets = new Set<Socket>();
  server.on('connection', (s) => (sockets.add(s), s.on('close', () => sockets.delete(s))));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => server.close(() => r(undefined)));
  });
  return { server, port: (server.address() as { port: number }).port };
}

async function proxyTo(port: number): Promise<number> {
  const picker = new EndpointPicker();
  picker.set([{ ip: '127.0.0.1', port }], 0);
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const lport = (probe.address() as { port: number }).port;
  await new Promise((r) => probe.close(r));
  const l = new TcpListener({ ip: '127.0.0.1', port: lport, picker, log: silentLogger() });
  await l.listen();
  cleanups.push(async () => {
    await Promise.race([l.close(), new Promise((r) => setTimeout(r, 100))]);
    l.destroyConnections();
  });
  return lport;
}

/** pattern is `n` bytes that differ from chunk to chunk, so a buffer overwritten too early changes the hash. */
function pattern(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + (i >> 10)) & 0xff;
  return b;
}

describe('TcpListener endpoint→client (Pump)', () => {
  it('delivers a large download intact to a client that reads in bursts (pending writes, buffer growth)', async () => {
    const total = 24 * 1024 * 1024;
    const sent = createHash('sha256');
    const { port } = await listen((s) => {
      s.on('error', () => undefined);
      let left = total;
      let seed = 0;
      const more = () => {
        while (left > 0) {
          const n = Math.min(left, 10_000 + ((seed * 7919) % 90_000)); // odd sizes, never aligned to the pump's buffer
          const chunk = pattern(n, seed++);
          sent.update(chunk);
          left -= n;
          if (!s.write(chunk)) return void s.once('drain', more);
        }
        s.end();
      };
      more();
    });
    const lport = await proxyTo(port);
    const got = createHash('sha256');
    let bytes = 0;
    await new Promise<void>((resolve, reject) => {
      const c = connect({ host: '127.0.0.1', port: lport });
      cleanups.push(() => c.destroy());
      c.on('data', (d: Buffer) => {
        got.update(d);
        bytes += d.length;
        // stall now and then so the proxy's writes to the client stay pending
        if (bytes % 7 === 0 || d.length > 60_000) {
          c.pause();
          setTimeout(() => c.resume(), 2);
        }
      });
      c.on('end', resolve);
      c.on('error', reject);
    });
    expect(bytes).toBe(total);
    expect(got.digest('hex')).toBe(sent.digest('hex'));
  }, 30_000);

  it('pauses the endpoint while the client does not read (no unbounded buffering)', async () => {
    let backend: Socket | undefined;
    let written = 0;
    const { port } = await listen((s) => {
      backend = s;
      s.on('error', () => undefined);
      const chunk = Buffer.alloc(64 * 1024);
      const more = () => {
        while (s.write(chunk)) written += chunk.length;
        written += chunk.length;
        s.once('drain', more);
      };
      more();
    });
    const lport = await proxyTo(port);
    const c = connect({ host: '127.0.0.1', port: lport });
    cleanups.push(() => c.destroy());
    c.pause(); // never reads
    await new Promise((r) => c.once('connect', r));
    await new Promise((r) => setTimeout(r, 700));
    // what left the endpoint is bounded by the socket buffers of both hops plus one pump buffer
    const out = written - (backend?.writableLength ?? 0);
    expect(backend).toBeDefined();
    expect(out).toBeGreaterThan(64 * 1024);
    expect(out).toBeLessThan(24 * 1024 * 1024);
  });

  it("carries the endpoint's half-close to the client, and the client's later bytes still reach the endpoint", async () => {
    const { port } = await listen((s) => {
      let got = '';
      s.setEncoding('utf8');
      s.end('bye'); // half-close first
      s.on('data', (d) => (got += d));
      s.on('end', () => received(got));
    }, true);
    let received!: (s: string) => void;
    const backendGot = new Promise<string>((r) => (received = r));
    const lport = await proxyTo(port);
    const c = connect({ host: '127.0.0.1', port: lport, allowHalfOpen: true });
    cleanups.push(() => c.destroy());
    c.setEncoding('utf8');
    let fromBackend = '';
    c.on('data', (d) => (fromBackend += d));
    await new Promise((r) => c.once('end', r));
    expect(fromBackend).toBe('bye');
    c.end('late words');
    expect(await backendGot).toBe('late words');
  });
});
