// Tests of the exec/attach protocol pieces: option parsing, statuses, resize parsing, and WebSocket sessions end to end.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  encodeStatus, exitStatus, handleRemoteCommandUpgrade, parseRemoteCommandOptions, protocolVersion, ResizeParser,
  type ExecStreams, type RemoteCommandOptions,
} from './remotecommand.ts';

describe('parseRemoteCommandOptions', () => {
  it('reads repeated command arguments and boolean flags (true or 1)', () => {
    expect(parseRemoteCommandOptions('/exec?command=ls&command=-l&command=%2F&container=c&stderr=true&stdout=1')).toEqual({
      command: ['ls', '-l', '/'], container: 'c', stdin: false, stdout: true, stderr: true, tty: false,
    });
  });
  it('drops stderr with a tty and rejects a request without any stream', () => {
    expect(parseRemoteCommandOptions('/exec?command=sh&stdin=true&stdout=true&stderr=true&tty=true').stderr).toBe(false);
    expect(() => parseRemoteCommandOptions('/exec?command=sh')).toThrow(/at least 1/);
  });
});

describe('statuses', () => {
  it('maps exit codes to the Status kubectl understands', () => {
    expect(exitStatus(0)).toEqual({ metadata: {}, status: 'Success' });
    expect(exitStatus(3)).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '3' }] } });
  });
  it('writes JSON from v4 on and the bare message before', () => {
    expect(JSON.parse(encodeStatus(exitStatus(2), 4)!.toString()).reason).toBe('NonZeroExitCode');
    expect(encodeStatus(exitStatus(0), 2)).toBeUndefined();
    expect(encodeStatus(exitStatus(2), 2)!.toString()).toContain('non-zero exit code');
    expect([protocolVersion('v5.channel.k8s.io'), protocolVersion('channel.k8s.io'), protocolVersion('v4.base64.channel.k8s.io')]).toEqual([5, 1, 4]);
  });
});

describe('ResizeParser', () => {
  it('reads newline-separated sizes split anywhere, and a final one without newline', () => {
    const p = new ResizeParser();
    expect(p.push(Buffer.from('{"Width":80,'))).toEqual([]);
    expect(p.push(Buffer.from('"Height":24}\n{"Width":100,"Height":30}\n{"Wid'))).toEqual([{ width: 80, height: 24 }, { width: 100, height: 30 }]);
    expect(p.push(Buffer.from('th":1,"Height":2}'))).toEqual([{ width: 1, height: 2 }]);
  });
});

describe('WebSocket exec sessions', () => {
  let server: http.Server;
  let port = 0;
  const seen: RemoteCommandOptions[] = [];
  const resizes: string[] = [];

  /** fakeStart "runs" a command: it upper-cases stdin to stdout, says "err" on stderr and exits with command[1]. */
  async function fakeStart(o: RemoteCommandOptions): Promise<ExecStreams> {
    seen.push(o);
    if (o.command[0] === 'missing') throw new Error('executable file not found');
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    stderr.end('err');
    let chunks = '';
    stdin.on('data', (c: Buffer) => (chunks += c.toString()));
    const done = new Promise<number>((resolve) => stdin.on('end', () => {
      stdout.end(chunks.toUpperCase());
      resolve(Number(o.command[1] ?? 0));
    }));
    if (!o.stdin) stdin.end();
    return { stdin, stdout, stderr, wait: () => done, resize: (w, h) => resizes.push(`${w}x${h}`) };
  }

  beforeAll(async () => {
    server = http.createServer((_req, res) => res.end());
    server.on('upgrade', (req, socket, head) => handleRemoteCommandUpgrade(req, socket, head, fakeStart));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  /** session runs one exec over WebSocket and collects what arrived per channel. */
  function session(query: string, protocol: string, send: (ws: WebSocket) => void = () => undefined): Promise<{ protocol: string; channels: Record<number, string>; close: number }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/exec?${query}`, [protocol]);
      const channels: Record<number, string> = {};
      const base64 = protocol.includes('base64');
      ws.on('open', () => send(ws));
      ws.on('message', (data: Buffer) => {
        const ch = base64 ? data[0]! - 48 : data[0]!;
        const body = base64 ? Buffer.from(data.subarray(1).toString(), 'base64') : data.subarray(1);
        channels[ch] = (channels[ch] ?? '') + body.toString();
      });
      ws.on('close', (code) => resolve({ protocol: ws.protocol, channels, close: code }));
      ws.on('error', reject);
    });
  }

  it('v5: stdin until the close signal, stdout, stderr, resize and an exit status', async () => {
    const r = await session('command=fake&command=7&stdin=true&stdout=true&stderr=true', 'v5.channel.k8s.io', (ws) => {
      ws.send(Buffer.concat([Buffer.from([4]), Buffer.from('{"Width":120,"Height":40}\n')]));
      ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('hello')]));
      ws.send(Buffer.from([0xff, 0]));
    });
    expect(r.protocol).toBe('v5.channel.k8s.io');
    expect(r.channels[1]).toBe('HELLO');
    expect(r.channels[2]).toBe('err');
    expect(JSON.parse(r.channels[3]!)).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '7' }] } });
    expect(r.close).toBe(1000);
    expect(resizes).toContain('120x40');
  });

  it('v4.base64: text frames with a digit channel and base64 payload', async () => {
    const r = await session('command=fake&stdout=true', 'v4.base64.channel.k8s.io');
    expect(r.protocol).toBe('v4.base64.channel.k8s.io');
    expect(JSON.parse(r.channels[3]!)).toEqual({ metadata: {}, status: 'Success' });
    expect(r.channels[2]).toBeUndefined(); // stderr was not asked for
  });

  it('a command that cannot start yields an InternalError status', async () => {
    const r = await session('command=missing&stdout=true', 'v5.channel.k8s.io');
    expect(JSON.parse(r.channels[3]!)).toMatchObject({ status: 'Failure', reason: 'InternalError', code: 500 });
    expect(r.channels[3]).toContain('executable file not found');
  });

  it('answers 400 when no subprotocol fits, so kubectl falls back to SPDY', async () => {
    const err = await session('command=fake&stdout=true', 'v9.channel.k8s.io').catch((e: Error) => e);
    expect(String(err)).toMatch(/400/);
  });
});
