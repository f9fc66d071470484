import type { Socket } from 'node:net';
import { AsciiRequestDecoder, CRLF, END, positiveExptime, replyLine, valueHeader, type AsciiRequest } from '../protocol/ascii.js';
import { HEADER_LENGTH, Op, Status, arithExtras, expirationExtras, frameCas, frameExtras, frameKey, frameValue, storeExtras, type BinaryFrame } from '../protocol/binary.js';
import type { ProxyEngine, ProxyFailure } from './engine.js';
import { ReplyQueue, type Slot } from './reply-queue.js';

/**
 * One ASCII client connection. Requests are decoded chunk by chunk, each becomes binary requests
 * to the backends through the engine, and replies are rendered the way memcached renders them.
 */

const STORED = replyLine('STORED');
const NOT_STORED = replyLine('NOT_STORED');
const EXISTS = replyLine('EXISTS');
const NOT_FOUND = replyLine('NOT_FOUND');
const DELETED = replyLine('DELETED');
const TOUCHED = replyLine('TOUCHED');
const OK = replyLine('OK');
const TOO_LARGE = replyLine('SERVER_ERROR object too large for cache');
const VALUE_ = Buffer.from('VALUE ', 'latin1');
const CRLF_END = Buffer.from('\r\nEND\r\n', 'latin1');

/** digits of a non-negative integer below 2^32 */
function decimalLength(n: number): number {
  let len = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    len++;
  }
  return len;
}

/** writes n in decimal at `at`, returns the offset after it */
function writeDecimal(out: Buffer, at: number, n: number): number {
  const end = at + decimalLength(n);
  let i = end;
  do {
    out[--i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  } while (n > 0);
  return end;
}

function serverError(f: ProxyFailure): Buffer {
  return replyLine(`SERVER_ERROR ${f.message.replace(/[\r\n]/g, ' ')}`);
}

const storeOpcode = { set: Op.Set, add: Op.Add, replace: Op.Replace, append: Op.Append, prepend: Op.Prepend, cas: Op.Set } as const;

function storeReply(command: string, status: number): Buffer {
  switch (status) {
    case Status.Ok:
      return STORED;
    case Status.KeyExists:
      return command === 'cas' ? EXISTS : NOT_STORED;
    case Status.KeyNotFound:
      return command === 'cas' ? NOT_FOUND : NOT_STORED;
    case Status.NotStored:
      return NOT_STORED;
    case Status.TooLarge:
      return TOO_LARGE;
    case Status.OutOfMemory:
      return replyLine('SERVER_ERROR out of memory storing object');
    default:
      return replyLine(`SERVER_ERROR backend status 0x${status.toString(16).padStart(4, '0')}`);
  }
}

export class AsciiSession {
  private readonly decoder: AsciiRequestDecoder;
  private readonly replies: ReplyQueue;

  constructor(
    private readonly socket: Socket,
    private readonly engine: ProxyEngine,
    maxValueLength: number,
  ) {
    this.decoder = new AsciiRequestDecoder({ maxValueLength });
    this.replies = new ReplyQueue(socket);
  }

  /** replies still owed to this client */
  get owed(): number {
    return this.replies.owed;
  }

  get partial(): boolean {
    return this.decoder.buffered > 0;
  }

  onData(chunk: Buffer): void {
    const decoder = this.decoder;
    decoder.push(chunk);
    for (;;) {
      if (this.replies.closing) return;
      const req = decoder.next();
      if (req === undefined) break;
      this.handle(req);
    }
    if (this.replies.backlogged) this.replies.pauseForBacklog();
  }

  private handle(req: AsciiRequest): void {
    const replies = this.replies;
    const engine = this.engine;
    switch (req.type) {
      case 'get': {
        const slot = replies.reserve();
        const cmd = req.touchExptime !== undefined ? (req.cas ? 'gats' : 'gat') : req.cas ? 'gets' : 'get';
        if (req.keys.length === 1) {
          const key = req.keys[0];
          this.readOne(cmd, req, key, (f, frame) => {
            if (f) return replies.complete(slot, serverError(f));
            if (frame!.status !== Status.Ok) return replies.complete(slot, frame!.status === Status.KeyNotFound ? END : this.statusError(frame!));
            replies.complete(slot, this.singleValue(key, frame!, req.cas));
          });
          return;
        }
        if (req.keys.length === 0) return replies.complete(slot, END); // "gat 10": no keys
        const parts: (Buffer[] | null)[] = new Array(req.keys.length).fill(null);
        let remaining = req.keys.length;
        let failed: Buffer | null = null;
        req.keys.forEach((key, i) => {
          this.readOne(cmd, req, key, (f, frame) => {
            if (f) failed ??= serverError(f);
            else if (frame!.status === Status.Ok) parts[i] = this.value(key, frame!, req.cas);
            else if (frame!.status !== Status.KeyNotFound) failed ??= this.statusError(frame!);
            if (--remaining > 0) return;
            if (failed) return replies.complete(slot, failed);
            const out: Buffer[] = [];
            for (const p of parts) if (p) out.push(...p);
            out.push(END);
            replies.complete(slot, out);
          });
        });
        return;
      }
      case 'store': {
        const slot = replies.reserve();
        const noreply = req.noreply;
        const exptime = positiveExptime(req.exptime);
        if (req.command === 'cas' && req.cas === 0n) {
          // binary CAS 0 means "unconditional": memcached's ASCII cas with unique 0 never stores
          engine.read('cas', Op.Get, req.key, true, (f, frame) => {
            if (f) return replies.complete(slot, noreply ? null : serverError(f));
            replies.complete(slot, noreply ? null : frame!.status === Status.Ok ? EXISTS : NOT_FOUND);
          });
          return;
        }
        const opcode = storeOpcode[req.command];
        const extras = opcode === Op.Append || opcode === Op.Prepend ? null : storeExtras(req.flags, exptime);
        let cas: Buffer | null = null;
        if (req.command === 'cas') {
          cas = Buffer.allocUnsafe(8);
          cas.writeBigUInt64BE(req.cas);
        }
        engine.mutate(req.command, opcode, req.key, extras, req.value, cas, (f, frame) => {
          if (noreply) return replies.complete(slot, null);
          replies.complete(slot, f ? serverError(f) : storeReply(req.command, frame!.status));
        });
        return;
      }
      case 'store-too-large': {
        const slot = replies.reserve();
        engine.stats.command(req.command).requests++;
        if (req.command === 'set') engine.dropTooLarge(req.key);
        replies.complete(slot, req.noreply ? null : TOO_LARGE);
        return;
      }
      case 'delete': {
        const slot = replies.reserve();
        engine.mutate('delete', Op.Delete, req.key, null, null, null, (f, frame) => {
          if (req.noreply) return replies.complete(slot, null);
          if (f) return replies.complete(slot, serverError(f));
          const s = frame!.status;
          replies.complete(slot, s === Status.Ok ? DELETED : s === Status.KeyNotFound ? NOT_FOUND : this.statusError(frame!));
        });
        return;
      }
      case 'arith': {
        const slot = replies.reserve();
        const cmd = req.incr ? 'incr' : 'decr';
        engine.mutate(cmd, req.incr ? Op.Increment : Op.Decrement, req.key, arithExtras(req.delta), null, null, (f, frame) => {
          if (req.noreply) return replies.complete(slot, null);
          if (f) return replies.complete(slot, serverError(f));
          const s = frame!.status;
          if (s === Status.Ok) return replies.complete(slot, replyLine(frameValue(frame!).readBigUInt64BE(0).toString()));
          if (s === Status.KeyNotFound) return replies.complete(slot, NOT_FOUND);
          if (s === Status.NonNumeric) return replies.complete(slot, replyLine('CLIENT_ERROR cannot increment or decrement non-numeric value'));
          if (s === Status.OutOfMemory) return replies.complete(slot, replyLine('SERVER_ERROR out of memory'));
          replies.complete(slot, this.statusError(frame!));
        });
        return;
      }
      case 'touch': {
        const slot = replies.reserve();
        engine.mutate('touch', Op.Touch, req.key, expirationExtras(positiveExptime(req.exptime)), null, null, (f, frame) => {
          if (req.noreply) return replies.complete(slot, null);
          if (f) return replies.complete(slot, serverError(f));
          const s = frame!.status;
          replies.complete(slot, s === Status.Ok ? TOUCHED : s === Status.KeyNotFound ? NOT_FOUND : this.statusError(frame!));
        });
        return;
      }
      case 'flush_all': {
        const slot = replies.reserve();
        engine.flush('flush_all', expirationExtras(Math.max(0, req.delay)), (f) => {
          if (req.noreply) return replies.complete(slot, null);
          replies.complete(slot, f ? serverError(f) : OK);
        });
        return;
      }
      case 'version': {
        const slot = replies.reserve();
        engine.info('version', Op.Version, null, (f, frame) => {
          replies.complete(slot, f ? serverError(f) : replyLine(`VERSION ${frameValue(frame!).toString('latin1')}`));
        });
        return;
      }
      case 'verbosity': {
        const slot = replies.reserve();
        replies.complete(slot, req.noreply ? null : OK);
        return;
      }
      case 'stats': {
        const slot = replies.reserve();
        const group = req.args[0] ?? '';
        engine.info('stats', Op.Stat, group ? Buffer.from(group, 'latin1') : null, (f, frame, frames) => {
          if (f) return replies.complete(slot, serverError(f));
          if (frame!.status !== Status.Ok) return replies.complete(slot, replyLine('ERROR'));
          if (group === 'reset') return replies.complete(slot, replyLine('RESET'));
          const out: Buffer[] = [];
          for (const fr of frames ?? []) {
            if (fr.keyLength === 0) continue;
            out.push(Buffer.from(`STAT ${frameKey(fr).toString('latin1')} ${frameValue(fr).toString('latin1')}\r\n`, 'latin1'));
          }
          out.push(END);
          replies.complete(slot, out);
        });
        return;
      }
      case 'quit': {
        const slot = replies.reserve();
        replies.complete(slot, null, true);
        return;
      }
      case 'reply': {
        const slot = replies.reserve();
        replies.complete(slot, req.noreply ? null : replyLine(req.line));
        return;
      }
      case 'close': {
        const slot = replies.reserve();
        replies.complete(slot, null, true);
        return;
      }
    }
  }

  private readOne(cmd: string, req: { cas: boolean; touchExptime?: number }, key: Buffer, cb: (f: ProxyFailure | null, frame: BinaryFrame | null) => void): void {
    if (req.touchExptime !== undefined) {
      this.engine.mutate(cmd, Op.GAT, key, expirationExtras(positiveExptime(req.touchExptime)), null, null, cb);
    } else {
      this.engine.read(cmd, Op.Get, key, req.cas, cb);
    }
  }

  private value(key: Buffer, frame: BinaryFrame, withCas: boolean): Buffer[] {
    const v = frameValue(frame);
    const flags = frame.extrasLength >= 4 ? frameExtras(frame).readUInt32BE(0) : 0;
    return [valueHeader(key, flags, v.length, withCas ? frameCas(frame) : undefined), v, CRLF];
  }

  /** "VALUE k f n\r\n<data>\r\nEND\r\n" in one buffer (the hot path: one get, one hit) */
  private singleValue(key: Buffer, frame: BinaryFrame, withCas: boolean): Buffer | Buffer[] {
    const v = frameValue(frame);
    // big values ride as their own buffer; gets (CAS) is rare: the general rendering serves both
    if (withCas || v.length > 16 * 1024) return [...this.value(key, frame, withCas), END];
    // get without CAS: digits written in place (no strings, no calls into C++ for the header)
    const flags = frame.extrasLength >= 4 ? frame.raw.readUInt32BE(HEADER_LENGTH) : 0;
    const out = Buffer.allocUnsafe(6 + key.length + 1 + decimalLength(flags) + 1 + decimalLength(v.length) + 2 + v.length + 7);
    let at = VALUE_.copy(out, 0);
    at += key.copy(out, at);
    out[at++] = 0x20;
    at = writeDecimal(out, at, flags);
    out[at++] = 0x20;
    at = writeDecimal(out, at, v.length);
    out[at++] = 0x0d;
    out[at++] = 0x0a;
    at += v.copy(out, at);
    CRLF_END.copy(out, at);
    return out;
  }

  private statusError(frame: BinaryFrame): Buffer {
    if (frame.status === Status.TooLarge) return TOO_LARGE;
    if (frame.status === Status.OutOfMemory) return replyLine('SERVER_ERROR out of memory');
    return replyLine(`SERVER_ERROR backend status 0x${frame.status.toString(16).padStart(4, '0')}`);
  }
}
