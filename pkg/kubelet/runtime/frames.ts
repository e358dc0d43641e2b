// frames: splits Docker's multiplexed stdout/stderr byte stream (8-byte frame headers) and JSON-lines streams.
import type { Readable, PassThrough } from 'node:stream';

/** Frame is one chunk of a multiplexed stream: stream 0 stdin, 1 stdout, 2 stderr. */
export interface Frame {
  stream: number;
  data: Buffer;
}

/**
 * FrameDecoder reassembles frames across chunk boundaries. Each frame is a header
 * `[stream, 0, 0, 0, size (uint32 big-endian)]` followed by `size` bytes.
 */
export class FrameDecoder {
  #pending: Buffer = Buffer.alloc(0);

  /** push adds bytes and returns the frames now complete. */
  push(chunk: Buffer): Frame[] {
    let buf = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    const frames: Frame[] = [];
    while (buf.length >= 8) {
      const size = buf.readUInt32BE(4);
      if (buf.length < 8 + size) break;
      frames.push({ stream: buf[0]!, data: buf.subarray(8, 8 + size) });
      buf = buf.subarray(8 + size);
    }
    this.#pending = Buffer.from(buf);
    return frames;
  }
}

/** demuxBuffer splits a whole multiplexed buffer, e.g. a non-follow logs answer. */
export function demuxBuffer(buf: Buffer): Frame[] {
  return new FrameDecoder().push(buf);
}

/**
 * demux pipes a multiplexed `source` into `stdout` and `stderr` (which may be the same stream, to merge them in
 * order), honouring back-pressure, and ends them when the source ends. Destroying an output destroys the source.
 */
export function demux(source: Readable, stdout: PassThrough, stderr: PassThrough): void {
  const decoder = new FrameDecoder();
  const outputs = stdout === stderr ? [stdout] : [stdout, stderr];
  source.on('data', (chunk: Buffer) => {
    for (const f of decoder.push(chunk)) {
      const out = f.stream === 2 ? stderr : stdout;
      if (!out.writableEnded && !out.write(f.data)) {
        source.pause();
        out.once('drain', () => source.resume());
      }
    }
  });
  const finish = (): void => {
    for (const o of outputs) if (!o.writableEnded) o.end();
  };
  source.on('end', finish);
  source.on('close', finish);
  source.on('error', (err) => {
    for (const o of outputs) o.destroy(err);
  });
  for (const o of outputs) o.on('close', () => source.destroy());
}

/** LineSplitter turns a byte stream into complete lines (for Docker's JSON-lines event and progress streams). */
export class LineSplitter {
  #rest = '';

  /** push adds text and returns the complete non-empty lines. */
  push(chunk: string): string[] {
    const parts = (this.#rest + chunk).split('\n');
    this.#rest = parts.pop() ?? '';
    return parts.map((l) => l.trim()).filter((l) => l.length > 0);
  }
}
