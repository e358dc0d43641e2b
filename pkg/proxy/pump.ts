// pump: one direction of a proxied TCP connection without a copy or an allocation per chunk — the source reads into one reusable buffer (net's `onread`), each chunk is written to the other socket at once, and the source stops reading while a write is pending.
import type { OnReadOpts, Socket } from 'node:net';

/** PUMP_MIN_BUFFER is the read buffer a direction starts with: small, as most connections carry little. */
export const PUMP_MIN_BUFFER = 16 * 1024;
/** PUMP_MAX_BUFFER is what a direction's buffer grows to once a read fills it (a stream): fewer reads and writes per byte. */
export const PUMP_MAX_BUFFER = 256 * 1024;

/**
 * nextBufferSize is the size of the next read buffer: it quadruples (up to max) when the last read filled the
 * buffer, and stays otherwise, so a request/response connection keeps 16 KiB and a bulk stream reaches 256 KiB after
 * two full reads.
 *
 * Example: (16384 read into 16384, max 262144) → 65536; (1200 read into 16384) → 16384; (262144 into 262144) → 262144.
 */
export function nextBufferSize(read: number, size: number, max: number): number {
  return read >= size && size < max ? Math.min(size * 4, max) : size;
}

/**
 * Pump moves what `src` reads to `dst`. Give `onread` to the source socket's constructor (net.connect): libuv then
 * reads into the pump's buffer and calls back with the byte count, and the pump writes that slice to `dst`. A write
 * the kernel takes whole returns with nothing queued, so the buffer is free for the next read at once; a write that
 * stays pending (the destination's socket buffer is full) still holds the slice, so the pump stops the source
 * (returning false from onread = pause, the kernel window closes upstream: back-pressure) and resumes it when that
 * write completes. At most one chunk per direction is ever held in user space. The source's end, error and close
 * stay with the caller (half-close: `src.on('end', () => dst.end())`); the source must be flowing (`resume()`) for
 * its 'end' to be emitted.
 *
 * Memory: one buffer per direction, 16 KiB, grown to 256 KiB for streams (nextBufferSize); nothing is allocated
 * per chunk.
 */
export class Pump {
  /** onread is the source's `onread` option */
  readonly onread: OnReadOpts;
  private buf: Buffer;
  private dst: Socket | undefined;
  private src: Socket | undefined;
  private waiting = false;
  private readonly max: number;

  constructor(dst?: Socket, opts: { min?: number; max?: number } = {}) {
    this.dst = dst;
    this.max = opts.max ?? PUMP_MAX_BUFFER;
    this.buf = Buffer.allocUnsafe(Math.min(opts.min ?? PUMP_MIN_BUFFER, this.max));
    // buffer as a function: net asks for the next read's buffer after each callback, so the buffer may grow
    this.onread = { buffer: () => this.buf, callback: (n, b) => this.chunk(n, b as Buffer) };
  }

  /** attach names the source (to resume it) and the destination, when the pump was made before either existed. */
  attach(src: Socket, dst: Socket): void {
    this.src = src;
    this.dst = dst;
  }

  /** bufferSize is the current read buffer's size (tests). */
  get bufferSize(): number {
    return this.buf.length;
  }

  private chunk(n: number, b: Buffer): boolean {
    const dst = this.dst;
    if (!dst || dst.destroyed) return false;
    dst.write(n === b.length ? b : b.subarray(0, n), this.flushed);
    // a pending write holds b; reading into it again is safe once it completed, and the source waits for that
    const size = nextBufferSize(n, b.length, this.max);
    if (size !== b.length) this.buf = Buffer.allocUnsafe(size);
    if (dst.writableLength === 0) return true;
    this.waiting = true;
    return false;
  }

  /** flushed is every write's callback; it resumes the source only after a write that had stayed pending. */
  private readonly flushed = (err?: Error | null) => {
    if (!this.waiting) return;
    this.waiting = false;
    if (!err && this.src && !this.src.destroyed) this.src.resume();
  };
}
