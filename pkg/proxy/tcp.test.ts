// tcp.test: the TCP forwarder over local sockets — round robin, a refusing endpoint skipped, all refusing = reset, half-close, back-pressure, endpoint swap.
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { silentLogger } from '../util/log.ts';
import { EndpointPicker } from './picker.ts';
import type { Target } from './servicemap.ts';
import { TcpListener } from './tcp.ts';

const log = silentLogger();
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** backend starts a local server running `onConn` and returns its target. */
async function backend(onConn: (s: Socket) => void, opts: { allowHalfOpen?: boolean } = {}): Promise<{ target: Target; server: Server }> {
  const server = createServer({ allowHalfOpen: opts.allowHalfOpen ?? false }, onConn);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const sockets = new Set<Socket>();
  server.on('connection', (s) => (sockets.add(s), s.on('close', () => sockets.delete(s))));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => server.close(() => r(undefined)));
  });
  return { target: { ip: '127.0.0.1', port: (server.address() as { port: number }).port }, server };
}

/** refusingTarget is a port nothing listens on. */
async function refusingTarget(): Promise<Target> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return { ip: '127.0.0.1', port };
}

async function proxy(targets: Target[], affinity = 0): Promise<{ l: TcpListener; port: number; picker: EndpointPicker }> {
  const picker = new EndpointPicker();
  picker.set(targets, affinity);
  const probe = await refusingTarget();
  const l = new TcpListener({ ip: '127.0.0.1', port: probe.port, picker, log, connectTimeoutMs: 1000 });
  await l.listen();
  cleanups.push(async () => {
    await Promise.race([l.close(), new Promise((r) => setTimeout(r, 100))]);
    l.destroyConnections();
  });
  return { l, port: probe.port, picker };
}

/** request sends `body`, half-closes and resolves with everything the other side sent before closing. */
function request(port: number, body = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let out = '';
    c.setEncoding('utf8');
    c.on('data', (d) => (out += d));
    c.on('end', () => {
      c.end();
      resolve(out);
    });
    c.on('error', reject);
    c.end(body);
  });
}

const named = (name: string) => backend((s) => s.end(name));

describe('TcpListener', () => {
  it('spreads connections round robin', async () => {
    const a = await named('a');
    const b = await named('b');
    const { port } = await proxy([a.target, b.target]);
    const got = [];
    for (let i = 0; i < 4; i++) got.push(await request(port));
    expect(got).toEqual(['a', 'b', 'a', 'b']);
  });

  it('skips an endpoint that refuses, each connection still succeeds', async () => {
    const a = await named('a');
    const dead = await refusingTarget();
    const { port } = await proxy([dead, a.target]);
    for (let i = 0; i < 4; i++) expect(await request(port)).toBe('a');
  });

  it('resets the client at once when every endpoint refuses', async () => {
    const { port } = await proxy([await refusingTarget(), await refusingTarget()]);
    const t0 = Date.now();
    const err = await request(port).then(
      () => undefined,
      (e: NodeJS.ErrnoException) => e.code,
    );
    expect(err).toBe('ECONNRESET');
    expect(Date.now() - t0).toBeLessThan(500);
  });

  it('carries half-closes both ways: the backend sees end, then answers', async () => {
    const b = await backend(
      (s) => {
        let got = '';
        s.setEncoding('utf8');
        s.on('data', (d) => (got += d));
        s.on('end', () => s.end(`got ${got}`));
      },
      { allowHalfOpen: true },
    );
    const { port } = await proxy([b.target]);
    expect(await request(port, 'hello')).toBe('got hello');
  });

  it('pushes back on a fast client when the backend does not read (no unbounded buffering)', async () => {
    let backendSock: Socket | undefined;
    const b = await backend((s) => {
      backendSock = s;
      s.pause();
    });
    const { port } = await proxy([b.target]);
    const c = connect({ host: '127.0.0.1', port });
    cleanups.push(() => c.destroy());
    await new Promise((r) => c.once('connect', r));
    const chunk = Buffer.alloc(64 * 1024);
    const deadline = Date.now() + 700;
    while (Date.now() < deadline) {
      if (c.write(chunk)) continue;
      await new Promise<void>((r) => {
        const on = () => (clearTimeout(t), r());
        const t = setTimeout(() => (c.off('drain', on), r()), 50);
        c.once('drain', on);
      });
    }
    // what left the client is bounded by socket buffers on both hops plus the proxy's stream high-water marks
    const sent = c.bytesWritten - c.writableLength;
    expect(sent).toBeGreaterThan(64 * 1024);
    expect(sent).toBeLessThan(24 * 1024 * 1024);
    expect(backendSock).toBeDefined();
  });

  it('keeps an established connection when its endpoint leaves the list, and new connections follow the new list', async () => {
    const echo = await backend((s) => s.pipe(s));
    const other = await named('other');
    const { port, picker } = await proxy([echo.target]);
    const c = connect({ host: '127.0.0.1', port });
    cleanups.push(() => c.destroy());
    c.setEncoding('utf8');
    const read = () => new Promise<string>((r) => c.once('data', r));
    c.write('one');
    expect(await read()).toBe('one');
    picker.set([other.target], 0);
    expect(await request(port)).toBe('other');
    c.write('two');
    expect(await read()).toBe('two');
  });
});
