import fc from 'fast-check';

/**
 * Generators for the differential protocol fuzzer. Each input is a function of a key prefix (so
 * every run uses fresh keys on both servers) that renders the bytes of one client stream: valid
 * commands, malformed ones and garbage, in both memcached protocols.
 */

export type Render = (prefix: string) => Buffer;

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

/** key slots: a few short keys, the 250-byte limit, one over it, and odd bytes */
export type KeySlot = 0 | 1 | 2 | 3 | 'max' | 'over' | 'ctl';
const keySlot: fc.Arbitrary<KeySlot> = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom<KeySlot>(0, 1, 2, 3) },
  { weight: 1, arbitrary: fc.constantFrom<KeySlot>('max', 'over', 'ctl') },
);

const retrievalKeySlot: fc.Arbitrary<KeySlot> = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom<KeySlot>(0, 1, 2, 3) },
  { weight: 1, arbitrary: fc.constantFrom<KeySlot>('max', 'ctl') },
);

export function keyName(prefix: string, slot: KeySlot): string {
  if (slot === 'max') return `${prefix}L`.padEnd(250, 'm');
  if (slot === 'over') return `${prefix}O`.padEnd(251, 'o');
  if (slot === 'ctl') return `${prefix}c\x01\x7f`;
  return `${prefix}k${slot}`;
}

/** the keys a stream may have left a value under (checked for master/slave agreement) */
export function storableKeys(prefix: string): string[] {
  return [0, 1, 2, 3, 'max'].map((s) => keyName(prefix, s as KeySlot));
}

// ---------------------------------------------------------------- ASCII

const asciiNumber = (normal: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 10, arbitrary: normal },
    { weight: 1, arbitrary: fc.constantFrom('-1', 'abc', '4294967295', '4294967296', '18446744073709551615', '18446744073709551616', '1x', '') },
  );

const flagsArb = asciiNumber(fc.constantFrom('0', '1', '42', '4294967295'));
// no small positive exptimes: expiry must not race the clock between the two targets
const exptimeArb = asciiNumber(fc.constantFrom('0', '0', '100000', '-1'));
const dataArb = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 24 }) },
  { weight: 1, arbitrary: fc.constantFrom(latin1('1'), latin1('18446744073709551615'), latin1('\r\nEND\r\n'), latin1('abc')) },
);

const storage = fc
  .record({
    cmd: fc.constantFrom('set', 'set', 'add', 'replace', 'append', 'prepend', 'cas'),
    key: keySlot,
    flags: flagsArb,
    exptime: exptimeArb,
    data: dataArb,
    // declared length: usually right, sometimes off by a little or nonsense
    lengthDelta: fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -2, max: 2 }) }),
    badLength: fc.oneof({ weight: 15, arbitrary: fc.constant<string | null>(null) }, { weight: 1, arbitrary: fc.constantFrom('-1', '4294967295', 'x', '-99999999999') }),
    cas: fc.constantFrom('1', '0', '12345678901', '18446744073709551615', 'x'),
    noreply: fc.boolean(),
    crlf: fc.oneof({ weight: 8, arbitrary: fc.constant('\r\n') }, { weight: 1, arbitrary: fc.constant('\n') }),
  })
  .map((s): Render => (p) => {
    const len = s.badLength ?? String(Math.max(0, s.data.length + s.lengthDelta));
    const casPart = s.cmd === 'cas' ? ` ${s.cas}` : '';
    const line = `${s.cmd} ${keyName(p, s.key)} ${s.flags} ${s.exptime} ${len}${casPart}${s.noreply ? ' noreply' : ''}${s.crlf}`;
    return Buffer.concat([latin1(line), Buffer.from(s.data), latin1('\r\n')]);
  });

const retrieval = fc
  .record({
    cmd: fc.constantFrom('get', 'gets', 'gat', 'gats'),
    // no over-long key here: memcached 1.6 then drops the replies it had queued before the get
    keys: fc.array(retrievalKeySlot, { minLength: 0, maxLength: 3 }),
    exptime: exptimeArb,
  })
  .map((r): Render => (p) => {
    const keys = r.keys.map((k) => keyName(p, k)).join(' ');
    const head = r.cmd.startsWith('gat') ? `${r.cmd} ${r.exptime}` : r.cmd;
    return latin1(`${head}${keys ? ` ${keys}` : ''}\r\n`);
  });

const other = fc.oneof(
  fc.record({ key: keySlot, noreply: fc.boolean(), extra: fc.constantFrom('', ' 0', ' 5') }).map(
    (d): Render => (p) => latin1(`delete ${keyName(p, d.key)}${d.extra}${d.noreply ? ' noreply' : ''}\r\n`),
  ),
  fc
    .record({
      cmd: fc.constantFrom('incr', 'decr'),
      key: keySlot,
      delta: fc.constantFrom('1', '5', '0', '18446744073709551615', '18446744073709551616', '-1', 'x', ''),
      noreply: fc.boolean(),
    })
    .map((a): Render => (p) => latin1(`${a.cmd} ${keyName(p, a.key)} ${a.delta}${a.noreply ? ' noreply' : ''}\r\n`)),
  fc.record({ key: keySlot, exptime: exptimeArb, noreply: fc.boolean() }).map(
    (t): Render => (p) => latin1(`touch ${keyName(p, t.key)} ${t.exptime}${t.noreply ? ' noreply' : ''}\r\n`),
  ),
  fc.constantFrom<Render>(
    () => latin1('version\r\n'),
    () => latin1('verbosity 1\r\n'),
    () => latin1('verbosity\r\n'),
    () => latin1('flush_all\r\n'),
    () => latin1('flush_all noreply\r\n'),
    () => latin1('flush_all abc\r\n'),
    () => latin1('\r\n'),
    () => latin1('GET x\r\n'),
  ),
);

/** a line of random bytes (never containing \n, never starting with the binary magic) */
const garbageLine = fc
  .record({ bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }), end: fc.constantFrom('\r\n', '\n') })
  .map((g): Render => () => {
    const b = Buffer.from(g.bytes.map((x) => (x === 0x0a ? 0x20 : x)));
    if (b[0] === 0x80) b[0] = 0x7e;
    return Buffer.concat([b, latin1(g.end)]);
  });

const asciiPiece: fc.Arbitrary<Render> = fc.oneof(
  { weight: 6, arbitrary: storage },
  { weight: 5, arbitrary: retrieval },
  { weight: 4, arbitrary: other },
  { weight: 2, arbitrary: garbageLine },
);

export interface FuzzInput {
  render: Render;
  /** cut points as fractions of the stream length */
  cuts: number[];
  describe: string;
}

const cutsArb = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 });

export const asciiStream: fc.Arbitrary<FuzzInput> = fc
  .record({
    pieces: fc.array(asciiPiece, { minLength: 1, maxLength: 12 }),
    // a stream may end in an over-long line with no newline (memcached closes) or a quit
    tail: fc.oneof({ weight: 12, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom('quit\r\n', 'x'.repeat(3000)) }),
    cuts: cutsArb,
  })
  .map((s) => ({
    render: (p: string) => {
      const b = Buffer.concat([...s.pieces.map((r) => r(p)), latin1(s.tail)]);
      if (b[0] === 0x80) b[0] = 0x7e; // stay in the ASCII protocol
      return b;
    },
    cuts: s.cuts,
    describe: 'ascii',
  }));

// ---------------------------------------------------------------- binary

const OPS = {
  get: [0x00, 0x09, 0x0c, 0x0d],
  store: [0x01, 0x02, 0x03, 0x11, 0x12, 0x13],
  concat: [0x0e, 0x0f, 0x19, 0x1a],
  del: [0x04, 0x14],
  arith: [0x05, 0x06, 0x15, 0x16],
  touch: [0x1c],
  gat: [0x1d, 0x1e, 0x23, 0x24],
  bare: [0x0a, 0x0b, 0x08, 0x18, 0x1b],
  unknown: [0x30, 0x45, 0x7f, 0xfe, 0x25, 0x20],
};

function frame(opcode: number, key: Buffer, extras: Buffer, value: Buffer, opaque: number, cas: bigint, over: { keyLen?: number; extLen?: number; bodyLen?: number; magic?: number; dataType?: number } = {}): Buffer {
  const head = Buffer.alloc(24);
  head[0] = over.magic ?? 0x80;
  head[1] = opcode;
  head.writeUInt16BE(over.keyLen ?? key.length, 2);
  head[4] = over.extLen ?? extras.length;
  head[5] = over.dataType ?? 0;
  head.writeUInt32BE(over.bodyLen ?? key.length + extras.length + value.length, 8);
  head.writeUInt32BE(opaque >>> 0, 12);
  head.writeBigUInt64BE(cas, 16);
  return Buffer.concat([head, extras, key, value]);
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

const binaryFrame = (mangled: boolean): fc.Arbitrary<Render> =>
  fc
  .record({
    group: fc.constantFrom(...(Object.keys(OPS) as (keyof typeof OPS)[])),
    pick: fc.nat(),
    key: keySlot,
    keyless: fc.oneof({ weight: 15, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    value: dataArb,
    flags: fc.constantFrom(0, 1, 0xffffffff),
    exptime: fc.constantFrom(0, 0, 100000, 0xffffffff),
    delta: fc.constantFrom(0n, 1n, 7n, 18446744073709551615n),
    initial: fc.constantFrom(0n, 10n),
    cas: fc.oneof({ weight: 6, arbitrary: fc.constant(0n) }, { weight: 1, arbitrary: fc.constantFrom(1n, 123456789n, 18446744073709551615n) }),
    opaque: fc.nat(),
    // sometimes wrong extras, a non-zero data type, or an inconsistent header
    mangle: mangled
      ? fc.oneof(
          { weight: 6, arbitrary: fc.constant('none') },
          { weight: 1, arbitrary: fc.constantFrom('noextras', 'extras-on-get', 'key-over-body', 'datatype', 'value-on-get') },
        )
      : fc.constant('none'),
  })
  .map((f): Render => (p) => {
    const ops = OPS[f.group];
    const opcode = ops[f.pick % ops.length];
    const key = f.keyless ? Buffer.alloc(0) : latin1(keyName(p, f.key));
    let extras: Buffer = Buffer.alloc(0);
    let value: Buffer = Buffer.alloc(0);
    switch (f.group) {
      case 'store':
        extras = Buffer.concat([u32(f.flags), u32(f.exptime)]);
        value = Buffer.from(f.value);
        break;
      case 'concat':
        value = Buffer.from(f.value);
        break;
      case 'arith': {
        extras = Buffer.alloc(20);
        extras.writeBigUInt64BE(f.delta, 0);
        extras.writeBigUInt64BE(f.initial, 8);
        extras.writeUInt32BE(f.exptime === 0xffffffff ? 0xffffffff : 0, 16);
        break;
      }
      case 'touch':
      case 'gat':
        extras = u32(f.exptime);
        break;
      case 'bare':
        // verbosity stays without extras: memcached 1.6 has no binary verbosity and mis-swallows
        // the extras of an unknown command (it then eats the next request's first bytes)
        break;
      default:
        break;
    }
    // unknown opcodes go bare: memcached 1.6 mis-swallows an unknown command's body (it reads the
    // key, then swallows the whole body length again), so no reference answer exists for those
    if (f.group === 'unknown') return frame(opcode, Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0), f.opaque, f.cas);
    const bare = f.group === 'bare';
    const k = bare ? Buffer.alloc(0) : key;
    switch (f.mangle) {
      case 'noextras':
        return frame(opcode, k, Buffer.alloc(0), value, f.opaque, f.cas);
      case 'extras-on-get':
        return frame(opcode, k, u32(5), value, f.opaque, f.cas);
      case 'value-on-get':
        return frame(opcode, k, extras, Buffer.concat([value, latin1('zz')]), f.opaque, f.cas);
      case 'key-over-body':
        return frame(opcode, k, extras, value, f.opaque, f.cas, { keyLen: k.length + 100 });
      case 'datatype':
        return frame(opcode, k, extras, value, f.opaque, f.cas, { dataType: 1 });
      default:
        return frame(opcode, k, extras, value, f.opaque, f.cas);
    }
  });

/**
 * Binary streams. `mangled` adds frames with inconsistent headers (wrong extras, trailing body,
 * key longer than the body, non-zero data type): memcached answers those in ways that depend on
 * its read state (it may desync and answer with the next bytes as a header), so for them the
 * property is robustness, not byte equality.
 */
export const binaryStream = (mangled: boolean): fc.Arbitrary<FuzzInput> =>
  fc
  .record({
    frames: fc.array(binaryFrame(mangled), { minLength: 1, maxLength: 10 }),
    // end with a noop (flushes quiet replies), a quit, bad magic, or nothing
    tail: fc.oneof(
      { weight: 6, arbitrary: fc.constant<Render>(() => frame(0x0a, Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0), 0xabcdef, 0n)) },
      { weight: 3, arbitrary: fc.constant<Render>(() => Buffer.alloc(0)) },
      { weight: 1, arbitrary: fc.constant<Render>(() => frame(0x07, Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0), 7, 0n)) },
      // bad magic, at least a whole header long (memcached closes once it has read a full header)
      { weight: 1, arbitrary: fc.uint8Array({ minLength: 24, maxLength: 40 }).map((b): Render => () => Buffer.concat([Buffer.from([0x42]), Buffer.from(b)])) },
    ),
    cuts: cutsArb,
  })
  .map((s) => ({ render: (p: string) => Buffer.concat([...s.frames.map((r) => r(p)), s.tail(p)]), cuts: s.cuts, describe: mangled ? 'binary-mangled' : 'binary' }));

/** Request opaques in stream order (whole frames only). */
export function requestOpaques(stream: Buffer): number[] {
  const out: number[] = [];
  let at = 0;
  while (at + 24 <= stream.length && stream[at] === 0x80) {
    out.push(stream.readUInt32BE(at + 12));
    at += 24 + stream.readUInt32BE(at + 8);
  }
  return out;
}

/** Parse reply frames; undefined when the bytes are not a clean sequence of response frames. */
export function replyOpaques(reply: Buffer): number[] | undefined {
  const out: number[] = [];
  let at = 0;
  while (at < reply.length) {
    if (at + 24 > reply.length || reply[at] !== 0x81) return undefined;
    out.push(reply.readUInt32BE(at + 12));
    at += 24 + reply.readUInt32BE(at + 8);
  }
  return at === reply.length ? out : undefined;
}

/** is `sub` a subsequence of `seq` (replies in request order, quiet ones skipped)? */
export function isSubsequence(sub: number[], seq: number[]): boolean {
  let i = 0;
  for (const x of seq) if (i < sub.length && sub[i] === x) i++;
  return i === sub.length;
}

/** Pure random bytes, starting either as ASCII or with the binary magic. */
export const randomBytesStream: fc.Arbitrary<FuzzInput> = fc
  .record({ binary: fc.boolean(), bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }), cuts: cutsArb })
  .map((s) => ({
    render: () => {
      const b = Buffer.from(s.bytes);
      if (s.binary) b[0] = 0x80;
      else if (b[0] === 0x80) b[0] = 0x7e;
      return b;
    },
    cuts: s.cuts,
    describe: s.binary ? 'random-binary' : 'random-ascii',
  }));

// ---------------------------------------------------------------- normalisation

/** CAS uniques differ between two servers: keep their presence, drop their value. */
export function normaliseAscii(reply: Buffer): string {
  return reply.toString('latin1').replace(/^(VALUE \S+ \d+ \d+) \d+\r\n/gm, '$1 <cas>\r\n');
}

export function normaliseBinary(reply: Buffer): string {
  const out: string[] = [];
  let at = 0;
  while (at + 24 <= reply.length) {
    const head = Buffer.from(reply.subarray(at, at + 24));
    const body = head.readUInt32BE(8);
    if (head.readBigUInt64BE(16) !== 0n) head.writeBigUInt64BE(1n, 16);
    const end = Math.min(reply.length, at + 24 + body);
    out.push(`${head.toString('hex')}:${reply.subarray(at + 24, end).toString('hex')}`);
    at = end;
  }
  if (at < reply.length) out.push(`tail:${reply.subarray(at).toString('hex')}`);
  return out.join('\n');
}
