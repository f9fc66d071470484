import type { Socket } from 'node:net';
import {
  BinaryDecoder,
  KEY_MAX_LENGTH,
  MAGIC_REQUEST,
  Op,
  Status,
  encodeErrorResponse,
  encodeResponse,
  frameCasBytes,
  frameExtras,
  frameKey,
  frameValue,
  isProblem,
  isQuiet,
  loudOpcode,
  casIsZero,
  type BinaryFrame,
} from '../protocol/binary.js';
import type { ProxyEngine, ProxyFailure } from './engine.js';
import { ReplyQueue, type Slot } from './reply-queue.js';

/**
 * One binary-protocol client connection. Backend replies are forwarded as they came (status and
 * body untouched) with only the opcode and opaque patched back to the client's, so replies are
 * byte for byte what memcached sends. Quiet forms are sent loud to the backend (the proxy must
 * see success to replicate) and their success/miss replies are dropped here.
 */

/** backend trouble: ETMPFAIL; fenced writes: EBUSY (both memcached-defined statuses) */
function failureResponse(opcode: number, opaque: number, f: ProxyFailure): Buffer {
  return encodeErrorResponse(opcode, f.kind === 'fenced' ? Status.Busy : Status.TemporaryFailure, opaque, f.message);
}

const CMD_NAMES: Record<number, string> = {
  [Op.Get]: 'get', [Op.GetK]: 'getk', [Op.Set]: 'set', [Op.Add]: 'add', [Op.Replace]: 'replace', [Op.Delete]: 'delete',
  [Op.Increment]: 'incr', [Op.Decrement]: 'decr', [Op.Append]: 'append', [Op.Prepend]: 'prepend', [Op.Touch]: 'touch',
  [Op.GAT]: 'gat', [Op.GATK]: 'gatk', [Op.Flush]: 'flush_all', [Op.Version]: 'version', [Op.Stat]: 'stats',
};

export class BinarySession {
  private readonly decoder: BinaryDecoder;
  private readonly replies: ReplyQueue;
  /** a request that ends the connection was read: execute nothing after it (memcached closes there) */
  private ended = false;

  constructor(
    private readonly socket: Socket,
    private readonly engine: ProxyEngine,
    maxValueLength: number,
  ) {
    this.decoder = new BinaryDecoder({
      magic: MAGIC_REQUEST,
      maxBodyLength: maxValueLength + 8 + KEY_MAX_LENGTH + 20,
      swallowLimit: 64 * 1024 * 1024,
    });
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
    this.decoder.push(chunk);
    for (;;) {
      if (this.replies.closing || this.ended) return;
      const r = this.decoder.next();
      if (r === undefined) break;
      if (isProblem(r)) {
        const slot = this.replies.reserve();
        if (r.problem === 'bad-magic') {
          this.ended = true;
          this.replies.complete(slot, null, true);
        }
        else if (r.problem === 'oversized' && this.isStore(loudOpcode(r.header.opcode))) {
          const op = loudOpcode(r.header.opcode);
          this.engine.stats.command(CMD_NAMES[op] ?? 'unknown').requests++;
          if (op === Op.Set && r.header.keyLength > 0) this.engine.dropTooLarge(Buffer.from(frameKey(r.header)));
          this.replies.complete(slot, encodeErrorResponse(r.header.opcode, Status.TooLarge, r.header.opaque));
        } else {
          this.ended = true;
          this.replies.complete(slot, encodeErrorResponse(r.header.opcode, Status.InvalidArguments, r.header.opaque), true);
        }
        continue;
      }
      this.handle(r);
    }
    if (this.replies.backlogged) this.replies.pauseForBacklog();
  }

  private isStore(op: number): boolean {
    return op === Op.Set || op === Op.Add || op === Op.Replace || op === Op.Append || op === Op.Prepend;
  }

  /** memcached's per-command header checks (dispatch_bin_command): a violation is EINVAL then close */
  private valid(op: number, f: BinaryFrame): boolean {
    const { keyLength: k, extrasLength: e, bodyLength: b } = f;
    if (k > KEY_MAX_LENGTH) return false;
    switch (op) {
      case Op.Version:
      case Op.Noop:
      case Op.Quit:
        return e === 0 && k === 0 && b === 0;
      case Op.Flush:
        return k === 0 && b === e && (e === 0 || e === 4);
      case Op.Set:
      case Op.Add:
      case Op.Replace:
        return e === 8 && k !== 0 && b >= k + 8;
      case Op.Get:
      case Op.GetK:
      case Op.Delete:
        return e === 0 && k > 0 && b === k;
      case Op.Increment:
      case Op.Decrement:
        return k > 0 && e === 20 && b === k + e;
      case Op.Append:
      case Op.Prepend:
        return k > 0 && e === 0;
      case Op.Stat:
        return e === 0;
      case Op.Touch:
      case Op.GAT:
      case Op.GATK:
        return e === 4 && k !== 0;
      default:
        return true;
    }
  }

  private handle(f: BinaryFrame): void {
    const replies = this.replies;
    const engine = this.engine;
    const opcode = f.opcode;
    const opaque = f.opaque;
    const op = loudOpcode(opcode);
    const quiet = op !== opcode;
    const slot = replies.reserve();
    if (!this.valid(op, f)) {
      this.ended = true;
      replies.complete(slot, encodeErrorResponse(opcode, Status.InvalidArguments, opaque), true);
      return;
    }
    const forward = (frame: BinaryFrame): Buffer => {
      const raw = frame.raw;
      raw[1] = opcode;
      raw.writeUInt32BE(opaque, 12);
      return raw;
    };
    const name = CMD_NAMES[op] ?? 'unknown';
    switch (op) {
      case Op.Get:
      case Op.GetK:
        // The binary protocol has no "gets": every GET carries a CAS token, and tokens are per
        // server. GETK is the token fetch (what our CAS client sends before a cas): master only.
        engine.read(name, op, frameKey(f), op === Op.GetK, (fail, frame) => {
          if (fail) return replies.complete(slot, failureResponse(opcode, opaque, fail));
          if (quiet && frame!.status === Status.KeyNotFound) return replies.complete(slot, null);
          replies.complete(slot, forward(frame!));
        });
        return;
      case Op.GAT:
      case Op.GATK:
      case Op.Touch:
      case Op.Set:
      case Op.Add:
      case Op.Replace:
      case Op.Append:
      case Op.Prepend:
      case Op.Delete:
      case Op.Increment:
      case Op.Decrement: {
        const cas = casIsZero(f) ? null : frameCasBytes(f);
        const isTouch = op === Op.Touch || op === Op.GAT || op === Op.GATK;
        const trailing = f.bodyLength > f.extrasLength + f.keyLength;
        // touch/gat carry no value: never forward trailing body bytes (the master would take them
        // as a bad next header and drop the shared backend connection, failing other clients'
        // requests). memcached reads them as the next header and closes: so do we, after the reply.
        const value = trailing && !isTouch ? frameValue(f) : null;
        const closeAfter = trailing && isTouch;
        if (closeAfter) this.ended = true;
        const extras = f.extrasLength > 0 ? frameExtras(f) : null;
        engine.mutate(name, op, frameKey(f), extras, value, cas, (fail, frame) => {
          if (fail) return replies.complete(slot, failureResponse(opcode, opaque, fail), closeAfter);
          const s = frame!.status;
          const isRead = op === Op.GAT || op === Op.GATK;
          if (quiet && (isRead ? s === Status.KeyNotFound : s === Status.Ok)) return replies.complete(slot, null, closeAfter);
          replies.complete(slot, forward(frame!), closeAfter);
        });
        return;
      }
      case Op.Flush:
        engine.flush(name, f.extrasLength ? frameExtras(f) : null, (fail, frame) => {
          if (fail) return replies.complete(slot, failureResponse(opcode, opaque, fail));
          if (quiet && frame!.status === Status.Ok) return replies.complete(slot, null);
          replies.complete(slot, forward(frame!));
        });
        return;
      case Op.Noop:
        replies.complete(slot, encodeResponse({ opcode, opaque }));
        return;
      case Op.Quit:
        this.ended = true;
        replies.complete(slot, quiet ? null : encodeResponse({ opcode, opaque }), true);
        return;
      case Op.Version:
        engine.info(name, Op.Version, null, (fail, frame) => {
          replies.complete(slot, fail ? failureResponse(opcode, opaque, fail) : forward(frame!));
        });
        return;
      case Op.Stat:
        engine.info(name, Op.Stat, f.keyLength ? frameKey(f) : null, (fail, frame, frames) => {
          if (fail) return replies.complete(slot, failureResponse(opcode, opaque, fail));
          replies.complete(slot, (frames ?? [frame!]).map(forward));
        });
        return;
      default:
        // SASL without SASL configured, verbosity (memcached 1.6 has no binary verbosity) and anything
        // unknown: 0x0081 "Unknown command", body skipped, stream stays in sync
        engine.stats.command('unknown').requests++;
        replies.complete(slot, encodeErrorResponse(opcode, Status.UnknownCommand, opaque));
    }
  }
}

export type { Slot };
