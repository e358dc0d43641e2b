// forward.test: upstream selection and relaying over UDP and TCP to a tiny loopback nameserver.
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode, encode } from 'dns-packet';
import { Forwarder, parseUpstream, upstreamsFrom } from './forward.ts';

describe('upstreams', () => {
  it('parses addresses with and without ports', () => {
    expect(parseUpstream('1.2.3.4')).toEqual({ host: '1.2.3.4', port: 53 });
    expect(parseUpstream('127.0.0.1:5300')).toEqual({ host: '127.0.0.1', port: 5300 });
    expect(parseUpstream('::1')).toEqual({ host: '::1', port: 53 });
    expect(parseUpstream('[fd00::1]:54')).toEqual({ host: 'fd00::1', port: 54 });
    expect(parseUpstream('1.2.3.4:0')).toBeUndefined();
  });
  it('skips the responder itself', () => {
    expect(upstreamsFrom(undefined, ['10.43.0.10', '192.0.2.53'], '10.43.0.10', 53)).toEqual([{ host: '192.0.2.53', port: 53 }]);
    expect(upstreamsFrom(['127.0.0.1:5300', '127.0.0.1:53'], [], '127.0.0.1', 53)).toEqual([{ host: '127.0.0.1', port: 5300 }]);
  });
});

describe('Forwarder', () => {
  const answer = (q: Buffer) => {
    const d = decode(q);
    return encode({ type: 'response', id: d.id, questions: d.questions, answers: [{ type: 'A', name: d.questions![0]!.name, ttl: 60, data: '192.0.2.7' }] });
  };
  const udp = createSocket('udp4');
  const tcp = createServer((s) => s.on('data', (d: Buffer) => {
    const a = answer(d.subarray(2));
    const len = Buffer.alloc(2);
    len.writeUInt16BE(a.length);
    s.end(Buffer.concat([len, a]));
  }));
  const silent = createSocket('udp4');
  let port = 0;
  let silentPort = 0;
  beforeAll(async () => {
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    port = udp.address().port;
    udp.on('message', (m, ri) => udp.send(answer(m), ri.port, ri.address));
    await new Promise<void>((r) => tcp.listen(port, '127.0.0.1', () => r()));
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
    silentPort = silent.address().port;
  });
  afterAll(() => {
    udp.close();
    tcp.close();
    silent.close();
  });
  const q = encode({ type: 'query', id: 777, flags: 256, questions: [{ type: 'A', name: 'example.test' }] });

  it('relays over UDP and TCP with the client id restored', async () => {
    const f = new Forwarder({ upstreams: [{ host: '127.0.0.1', port }] });
    for (const t of ['udp', 'tcp'] as const) {
      const r = decode((await f.forward(q, t))!);
      expect(r.id).toBe(777);
      expect(r.answers?.[0]).toMatchObject({ type: 'A', data: '192.0.2.7' });
    }
  });
  it('moves on from a silent upstream after the attempt timeout', async () => {
    const f = new Forwarder({ upstreams: [{ host: '127.0.0.1', port: silentPort }, { host: '127.0.0.1', port }], attemptTimeoutMs: 200 });
    const t0 = Date.now();
    expect(decode((await f.forward(q, 'udp'))!).answers).toHaveLength(1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
  });
  it('gives up (SERVFAIL) within the total budget and when full', async () => {
    const f = new Forwarder({ upstreams: [{ host: '127.0.0.1', port: silentPort }], attemptTimeoutMs: 100, totalTimeoutMs: 150 });
    expect(await f.forward(q, 'udp')).toBeUndefined();
    const full = new Forwarder({ upstreams: [{ host: '127.0.0.1', port: silentPort }], attemptTimeoutMs: 300, maxInFlight: 1 });
    const first = full.forward(q, 'udp');
    expect(await full.forward(q, 'udp')).toBeUndefined();
    expect(await first).toBeUndefined();
    expect(await new Forwarder({ upstreams: [] }).forward(q, 'udp')).toBeUndefined();
  });
});
