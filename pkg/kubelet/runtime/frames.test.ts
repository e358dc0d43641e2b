// frames.test: the multiplexed-stream decoder and the line splitter.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { demux, demuxBuffer, FrameDecoder, LineSplitter } from './frames.ts';

function frame(stream: number, text: string): Buffer {
  const data = Buffer.from(text);
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(data.length, 4);
  return Buffer.concat([h, data]);
}

describe('FrameDecoder', () => {
  it('splits whole buffers', () => {
    const frames = demuxBuffer(Buffer.concat([frame(1, 'out'), frame(2, 'err'), frame(1, '')]));
    expect(frames.map((f) => [f.stream, f.data.toString()])).toEqual([[1, 'out'], [2, 'err'], [1, '']]);
  });
  it('reassembles frames split at any byte', () => {
    const all = Buffer.concat([frame(1, 'hello '), frame(2, 'oops'), frame(1, 'world')]);
    for (let cut = 1; cut < all.length; cut++) {
      const d = new FrameDecoder();
      const got = [...d.push(all.subarray(0, cut)), ...d.push(all.subarray(cut))];
      expect(got.map((f) => f.data.toString()).join('|')).toBe('hello |oops|world');
    }
  });
});

describe('demux', () => {
  it('routes stdout and stderr and ends both', async () => {
    const src = new PassThrough();
    const out = new PassThrough();
    const err = new PassThrough();
    demux(src, out, err);
    src.end(Buffer.concat([frame(1, 'a'), frame(2, 'b'), frame(1, 'c')]));
    const read = async (s: PassThrough): Promise<string> => {
      let t = '';
      for await (const c of s) t += c;
      return t;
    };
    expect(await Promise.all([read(out), read(err)])).toEqual(['ac', 'b']);
  });
  it('merges in order into one stream', async () => {
    const src = new PassThrough();
    const out = new PassThrough();
    demux(src, out, out);
    src.end(Buffer.concat([frame(1, '1'), frame(2, '2'), frame(1, '3')]));
    let t = '';
    for await (const c of out) t += c;
    expect(t).toBe('123');
  });
});

describe('LineSplitter', () => {
  it('keeps partial lines for later', () => {
    const s = new LineSplitter();
    expect(s.push('{"a":1}\n{"b"')).toEqual(['{"a":1}']);
    expect(s.push(':2}\n\n')).toEqual(['{"b":2}']);
  });
});
