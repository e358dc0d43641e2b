// udp.test: the UDP forwarder over local sockets — request/response relayed from the service address, one flow per client, idle expiry, stale flows dropped.
import { afterEach, describe, expect, it } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { silentLogger } from '../util/log.ts';
import { EndpointPicker } from './picker.ts';
import type { Target } from './servicemap.ts';
import { UdpListener } from './udp.ts';

const log = silentLogger();
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function bound(handler?: (s: Socket) => void): Promise<{ s: Socket; port: number }> {
  const s = createSocket('udp4');
  handler?.(s);
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  cleanups.push(() => new Promise((r) => s.close(() => r(undefined))));
  return { s, port: s.address().port };
}

/** echo answers `<name>:<datagram>` to whoever sent it. */
const echo = async (name: string): Promise<Target> => {
  const { port } = await bound((s) => s.on('message', (m, r) => s.send(`${name}:${m}`, r.port, r.address)));
  return { ip: '127.0.0.1', port };
};

async function listener(targets: Target[], idleTimeoutMs = 30_000): Promise<{ l: UdpListener; port: number; picker: EndpointPicker }> {
  const picker = new EndpointPicker();
  picker.set(targets, 0);
  const probe = createSocket('udp4');
  await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
  const port = probe.address().port;
  await new Promise((r) => probe.close(() => r(undefined)));
  const l = new UdpListener({ ip: '127.0.0.1', port, picker, idleTimeoutMs, log });
  await l.listen();
  cleanups.push(() => l.close());
  return { l, port, picker };
}

async function client(): Promise<{ ask: (port: number, msg: string) => Promise<{ text: string; from: string }> }> {
  const { s } = await bound();
  return {
    ask: (port, msg) =>
      new Promise((resolve) => {
        s.once('message', (m, r) => resolve({ text: String(m), from: `${r.address}:${r.port}` }));
        s.send(msg, port, '127.0.0.1');
      }),
  };
}

describe('UdpListener', () => {
  it('relays replies from the service address; a client keeps its flow, another client goes round robin', async () => {
    const { l, port } = await listener([await echo('a'), await echo('b')]);
    const c1 = await client();
    const c2 = await client();
    expect(await c1.ask(port, 'x')).toEqual({ text: 'a:x', from: `127.0.0.1:${port}` });
    expect((await c1.ask(port, 'y')).text).toBe('a:y');
    expect((await c2.ask(port, 'z')).text).toBe('b:z');
    expect(l.flowCount).toBe(2);
  });

  it('ends idle flows, and flows whose endpoint left', async () => {
    const { l, port, picker } = await listener([await echo('a')], 200);
    const c = await client();
    await c.ask(port, 'x');
    expect(l.flowCount).toBe(1);
    await new Promise((r) => setTimeout(r, 500));
    expect(l.flowCount).toBe(0);
    await c.ask(port, 'y');
    picker.set([await echo('b')], 0);
    l.dropStaleFlows();
    expect(l.flowCount).toBe(0);
    expect((await c.ask(port, 'z')).text).toBe('b:z');
  });
});
