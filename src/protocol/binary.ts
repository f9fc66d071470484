import { ChunkBuffer } from './chunk-buffer.js';

/**
 * memcached binary protocol: constants, a chunk-by-chunk frame decoder (requests and responses
 * share the 24-byte header) and encoders. No I/O here.
 */

export const HEADER_LENGTH = 24;
export const MAGIC_REQUEST = 0x80;
export const MAGIC_RESPONSE = 0x81;
export const KEY_MAX_LENGTH = 250;

export const Op = {
  Get: 0x00,
  Set: 0x01,
  Add: 0x02,
  Replace: 0x03,
  Delete: 0x04,
  Increment: 0x05,
  Decrement: 0x06,
  Quit: 0x07,
  Flush: 0x08,
  GetQ: 0x09,
  Noop: 0x0a,
  Version: 0x0b,
  GetK: 0x0c,
  GetKQ: 0x0d,
  Append: 0x0e,
  Prepend: 0x0f,
  Stat: 0x10,
  SetQ: 0x11,
  AddQ: 0x12,
  ReplaceQ: 0x13,
  DeleteQ: 0x14,
  IncrementQ: 0x15,
  DecrementQ: 0x16,
  QuitQ: 0x17,
  FlushQ: 0x18,
  AppendQ: 0x19,
  PrependQ: 0x1a,
  Verbosity: 0x1b,
  Touch: 0x1c,
  GAT: 0x1d,
  GATQ: 0x1e,
  SaslListMechs: 0x20,
  SaslAuth: 0x21,
  SaslStep: 0x22,
  GATK: 0x23,
  GATKQ: 0x24,
} as const;

export const Status = {
  Ok: 0x0000,
  KeyNotFound: 0x0001,
  KeyExists: 0x0002,
  TooLarge: 0x0003,
  InvalidArguments: 0x0004,
  NotStored: 0x0005,
  NonNumeric: 0x0006,
  UnknownCommand: 0x0081,
  OutOfMemory: 0x0082,
  NotSupported: 0x0083,
  InternalError: 0x0084,
  Busy: 0x0085,
  TemporaryFailure: 0x0086,
} as const;

/** The error texts memcached 1.6 puts in the body of an error response. */
export const STATUS_TEXT: Record<number, string> = {
  [Status.KeyNotFound]: 'Not found',
  [Status.KeyExists]: 'Data exists for key.',
  [Status.TooLarge]: 'Too large.',
  [Status.InvalidArguments]: 'Invalid arguments',
  [Status.NotStored]: 'Not stored.',
  [Status.NonNumeric]: 'Non-numeric server-side value for incr or decr',
  [Status.UnknownCommand]: 'Unknown command',
  [Status.OutOfMemory]: 'Out of memory',
};

/** quiet opcode -> its loud twin (the proxy always asks backends the loud form: it must see success). */
const QUIET_TO_LOUD = new Map<number, number>([
  [Op.GetQ, Op.Get],
  [Op.GetKQ, Op.GetK],
  [Op.SetQ, Op.Set],
  [Op.AddQ, Op.Add],
  [Op.ReplaceQ, Op.Replace],
  [Op.DeleteQ, Op.Delete],
  [Op.IncrementQ, Op.Increment],
  [Op.DecrementQ, Op.Decrement],
  [Op.QuitQ, Op.Quit],
  [Op.FlushQ, Op.Flush],
  [Op.AppendQ, Op.Append],
  [Op.PrependQ, Op.Prepend],
  [Op.GATQ, Op.GAT],
  [Op.GATKQ, Op.GATK],
]);

export function isQuiet(opcode: number): boolean {
  return QUIET_TO_LOUD.has(opcode);
}

export function loudOpcode(opcode: number): number {
  return QUIET_TO_LOUD.get(opcode) ?? opcode;
}

/** One decoded frame. `raw` is the whole frame; the accessors below slice it without copying. */
export interface BinaryFrame {
  raw: Buffer;
  magic: number;
  opcode: number;
  keyLength: number;
  extrasLength: number;
  dataType: number;
  /** vbucket id in requests, status in responses */
  status: number;
  bodyLength: number;
  opaque: number;
}

export function frameExtras(f: BinaryFrame): Buffer {
  return f.raw.subarray(HEADER_LENGTH, HEADER_LENGTH + f.extrasLength);
}
export function frameKey(f: BinaryFrame): Buffer {
  const at = HEADER_LENGTH + f.extrasLength;
  return f.raw.subarray(at, at + f.keyLength);
}
export function frameValue(f: BinaryFrame): Buffer {
  return f.raw.subarray(HEADER_LENGTH + f.extrasLength + f.keyLength, HEADER_LENGTH + f.bodyLength);
}
/** CAS as the 8 raw bytes (never a JS number: it is unsigned 64-bit). */
export function frameCasBytes(f: BinaryFrame): Buffer {
  return f.raw.subarray(16, 24);
}
export function frameCas(f: BinaryFrame): bigint {
  return f.raw.readBigUInt64BE(16);
}
export function casIsZero(f: BinaryFrame): boolean {
  return f.raw.readUInt32BE(16) === 0 && f.raw.readUInt32BE(20) === 0;
}

export type BinaryDecodeProblem =
  /** first byte is not the expected magic: the stream cannot be trusted any more */
  | { problem: 'bad-magic'; magic: number }
  /** key + extras longer than the body */
  | { problem: 'bad-lengths'; header: BinaryFrame }
  /** body longer than the swallow limit: answer and close, never allocate it */
  | { problem: 'body-too-large'; header: BinaryFrame }
  /** body longer than maxBodyLength but small enough to skip: its bytes are discarded, stream stays in sync */
  | { problem: 'oversized'; header: BinaryFrame };

export type BinaryDecodeResult = BinaryFrame | BinaryDecodeProblem;

export function isProblem(r: BinaryDecodeResult): r is BinaryDecodeProblem {
  return (r as BinaryDecodeProblem).problem !== undefined;
}

export interface BinaryDecoderOptions {
  magic: typeof MAGIC_REQUEST | typeof MAGIC_RESPONSE;
  /** frames with a larger body are not buffered */
  maxBodyLength: number;
  /** bodies up to this are skipped (oversized); above it the stream is given up (body-too-large) */
  swallowLimit?: number;
}

export class BinaryDecoder {
  private readonly input = new ChunkBuffer();
  private swallowing = 0;
  private dead = false;

  constructor(private readonly options: BinaryDecoderOptions) {}

  push(chunk: Buffer): void {
    if (this.dead) return;
    if (this.swallowing > 0) {
      const n = Math.min(this.swallowing, chunk.length);
      this.swallowing -= n;
      if (n === chunk.length) return;
      chunk = chunk.subarray(n);
    }
    this.input.push(chunk);
  }

  get buffered(): number {
    return this.input.length;
  }

  /** The next complete frame or problem, or undefined when more bytes are needed. */
  next(): BinaryDecodeResult | undefined {
    if (this.dead || this.swallowing > 0) return undefined;
    const input = this.input;
    if (input.length === 0) return undefined;
    const magic = input.byteAt(0);
    if (magic !== this.options.magic) {
      this.dead = true;
      input.clear();
      return { problem: 'bad-magic', magic };
    }
    if (input.length < HEADER_LENGTH) return undefined;
    const bodyLength = input.readUInt32BE(8);
    const keyLength = input.readUInt16BE(2);
    const extrasLength = input.byteAt(4);
    if (keyLength + extrasLength > bodyLength || bodyLength > this.options.maxBodyLength) {
      const header: BinaryFrame = {
        raw: Buffer.from(input.take(HEADER_LENGTH)),
        magic,
        opcode: 0,
        keyLength,
        extrasLength,
        dataType: 0,
        status: 0,
        bodyLength,
        opaque: 0,
      };
      header.opcode = header.raw[1];
      header.dataType = header.raw[5];
      header.status = header.raw.readUInt16BE(6);
      header.opaque = header.raw.readUInt32BE(12);
      if (keyLength + extrasLength > bodyLength) {
        this.dead = true;
        input.clear();
        return { problem: 'bad-lengths', header };
      }
      if (bodyLength > (this.options.swallowLimit ?? 0)) {
        this.dead = true;
        input.clear();
        return { problem: 'body-too-large', header };
      }
      // Keep the key (the caller may need it, e.g. to drop the old value) and skip the rest.
      const keep = Math.min(input.length, extrasLength + keyLength);
      if (keep === extrasLength + keyLength) {
        header.raw = Buffer.concat([header.raw, input.take(keep)]);
      } else {
        header.keyLength = 0;
        header.extrasLength = 0;
        input.skip(keep);
      }
      const rest = bodyLength - keep;
      const now = Math.min(rest, input.length);
      input.skip(now);
      this.swallowing = rest - now;
      return { problem: 'oversized', header };
    }
    const total = HEADER_LENGTH + bodyLength;
    if (input.length < total) {
      input.reserve(total);
      return undefined;
    }
    const raw = input.take(total);
    return {
      raw,
      magic,
      opcode: raw[1],
      keyLength,
      extrasLength,
      dataType: raw[5],
      status: raw.readUInt16BE(6),
      bodyLength,
      opaque: raw.readUInt32BE(12),
    };
  }
}

export interface EncodeFields {
  magic: number;
  opcode: number;
  /** status (responses) or vbucket (requests) */
  status?: number;
  opaque?: number;
  /** 8 raw bytes or a bigint */
  cas?: Buffer | bigint;
  extras?: Buffer;
  key?: Buffer;
  value?: Buffer;
  dataType?: number;
}

/** Encode one frame into a single buffer. */
export function encodeFrame(f: EncodeFields): Buffer {
  const extrasLength = f.extras?.length ?? 0;
  const keyLength = f.key?.length ?? 0;
  const valueLength = f.value?.length ?? 0;
  const out = Buffer.allocUnsafe(HEADER_LENGTH + extrasLength + keyLength + valueLength);
  writeHeader(out, f, extrasLength, keyLength, valueLength);
  let at = HEADER_LENGTH;
  if (f.extras) at += f.extras.copy(out, at);
  if (f.key) at += f.key.copy(out, at);
  if (f.value) f.value.copy(out, at);
  return out;
}

export function writeHeader(out: Buffer, f: EncodeFields, extrasLength: number, keyLength: number, valueLength: number): void {
  out[0] = f.magic;
  out[1] = f.opcode;
  out.writeUInt16BE(keyLength, 2);
  out[4] = extrasLength;
  out[5] = f.dataType ?? 0;
  out.writeUInt16BE(f.status ?? 0, 6);
  out.writeUInt32BE(extrasLength + keyLength + valueLength, 8);
  out.writeUInt32BE((f.opaque ?? 0) >>> 0, 12);
  if (f.cas === undefined) {
    out.writeUInt32BE(0, 16);
    out.writeUInt32BE(0, 20);
  } else if (typeof f.cas === 'bigint') {
    out.writeBigUInt64BE(f.cas, 16);
  } else {
    f.cas.copy(out, 16, 0, 8);
  }
}

export function encodeRequest(f: Omit<EncodeFields, 'magic'>): Buffer {
  return encodeFrame({ ...f, magic: MAGIC_REQUEST });
}

export function encodeResponse(f: Omit<EncodeFields, 'magic'>): Buffer {
  return encodeFrame({ ...f, magic: MAGIC_RESPONSE });
}

/** An error response the way memcached writes it: status plus its text as the body. */
export function encodeErrorResponse(opcode: number, status: number, opaque: number, message?: string): Buffer {
  const text = message ?? STATUS_TEXT[status] ?? 'UNHANDLED ERROR';
  return encodeResponse({ opcode, status, opaque, value: Buffer.from(text, 'latin1') });
}

/** extras for set/add/replace: flags(4) + expiration(4) */
export function storeExtras(flags: number, exptime: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeUInt32BE(flags >>> 0, 0);
  b.writeUInt32BE(exptime >>> 0, 4);
  return b;
}

/** extras for incr/decr: delta(8) + initial(8) + expiration(4); 0xffffffff = do not create */
export function arithExtras(delta: bigint, initial = 0n, exptime = 0xffffffff): Buffer {
  const b = Buffer.allocUnsafe(20);
  b.writeBigUInt64BE(delta, 0);
  b.writeBigUInt64BE(initial, 8);
  b.writeUInt32BE(exptime >>> 0, 16);
  return b;
}

export function expirationExtras(exptime: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(exptime >>> 0, 0);
  return b;
}
