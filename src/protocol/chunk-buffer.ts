/**
 * A read buffer fed chunk by chunk from a socket. Decoders take zero-copy views out of it.
 *
 * Invariant that makes the views safe: bytes already handed out are never overwritten. When the
 * buffer drains we adopt the next chunk as-is (no copy); when a partial frame remains we copy it
 * into a fresh allocation instead of compacting in place.
 */
const EMPTY = Buffer.alloc(0);

/**
 * Index of `byte` in buf[from, to), or -1. A request line is usually a few dozen bytes: scanning
 * them in JavaScript beats Buffer#indexOf, a call into C++.
 */
export function indexOfByte(buf: Buffer, byte: number, from = 0, to = buf.length): number {
  if (to - from <= 256) {
    for (let i = from; i < to; i++) if (buf[i] === byte) return i;
    return -1;
  }
  const at = buf.indexOf(byte, from);
  return at === -1 || at >= to ? -1 : at;
}

export class ChunkBuffer {
  private buf: Buffer = EMPTY;
  private start = 0;
  private end = 0;
  /** true when `buf` is our own allocation, so its tail (past `end`) may be written */
  private owned = false;

  get length(): number {
    return this.end - this.start;
  }

  push(chunk: Buffer): void {
    const n = chunk.length;
    if (n === 0) return;
    if (this.start === this.end) {
      this.buf = chunk;
      this.start = 0;
      this.end = n;
      this.owned = false;
      return;
    }
    if (this.owned && this.end + n <= this.buf.length) {
      chunk.copy(this.buf, this.end);
      this.end += n;
      return;
    }
    this.grow(this.end - this.start + n);
    chunk.copy(this.buf, this.end);
    this.end += n;
  }

  /** Make room for at least `total` buffered bytes (a decoder knows a big frame is coming). */
  reserve(total: number): void {
    if (this.owned && this.buf.length - this.start >= total) return;
    if (total <= this.length) return;
    this.grow(total);
  }

  private grow(total: number): void {
    const remaining = this.end - this.start;
    const next = Buffer.allocUnsafe(Math.max(total, remaining * 2, 4096));
    this.buf.copy(next, 0, this.start, this.end);
    this.buf = next;
    this.start = 0;
    this.end = remaining;
    this.owned = true;
  }

  byteAt(offset: number): number {
    return this.buf[this.start + offset];
  }

  /** Offset (relative to the read position) of `byte` at or after `from`, or -1. */
  indexOf(byte: number, from = 0, limit = this.length): number {
    const at = indexOfByte(this.buf, byte, this.start + from, this.start + Math.min(limit, this.length));
    return at === -1 ? -1 : at - this.start;
  }

  readUInt16BE(offset: number): number {
    return this.buf.readUInt16BE(this.start + offset);
  }

  readUInt32BE(offset: number): number {
    return this.buf.readUInt32BE(this.start + offset);
  }

  /** A view of the next n bytes, consumed. Stays valid after later pushes. */
  take(n: number): Buffer {
    const view = this.buf.subarray(this.start, this.start + n);
    this.start += n;
    return view;
  }

  /** A view of the next n bytes without consuming them. */
  peek(n: number): Buffer {
    return this.buf.subarray(this.start, this.start + Math.min(n, this.length));
  }

  skip(n: number): void {
    this.start += Math.min(n, this.length);
  }

  clear(): void {
    this.buf = EMPTY;
    this.start = 0;
    this.end = 0;
    this.owned = false;
  }
}
