import { ChunkBuffer, indexOfByte } from './chunk-buffer.js';
import { safeStrtol, safeStrtoul, safeStrtoull } from './ascii-numbers.js';

/**
 * memcached ASCII protocol: a chunk-by-chunk request decoder that accepts and refuses exactly what
 * memcached 1.6 does (proto_text.c), plus reply encoders. No I/O here.
 *
 * Data blocks are framed by their declared length, never by scanning for "\r\n".
 */

export const KEY_MAX_LENGTH = 250;
/** memcached closes a connection with this many bytes and no newline (unless it is a get/gets) */
export const LINE_LIMIT = 2048;
/** our bound for very long multi-get lines (memcached has none; we must buffer them) */
export const GET_LINE_LIMIT = 1024 * 1024;

export type StorageCommand = 'set' | 'add' | 'replace' | 'append' | 'prepend' | 'cas';

export type AsciiRequest =
  | { type: 'get'; cas: boolean; keys: Buffer[]; /** gat/gats: new expiration */ touchExptime?: number }
  | {
      type: 'store';
      command: StorageCommand;
      key: Buffer;
      flags: number;
      /** as memcached means it: negative = already expired (sent on as an absolute past time) */
      exptime: number;
      value: Buffer;
      cas: bigint;
      noreply: boolean;
    }
  /** a storage command whose value is larger than the proxy accepts: its bytes were swallowed */
  | { type: 'store-too-large'; command: StorageCommand; key: Buffer; noreply: boolean }
  | { type: 'delete'; key: Buffer; noreply: boolean }
  | { type: 'arith'; incr: boolean; key: Buffer; delta: bigint; noreply: boolean }
  | { type: 'touch'; key: Buffer; exptime: number; noreply: boolean }
  | { type: 'flush_all'; delay: number; noreply: boolean }
  | { type: 'version' }
  | { type: 'verbosity'; noreply: boolean }
  | { type: 'stats'; args: string[] }
  | { type: 'quit' }
  /** a reply the proxy answers itself (ERROR, CLIENT_ERROR ...), already decided like memcached */
  | { type: 'reply'; line: string; noreply: boolean }
  /** memcached would close the connection here */
  | { type: 'close'; reason: string };

/** memcached maps a negative exptime to "already expired" this way (EXPTIME_TO_POSITIVE_TIME). */
export const REALTIME_MAXDELTA = 60 * 60 * 24 * 30;
export function positiveExptime(exptime: number): number {
  return exptime < 0 ? REALTIME_MAXDELTA + 1 : exptime;
}

interface Tokens {
  line: Buffer;
  starts: number[];
  ends: number[];
}

function tokenize(line: Buffer): Tokens {
  const starts: number[] = [];
  const ends: number[] = [];
  let s = -1;
  for (let i = 0; i < line.length; i++) {
    if (line[i] === 0x20) {
      if (s >= 0) {
        starts.push(s);
        ends.push(i);
        s = -1;
      }
    } else if (s < 0) s = i;
  }
  if (s >= 0) {
    starts.push(s);
    ends.push(line.length);
  }
  return { line, starts, ends };
}

function tok(t: Tokens, i: number): string {
  return t.line.toString('latin1', t.starts[i], t.ends[i]);
}
function tokBuf(t: Tokens, i: number): Buffer {
  return t.line.subarray(t.starts[i], t.ends[i]);
}
function tokLen(t: Tokens, i: number): number {
  return t.ends[i] - t.starts[i];
}
function tokIs(t: Tokens, i: number, word: string): boolean {
  if (tokLen(t, i) !== word.length) return false;
  for (let j = 0; j < word.length; j++) if (t.line[t.starts[i] + j] !== word.charCodeAt(j)) return false;
  return true;
}

/**
 * The most common request, "get <key>" or "gets <key>" with one key and single spaces, decoded
 * with one scan. Anything else (several keys, extra spaces, a key over 250 bytes) returns
 * undefined and goes through the general path, which gives the same answer for these lines.
 */
function singleKeyGet(line: Buffer): AsciiRequest | undefined {
  const len = line.length;
  if (len < 5 || line[0] !== 0x67 /* g */ || line[1] !== 0x65 /* e */ || line[2] !== 0x74 /* t */) return undefined;
  const cas = line[3] === 0x73; /* s */
  const space = cas ? 4 : 3;
  if (line[space] !== 0x20) return undefined;
  const keyStart = space + 1;
  const keyLength = len - keyStart;
  if (keyLength < 1 || keyLength > KEY_MAX_LENGTH) return undefined;
  for (let i = keyStart; i < len; i++) if (line[i] === 0x20) return undefined;
  return { type: 'get', cas, keys: [line.subarray(keyStart)], touchExptime: undefined };
}

/** up to 9 plain digits (so the value fits every field it is used for), or -1 */
function plainNumber(line: Buffer, from: number, to: number): number {
  if (to <= from || to - from > 9) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = line[i] - 0x30;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/**
 * "set <key> <flags> <exptime> <bytes>" with single spaces, plain digits and no noreply, parsed
 * with one scan; anything else returns undefined and goes through the general path.
 */
function plainSet(line: Buffer): PendingStore | undefined {
  const len = line.length;
  if (len < 11 || line[0] !== 0x73 /* s */ || line[1] !== 0x65 /* e */ || line[2] !== 0x74 /* t */ || line[3] !== 0x20) return undefined;
  // the three spaces after the key, flags and exptime; a fourth means noreply or extra spaces
  let a = 0;
  let b = 0;
  let c = 0;
  for (let i = 4; i < len; i++) {
    if (line[i] !== 0x20) continue;
    if (a === 0) a = i;
    else if (b === 0) b = i;
    else if (c === 0) c = i;
    else return undefined;
  }
  if (c === 0) return undefined;
  const keyLength = a - 4;
  if (keyLength < 1 || keyLength > KEY_MAX_LENGTH) return undefined;
  const flags = plainNumber(line, a + 1, b);
  const exptime = plainNumber(line, b + 1, c);
  const vlen = plainNumber(line, c + 1, len);
  if (flags < 0 || exptime < 0 || vlen < 0) return undefined;
  return { command: 'set', key: line.subarray(4, a), flags, exptime, cas: 0n, noreply: false, total: vlen + 2, tooLarge: false };
}

const ERROR: AsciiRequest = { type: 'reply', line: 'ERROR', noreply: false };
const BAD_FORMAT = 'CLIENT_ERROR bad command line format';

interface PendingStore {
  command: StorageCommand;
  key: Buffer;
  flags: number;
  exptime: number;
  cas: bigint;
  noreply: boolean;
  /** declared length + 2 for the trailing \r\n */
  total: number;
  tooLarge: boolean;
}

export interface AsciiDecoderOptions {
  /** values longer than this are swallowed and answered "object too large" without buffering */
  maxValueLength: number;
  /**
   * decode the two most common lines ("get <key>", "set <key> <flags> <exptime> <bytes>") without
   * the general tokenizer (default on; tests hold both paths to the same answers)
   */
  fastPaths?: boolean;
}

export class AsciiRequestDecoder {
  private readonly input = new ChunkBuffer();
  private pending: PendingStore | undefined;
  /** bytes of a too-large value still to discard */
  private swallow = 0;
  private closed = false;

  constructor(private readonly options: AsciiDecoderOptions) {}

  push(chunk: Buffer): void {
    if (this.closed) return;
    if (this.swallow > 0) {
      const n = Math.min(this.swallow, chunk.length);
      this.swallow -= n;
      if (n === chunk.length) return;
      chunk = chunk.subarray(n);
    }
    this.input.push(chunk);
  }

  get buffered(): number {
    return this.input.length;
  }

  next(): AsciiRequest | undefined {
    if (this.closed || this.swallow > 0) return undefined;
    if (this.pending) return this.readData(this.pending);
    const input = this.input;
    const nl = input.indexOf(0x0a);
    if (nl < 0) {
      if (input.length > LINE_LIMIT && !this.looksLikeGet()) return this.close('line too long without a newline');
      if (input.length > GET_LINE_LIMIT) return this.close('get line too long');
      return undefined;
    }
    let line = input.take(nl + 1).subarray(0, nl);
    if (line.length > 1 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
    // memcached works on C strings: a NUL ends the command
    const nul = indexOfByte(line, 0);
    if (nul >= 0) line = line.subarray(0, nul);
    return this.command(line);
  }

  private close(reason: string): AsciiRequest {
    this.closed = true;
    this.input.clear();
    return { type: 'close', reason };
  }

  private looksLikeGet(): boolean {
    const head = this.input.peek(110).toString('latin1');
    const trimmed = head.replace(/^ +/, '');
    if (head.length - trimmed.length > 100) return false;
    return trimmed.startsWith('get ') || trimmed.startsWith('gets ');
  }

  private readData(p: PendingStore): AsciiRequest | undefined {
    if (p.tooLarge) {
      this.pending = undefined;
      const now = Math.min(p.total, this.input.length);
      this.input.skip(now);
      this.swallow = p.total - now;
      return { type: 'store-too-large', command: p.command, key: p.key, noreply: p.noreply };
    }
    if (this.input.length < p.total) {
      this.input.reserve(p.total);
      return undefined;
    }
    this.pending = undefined;
    const block = this.input.take(p.total);
    if (block[p.total - 2] !== 0x0d || block[p.total - 1] !== 0x0a) {
      return { type: 'reply', line: 'CLIENT_ERROR bad data chunk', noreply: p.noreply };
    }
    return {
      type: 'store',
      command: p.command,
      key: p.key,
      flags: p.flags,
      exptime: p.exptime,
      value: block.subarray(0, p.total - 2),
      cas: p.cas,
      noreply: p.noreply,
    };
  }

  private command(line: Buffer): AsciiRequest | undefined {
    if (this.options.fastPaths !== false) {
      const get = singleKeyGet(line);
      if (get) return get;
      const set = plainSet(line);
      if (set) {
        set.tooLarge = set.total - 2 > this.options.maxValueLength;
        this.pending = set;
        return this.readData(set);
      }
    }
    const t = tokenize(line);
    // memcached counts a terminal empty token and caps the count at 24 (MAX_TOKENS)
    const ntokens = Math.min(t.starts.length, 23) + 1;
    if (ntokens < 2 || tokLen(t, 0) < 2) return ERROR;
    const first = line[t.starts[0]];
    const noreplyMaybe = (): boolean => ntokens >= 2 && tokIs(t, Math.min(t.starts.length, 23) - 1, 'noreply');

    if (first === 0x67 /* g */) {
      if (ntokens < 3) return ERROR;
      const cas = tokIs(t, 0, 'gets') || tokIs(t, 0, 'gats');
      const touch = tokIs(t, 0, 'gat') || tokIs(t, 0, 'gats');
      if (!cas && !touch && !tokIs(t, 0, 'get')) return ERROR;
      let from = 1;
      let touchExptime: number | undefined;
      if (touch) {
        const e = safeStrtol(tok(t, 1));
        if (e === undefined) return { type: 'reply', line: 'CLIENT_ERROR invalid exptime argument', noreply: false };
        touchExptime = e;
        from = 2;
      }
      const keys: Buffer[] = [];
      for (let i = from; i < t.starts.length; i++) {
        if (tokLen(t, i) > KEY_MAX_LENGTH) return { type: 'reply', line: BAD_FORMAT, noreply: false };
        keys.push(tokBuf(t, i));
      }
      // one object shape for every get (touchExptime undefined unless gat/gats): keeps the
      // session's property loads monomorphic on the hot path
      return { type: 'get', cas, keys, touchExptime };
    }

    const storage = this.storageCommand(t);
    if (storage) {
      const isCas = storage === 'cas';
      if (isCas ? ntokens !== 7 && ntokens !== 8 : ntokens !== 6 && ntokens !== 7) return ERROR;
      const noreply = noreplyMaybe();
      if (tokLen(t, 1) > KEY_MAX_LENGTH) return { type: 'reply', line: BAD_FORMAT, noreply };
      const flags = safeStrtoul(tok(t, 2));
      const exptime = safeStrtol(tok(t, 3));
      const vlen = safeStrtol(tok(t, 4));
      if (flags === undefined || exptime === undefined || vlen === undefined) return { type: 'reply', line: BAD_FORMAT, noreply };
      let cas = 0n;
      if (isCas) {
        const c = safeStrtoull(tok(t, 5));
        if (c === undefined) return { type: 'reply', line: BAD_FORMAT, noreply };
        cas = c;
      }
      if (vlen < 0 || vlen > 0x7fffffff - 2) return { type: 'reply', line: BAD_FORMAT, noreply };
      this.pending = {
        command: storage,
        key: tokBuf(t, 1),
        flags,
        exptime,
        cas,
        noreply,
        total: vlen + 2,
        tooLarge: vlen > this.options.maxValueLength,
      };
      return this.readData(this.pending);
    }

    if (tokIs(t, 0, 'delete')) {
      if (ntokens < 3 || ntokens > 5) return ERROR;
      let noreply = false;
      if (ntokens > 3) {
        const holdIsZero = tokIs(t, 2, '0');
        noreply = noreplyMaybe();
        const valid = (ntokens === 4 && (holdIsZero || noreply)) || (ntokens === 5 && holdIsZero && noreply);
        if (!valid) return { type: 'reply', line: 'CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]', noreply };
      }
      if (tokLen(t, 1) > KEY_MAX_LENGTH) return { type: 'reply', line: BAD_FORMAT, noreply };
      return { type: 'delete', key: tokBuf(t, 1), noreply };
    }

    const incr = tokIs(t, 0, 'incr');
    if (incr || tokIs(t, 0, 'decr')) {
      if (ntokens !== 4 && ntokens !== 5) return ERROR;
      const noreply = noreplyMaybe();
      if (tokLen(t, 1) > KEY_MAX_LENGTH) return { type: 'reply', line: BAD_FORMAT, noreply };
      const delta = safeStrtoull(tok(t, 2));
      if (delta === undefined) return { type: 'reply', line: 'CLIENT_ERROR invalid numeric delta argument', noreply };
      return { type: 'arith', incr, key: tokBuf(t, 1), delta, noreply };
    }

    if (tokIs(t, 0, 'touch')) {
      if (ntokens !== 4 && ntokens !== 5) return ERROR;
      const noreply = noreplyMaybe();
      if (tokLen(t, 1) > KEY_MAX_LENGTH) return { type: 'reply', line: BAD_FORMAT, noreply };
      const exptime = safeStrtol(tok(t, 2));
      if (exptime === undefined) return { type: 'reply', line: 'CLIENT_ERROR invalid exptime argument', noreply };
      return { type: 'touch', key: tokBuf(t, 1), exptime, noreply };
    }

    if (tokIs(t, 0, 'flush_all')) {
      if (ntokens < 2 || ntokens > 4) return ERROR;
      const noreply = noreplyMaybe();
      let delay = 0;
      if (ntokens !== (noreply ? 3 : 2)) {
        const d = safeStrtol(tok(t, 1));
        if (d === undefined) return { type: 'reply', line: 'CLIENT_ERROR invalid exptime argument', noreply };
        delay = d;
      }
      return { type: 'flush_all', delay, noreply };
    }

    if (tokIs(t, 0, 'version')) return { type: 'version' };
    if (tokIs(t, 0, 'quit')) return { type: 'quit' };
    if (tokIs(t, 0, 'verbosity')) {
      if (ntokens !== 3 && ntokens !== 4) return ERROR;
      // memcached 1.6 answers nothing at all to "verbosity noreply"
      return { type: 'verbosity', noreply: noreplyMaybe() };
    }
    if (tokIs(t, 0, 'stats')) {
      const args: string[] = [];
      for (let i = 1; i < t.starts.length; i++) args.push(tok(t, i));
      return { type: 'stats', args };
    }
    return ERROR;
  }

  private storageCommand(t: Tokens): StorageCommand | undefined {
    for (const c of ['set', 'add', 'replace', 'append', 'prepend', 'cas'] as const) if (tokIs(t, 0, c)) return c;
    return undefined;
  }
}

// Reply encoding -----------------------------------------------------------------------------

const lines = new Map<string, Buffer>();
/** "STORED" -> the bytes "STORED\r\n" (cached: replies are a small fixed set) */
export function replyLine(text: string): Buffer {
  let b = lines.get(text);
  if (!b) {
    b = Buffer.from(`${text}\r\n`, 'latin1');
    if (lines.size < 256) lines.set(text, b);
  }
  return b;
}

export const CRLF = Buffer.from('\r\n');
export const END = Buffer.from('END\r\n');

/** "VALUE <key> <flags> <bytes>[ <cas>]\r\n" */
export function valueHeader(key: Buffer, flags: number, bytes: number, cas?: bigint): Buffer {
  const tail = cas === undefined ? ` ${flags} ${bytes}\r\n` : ` ${flags} ${bytes} ${cas}\r\n`;
  const out = Buffer.allocUnsafe(6 + key.length + tail.length);
  out.write('VALUE ', 0, 'latin1');
  key.copy(out, 6);
  out.write(tail, 6 + key.length, 'latin1');
  return out;
}
