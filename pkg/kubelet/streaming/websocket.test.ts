// Tests of the WebSocket channel framing and subprotocol negotiation helpers.
import { describe, expect, it } from 'vitest';
import { chooseProtocol, decodeChannelMessage, encodeChannelMessage, REMOTECOMMAND_WS_PROTOCOLS, splitList } from './websocket.ts';

describe('channel framing', () => {
  it('prefixes binary messages with the channel byte', () => {
    expect(encodeChannelMessage(1, Buffer.from('hi'), false)).toEqual(Buffer.from([1, 0x68, 0x69]));
    expect(decodeChannelMessage(Buffer.from([2, 0x61]), false)).toEqual({ channel: 2, data: Buffer.from('a') });
    expect(decodeChannelMessage(Buffer.alloc(0), false)).toBeUndefined();
  });
  it('uses a digit and base64 for the base64 protocols', () => {
    expect(encodeChannelMessage(1, Buffer.from('hi'), true)).toBe('1aGk=');
    expect(decodeChannelMessage(Buffer.from('0aGk='), true)).toEqual({ channel: 0, data: Buffer.from('hi') });
  });
});

describe('negotiation', () => {
  it('takes the first offered protocol we support', () => {
    expect(chooseProtocol(splitList('v9.channel.k8s.io, v4.channel.k8s.io,v5.channel.k8s.io'), REMOTECOMMAND_WS_PROTOCOLS)).toBe('v4.channel.k8s.io');
    expect(chooseProtocol(splitList(['v5.channel.k8s.io']), REMOTECOMMAND_WS_PROTOCOLS)).toBe('v5.channel.k8s.io');
    expect(chooseProtocol(splitList(undefined), REMOTECOMMAND_WS_PROTOCOLS)).toBeUndefined();
  });
});
