// Tests of port-forward helpers and the WebSocket channel variant (`v4.channel.k8s.io` with `?ports=`).
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { forwardError, handlePortForwardUpgrade, pairKey, parsePorts } from './portforward.ts';

describe('port-forward helpers', () => {
  it('parses ports lists', () => {
    expect(parsePorts('/portforward?ports=80,8080')).toEqual([80, 8080]);
    expect(parsePorts('/portforward?ports=80&ports=81')).toEqual([80, 81]);
    expect(parsePorts('/portforward')).toBeUndefined();
    expect(parsePorts('/portforward?ports=0')).toBeUndefined();
  });
  it('pairs streams by requestid, or by stream id for clients without it', () => {
    expect(pairKey({ streamtype: 'data', requestid: '4' }, 11)).toBe('4');
    expect(pairKey({ streamtype: 'error' }, 5)).toBe('5');
    expect(pairKey({ streamtype: 'data' }, 7)).toBe('5');
  });
  it('words errors like the kubelet', () => {
    expect(forwardError(80, new Error('connect ECONNREFUSED'), { pod: 'p', uid: 'u' })).toBe('error forwarding port 80 to pod p, uid u: connect ECONNREFUSED');
  });
});

describe('WebSocket channel port-forward', () => {
  let api: http.Server;
  let echo: net.Server;
  let apiPort = 0;
  let echoPort = 0;

  beforeAll(async () => {
    echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    echoPort = (echo.address() as AddressInfo).port;
    api = http.createServer((_req, res) => res.end());
    api.on('upgrade', (req, socket, head) => handlePortForwardUpgrade(req, socket, head, (port) => new Promise((resolve, reject) => {
      const s = net.connect(port === 80 ? echoPort : 1, '127.0.0.1');
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    }), { pod: 'p', uid: 'u' }));
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    apiPort = (api.address() as AddressInfo).port;
  });
  afterAll(async () => {
    api.closeAllConnections();
    await Promise.all([api, echo].map((s) => new Promise((r) => s.close(r))));
  });

  it('announces each port on its channels, forwards data, and reports a port that refuses', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${apiPort}/portforward?ports=80,81`, ['v4.channel.k8s.io']);
    const got: Record<number, Buffer[]> = {};
    const echoed = new Promise<string>((resolve) => {
      ws.on('message', (data: Buffer) => {
        (got[data[0]!] ??= []).push(data.subarray(1));
        if (data[0] === 0 && got[0]!.length === 2) resolve(data.subarray(1).toString());
      });
    });
    await new Promise((r) => ws.on('open', r));
    expect(ws.protocol).toBe('v4.channel.k8s.io');
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('ping')]));
    expect(await echoed).toBe('ping');
    expect(got[0]![0]!.readUInt16LE(0)).toBe(80);
    expect(got[1]![0]!.readUInt16LE(0)).toBe(80);
    expect(got[2]![0]!.readUInt16LE(0)).toBe(81);
    expect(Buffer.concat(got[3]!.slice(1)).toString()).toContain('error forwarding port 81 to pod p, uid u:');
    ws.close();
  });
});
