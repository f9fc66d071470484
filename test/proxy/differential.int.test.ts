import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Op, arithExtras, encodeRequest, expirationExtras, storeExtras, HEADER_LENGTH } from '../../src/protocol/binary.js';
import type { RunningProxy } from '../../src/proxy/server.js';
import { TestServers, asciiSetup, exchange, peek, startReferenceAndProxy, type Addr } from './harness.js';

/**
 * Differential tests: the same bytes go to a real memcached (reference) and through the proxy
 * (in front of another real memcached master + slave); the reply bytes must be identical.
 * Both start from the same state and receive the same stores in the same order, so even the CAS
 * uniques match.
 */

const servers = new TestServers();
let reference: Addr;
let master: Addr;
let slave: Addr;
let proxy: RunningProxy;

beforeAll(async () => {
  ({ reference, master, slave, proxy } = await startReferenceAndProxy(servers));
});

afterAll(async () => {
  await proxy?.stop(500);
  await servers.stopAll();
});

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

async function reset(setup: Buffer[]): Promise<void> {
  const text = `flush_all\r\n${Buffer.concat(setup).toString('latin1')}`;
  await Promise.all([asciiSetup(reference.port, text), asciiSetup(proxy.port, text)]);
}

/** binary setup requests followed by a noop: done when the noop's reply arrives */
async function binarySetup(port: number, setup: Buffer[]): Promise<void> {
  const noop = encodeRequest({ opcode: Op.Noop, opaque: 0xfeedbeef });
  await exchange(port, [Buffer.concat([...setup, noop])], {
    idleMs: 3000,
    until: (r) => r.length >= 24 && r[r.length - 24] === 0x81 && r[r.length - 23] === Op.Noop && r.readUInt32BE(r.length - 12) === 0xfeedbeef,
  });
}

/** ASCII: blank out CAS uniques so replies from different runs can be compared */
function normalizeAscii(reply: Buffer): string {
  return reply.toString('latin1').replace(/^(VALUE \S+ \d+ \d+) \d+\r\n/gm, '$1 <cas>\r\n');
}

/** binary: CAS fields become 0 or 1 (present or not): uniques differ between runs and servers */
function normalizeBinary(reply: Buffer): string {
  const copy = Buffer.from(reply);
  let at = 0;
  while (at + HEADER_LENGTH <= copy.length) {
    const present = copy.readBigUInt64BE(at + 16) !== 0n;
    copy.writeBigUInt64BE(present ? 1n : 0n, at + 16);
    at += HEADER_LENGTH + copy.readUInt32BE(at + 8);
  }
  return copy.toString('hex');
}

async function differential(setup: Buffer[], request: Buffer): Promise<{ reply: Buffer; closed: boolean }> {
  await reset(setup);
  const ref = await exchange(reference.port, [request], { idleMs: 300 });
  const got = await exchange(proxy.port, [request], { expectBytes: ref.reply.length, idleMs: 2000 });
  expect(got.reply.toString('latin1')).toEqual(ref.reply.toString('latin1'));
  expect(got.closed).toBe(ref.closed);
  return ref;
}

const k250 = 'k'.repeat(250);
const k251 = 'k'.repeat(251);
const MB = 1024 * 1024;
const withEnd = 'x\r\nEND\r\nVALUE';

const ASCII_CASES: Array<[string, string, string]> = [
  ['set then get', '', 'set k 1 0 5\r\nhello\r\nget k\r\n'],
  ['gets carries the CAS unique', 'set k 1 0 5\r\nhello\r\n', 'gets k\r\n'],
  ['multi-get with hits and misses', 'set a 0 0 1\r\n1\r\nset c 3 0 1\r\n3\r\n', 'get a b c\r\ngets c b a\r\n'],
  ['add existing and new', 'set k 0 0 1\r\nx\r\n', 'add k 0 0 1\r\ny\r\nadd n 0 0 1\r\ny\r\nget k n\r\n'],
  ['replace missing and existing', 'set k 0 0 1\r\nx\r\n', 'replace m 0 0 1\r\ny\r\nreplace k 2 0 1\r\ny\r\nget k m\r\n'],
  ['append and prepend', 'set k 7 0 1\r\nx\r\n', 'append k 0 0 2\r\nab\r\nprepend k 0 0 2\r\nzz\r\nappend nope 0 0 1\r\na\r\nget k\r\n'],
  ['cas stale, missing and unique 0', 'set k 0 0 1\r\nx\r\n', 'cas k 0 0 1 1\r\ny\r\ncas nope 0 0 1 5\r\ny\r\ncas k 0 0 1 0\r\ny\r\ncas nope 0 0 1 0\r\ny\r\nget k\r\n'],
  ['delete', 'set k 0 0 1\r\nx\r\n', 'delete k\r\ndelete k\r\ndelete k 0\r\ndelete k 5\r\ndelete k 0 noreply\r\nget k\r\n'],
  [
    'incr and decr: wrap, floor, non-numeric, missing, bad delta',
    'set n 0 0 2\r\n10\r\nset s 0 0 3\r\nabc\r\n',
    'incr n 5\r\ndecr n 100\r\nincr n 18446744073709551615\r\nincr n 2\r\nincr s 1\r\nincr nope 1\r\nincr n -1\r\nincr n abc\r\ndecr n\r\nget n\r\n',
  ],
  ['touch, gat, gats', 'set k 3 0 1\r\nx\r\n', 'touch k 100\r\ntouch nope 100\r\ngat 100 k nope\r\ngats 0 k\r\ntouch k abc\r\ngat x k\r\ngat 10\r\n'],
  ['negative exptime expires at once', '', 'set k 0 -1 1\r\nx\r\nget k\r\n'],
  ['noreply forms', '', 'set k 0 0 1 noreply\r\n1\r\nadd k 0 0 1 noreply\r\ny\r\nincr k 1 noreply\r\nappend k 0 0 1 noreply\r\nz\r\ndelete nope noreply\r\ntouch k 10 noreply\r\nget k\r\n'],
  ['noreply hides failures too', '', 'set k 0 0 1 noreply\r\nab\r\nincr k abc noreply\r\nget k\r\n'],
  ['flush_all', 'set k 0 0 1\r\nx\r\n', 'flush_all\r\nget k\r\nflush_all noreply\r\nflush_all 0\r\nflush_all abc\r\n'],
  ['version and verbosity', '', 'version\r\nverbosity 1\r\nverbosity 1 noreply\r\nverbosity noreply\r\n'],
  ['unknown commands and wrong token counts', '', 'bogus\r\n\r\nget\r\nset k\r\nGET k\r\nincr k\r\ntouch k\r\n'],
  // memcached drops replies still unsent when a get has a too-long key (conn_release_items), so
  // the 251-byte cases are sent one per connection
  ['251-byte key refused by set (the value line then is an unknown command)', '', `set ${k251} 0 0 5\r\nhello\r\n`],
  ['251-byte key refused by get', '', `get ${k251}\r\nversion\r\n`],
  ['250-byte key works', '', `get ${k250}\r\nset ${k250} 0 0 1\r\nx\r\nget ${k250}\r\n`],
  ['negative and huge lengths', 'set k 0 0 1\r\nx\r\n', 'set k 0 0 -1\r\nset k 0 0 4294967295\r\nset k -1 0 1\r\nget k\r\n'],
  ['data block longer than declared', 'set k 0 0 1\r\nx\r\n', 'set k 0 0 3\r\nabcd\r\nget k\r\n'],
  ['a value containing \\r\\nEND\\r\\n', '', `set k 0 0 ${withEnd.length}\r\n${withEnd}\r\nget k\r\n`],
  ['bare newlines on command lines', 'set k 0 0 1\r\nx\r\n', 'get k\nversion\n'],
  ['too large for the proxy: error, body swallowed, old value gone', 'set big 0 0 1\r\nx\r\n', `set big 0 0 ${MB + 1}\r\n${'v'.repeat(MB + 1)}\r\nget big\r\n`],
  ['too large for memcached only (item overhead)', 'set big 0 0 1\r\nx\r\n', `set big 0 0 ${MB - 10}\r\n${'v'.repeat(MB - 10)}\r\nget big\r\n`],
  ['large value that fits', '', `set big 0 0 ${500_000}\r\n${'w'.repeat(500_000)}\r\nget big\r\n`],
  ['stats reset and an unknown stats group', '', 'stats reset\r\nstats nosuch\r\n'],
  ['quit closes after earlier replies', 'set k 0 0 1\r\nx\r\n', 'get k\r\nquit\r\nget k\r\n'],
  ['a long line without newline closes', '', 'x'.repeat(3000)],
];

describe('ASCII: proxy replies byte for byte like memcached', () => {
  for (const [name, setup, request] of ASCII_CASES) {
    it(name, async () => {
      await differential(setup ? [b(setup)] : [], b(request));
    });
  }

  it('cas with the current unique stores, then the same unique is EXISTS', async () => {
    await reset([b('set k 0 0 1\r\nx\r\n')]);
    const gets = await exchange(reference.port, [b('gets k\r\n')]);
    const unique = /VALUE k 0 1 (\d+)/.exec(gets.reply.toString())![1];
    await exchange(proxy.port, [b('gets k\r\n')]);
    const request = b(`cas k 0 0 1 ${unique}\r\ny\r\ncas k 0 0 1 ${unique}\r\nz\r\ngets k\r\n`);
    const ref = await exchange(reference.port, [request]);
    const got = await exchange(proxy.port, [request], { expectBytes: ref.reply.length });
    expect(got.reply.toString()).toEqual(ref.reply.toString());
    expect(ref.reply.toString()).toMatch(/^STORED\r\nEXISTS\r\nVALUE k 0 1 \d+\r\ny\r\nEND\r\n$/);
  });

  it('stats through the proxy are the master\'s STAT lines ending in END', async () => {
    const { reply } = await exchange(proxy.port, [b('stats\r\n')]);
    expect(reply.toString()).toMatch(/^STAT pid \d+\r\n(STAT \S+ [^\r\n]*\r\n)+END\r\n$/);
  });

  it('the too-large set also dropped the old value on the slave', async () => {
    await reset([b('set big 0 0 1\r\nx\r\n')]);
    expect(await peek(slave, 'big')).toEqual({ value: 'x', flags: 0 });
    await exchange(proxy.port, [b(`set big 0 0 ${MB + 1}\r\n${'v'.repeat(MB + 1)}\r\n`)]);
    expect(await peek(master, 'big')).toBeNull();
    expect(await peek(slave, 'big')).toBeNull();
  });

  const PIPELINE = 'set a 0 0 3\r\nabc\r\nget a b\r\nincr a 1\r\nappend a 0 0 1\r\nd\r\nbogus\r\ndelete a\r\ngets a\r\n';
  it('a pipeline byte by byte and split at every offset gives the same replies', async () => {
    await reset([]);
    const ref = await exchange(reference.port, [b(PIPELINE)]);
    const expected = normalizeAscii(ref.reply);
    const bytes = b(PIPELINE);
    const variants: Buffer[][] = [[...bytes].map((x) => Buffer.from([x]))];
    for (let i = 1; i < bytes.length; i++) variants.push([bytes.subarray(0, i), bytes.subarray(i)]);
    for (const chunks of variants) {
      await asciiSetup(proxy.port, 'flush_all\r\n');
      const got = await exchange(proxy.port, chunks, { expectBytes: ref.reply.length, idleMs: 2000 });
      expect(normalizeAscii(got.reply), `split into ${chunks.map((c) => c.length).join('+')}`).toEqual(expected);
    }
  });
});

// ---- binary ------------------------------------------------------------------------------

const key = (s: string): Buffer => b(s);
const req = (opcode: number, f: { key?: string; extras?: Buffer; value?: string | Buffer; cas?: bigint; opaque?: number } = {}): Buffer =>
  encodeRequest({
    opcode,
    opaque: f.opaque ?? 0x01020304 + opcode,
    key: f.key !== undefined ? key(f.key) : undefined,
    extras: f.extras,
    value: typeof f.value === 'string' ? b(f.value) : f.value,
    cas: f.cas,
  });
const set = (k: string, v: string | Buffer, flags = 0, opcode: number = Op.Set, cas?: bigint): Buffer => req(opcode, { key: k, extras: storeExtras(flags, 0), value: v, cas });

const BINARY_CASES: Array<[string, Buffer[], Buffer[]]> = [
  ['get and getk miss', [], [req(Op.Get, { key: 'k' }), req(Op.GetK, { key: 'k' })]],
  ['set, get, getk', [], [set('k', 'hello', 9), req(Op.Get, { key: 'k' }), req(Op.GetK, { key: 'k' })]],
  ['memjs-style multi-get: getkq... + noop sharing one opaque', [set('a', '1'), set('c', '3')], [
    req(Op.GetKQ, { key: 'a', opaque: 7 }), req(Op.GetKQ, { key: 'b', opaque: 7 }), req(Op.GetKQ, { key: 'c', opaque: 7 }), req(Op.Noop, { opaque: 7 }),
  ]],
  ['getq miss is silent, hit is not', [set('h', 'x')], [req(Op.GetQ, { key: 'nope' }), req(Op.GetQ, { key: 'h' }), req(Op.Noop)]],
  ['setq silent on success; addq answers its failure', [], [set('k', 'v', 0, Op.SetQ), set('k', 'w', 0, Op.AddQ), req(Op.Noop), req(Op.Get, { key: 'k' })]],
  ['add, replace, append, prepend', [set('k', 'x')], [
    set('k', 'y', 0, Op.Add), set('n', 'y', 0, Op.Add), set('m', 'y', 0, Op.Replace), set('k', 'z', 4, Op.Replace),
    req(Op.Append, { key: 'k', value: 'ab' }), req(Op.Prepend, { key: 'k', value: 'q' }), req(Op.Append, { key: 'nope', value: 'a' }), req(Op.Get, { key: 'k' }),
  ]],
  ['a stale CAS is EXISTS, CAS on a missing key NOT_FOUND', [set('k', 'x')], [set('k', 'y', 0, Op.Set, 12345n), set('nope', 'y', 0, Op.Set, 5n), req(Op.Get, { key: 'k' })]],
  ['delete and deleteq', [set('k', 'x'), set('j', 'x')], [req(Op.Delete, { key: 'k' }), req(Op.Delete, { key: 'k' }), req(Op.DeleteQ, { key: 'j' }), req(Op.DeleteQ, { key: 'j' }), req(Op.Noop)]],
  ['incr/decr: create with initial, add, floor, non-numeric, quiet', [set('s', 'abc')], [
    req(Op.Increment, { key: 'n', extras: arithExtras(5n, 100n, 0) }), req(Op.Increment, { key: 'n', extras: arithExtras(5n) }),
    req(Op.Decrement, { key: 'n', extras: arithExtras(1000n) }), req(Op.Increment, { key: 's', extras: arithExtras(1n) }),
    req(Op.Increment, { key: 'missing', extras: arithExtras(1n) }), req(Op.IncrementQ, { key: 'n', extras: arithExtras(2n) }), req(Op.Get, { key: 'n' }),
  ]],
  ['touch, gat, gatk, gatq miss, gatkq hit', [set('k', 'x', 3)], [
    req(Op.Touch, { key: 'k', extras: expirationExtras(100) }), req(Op.Touch, { key: 'nope', extras: expirationExtras(100) }),
    req(Op.GAT, { key: 'k', extras: expirationExtras(100) }), req(Op.GATK, { key: 'k', extras: expirationExtras(100) }),
    req(Op.GATQ, { key: 'nope', extras: expirationExtras(1) }), req(Op.GATKQ, { key: 'k', extras: expirationExtras(1) }), req(Op.Noop),
  ]],
  ['flush and flushq', [set('k', 'x')], [req(Op.FlushQ), req(Op.Get, { key: 'k' }), req(Op.Flush)]],
  ['noop, version', [], [req(Op.Noop), req(Op.Version)]],
  ['unknown opcode answers 0x0081 and stays in sync', [set('k', 'x')], [req(0x50), req(Op.Get, { key: 'k' })]],
  ['SASL without SASL configured', [], [req(Op.SaslListMechs), req(Op.Noop)]],
  ['quit answers then closes', [], [req(Op.Noop), req(Op.Quit), req(Op.Noop)]],
  ['quitq closes silently', [], [req(Op.QuitQ), req(Op.Noop)]],
  ['bad magic mid-stream closes', [], [req(Op.Noop), b('\x90garbage-garbage-garbage-garbage')]],
  ['get with extras: invalid arguments, then close', [], [req(Op.Get, { key: 'k', extras: Buffer.alloc(4) }), req(Op.Noop)]],
  ['251-byte key: invalid arguments, then close', [], [req(Op.Get, { key: k251 }), req(Op.Noop)]],
  ['too large set: 0x0003, body swallowed, old value gone', [set('big', 'x')], [set('big', Buffer.alloc(MB + 100, 0x61)), req(Op.Get, { key: 'big' })]],
];

describe('binary: proxy replies byte for byte like memcached', () => {
  for (const [name, setup, requests] of BINARY_CASES) {
    it(name, async () => {
      await reset([]);
      if (setup.length) {
        await Promise.all([binarySetup(reference.port, setup), binarySetup(proxy.port, setup)]);
      }
      const request = Buffer.concat(requests);
      const ref = await exchange(reference.port, [request], { idleMs: 300 });
      const got = await exchange(proxy.port, [request], { expectBytes: ref.reply.length, idleMs: 2000 });
      expect(normalizeBinary(got.reply)).toEqual(normalizeBinary(ref.reply));
      expect(got.closed).toBe(ref.closed);
    });
  }

  it('binary stat: the master\'s stat frames with the client\'s opaque, ending in an empty-key frame', async () => {
    const frame = req(Op.Stat, { opaque: 99 });
    const { reply } = await exchange(proxy.port, [frame], { idleMs: 2000, until: (r) => r.length >= 24 && r.readUInt32BE(r.length - 16) === 0 && r.readUInt16BE(r.length - 22) === 0 });
    const keys: string[] = [];
    for (let at = 0; at + HEADER_LENGTH <= reply.length; at += HEADER_LENGTH + reply.readUInt32BE(at + 8)) {
      expect(reply[at + 1]).toBe(Op.Stat);
      expect(reply.readUInt32BE(at + 12)).toBe(99);
      keys.push(reply.subarray(at + 24, at + 24 + reply.readUInt16BE(at + 2)).toString());
    }
    expect(keys[0]).toBe('pid');
    expect(keys.at(-1)).toBe('');
  });

  it('verbosity: memcached 1.6 has no binary verbosity, so 0x0081 (body skipped, stream in sync)', async () => {
    const got = await exchange(proxy.port, [Buffer.concat([req(Op.Verbosity, { extras: expirationExtras(1), opaque: 5 }), req(Op.Noop, { opaque: 6 })])], { expectBytes: 24 + 15 + 24 });
    expect(got.reply.readUInt16BE(6)).toBe(0x0081);
    expect(got.reply.readUInt32BE(39 + 12)).toBe(6);
  });

  it('unknown opcode with a body: 0x0081, the body is skipped and the next request is answered', async () => {
    // memcached 1.6.18 itself loses sync here (it also swallows the next request); the checklist asks for sync
    const got = await exchange(proxy.port, [Buffer.concat([req(0x50, { key: 'zz', value: 'abc', opaque: 77 }), req(Op.Noop, { opaque: 78 })])], { expectBytes: 24 + 15 + 24 });
    expect(got.reply.readUInt16BE(6)).toBe(0x0081);
    expect(got.reply.readUInt32BE(12)).toBe(77);
    expect(got.reply.subarray(24, 39).toString()).toBe('Unknown command');
    expect(got.reply.subarray(39).toString('hex')).toBe(encodeRequest({ opcode: Op.Noop, opaque: 78 }).fill(0x81, 0, 1).toString('hex'));
  });

  it('key + extras longer than the body: error then close, like memcached', async () => {
    const frame = req(Op.Get, { key: 'abc' });
    frame.writeUInt32BE(1, 8);
    const ref = await exchange(reference.port, [frame]);
    const got = await exchange(proxy.port, [frame], { expectBytes: ref.reply.length });
    expect(got.closed).toBe(true);
    expect(ref.closed).toBe(true);
  });

  it('an absurd body length gets an error and a close, without buffering', async () => {
    const frame = set('k', 'x');
    frame.writeUInt32BE(0xfffffff0, 8);
    const got = await exchange(proxy.port, [frame.subarray(0, 24)]);
    expect(got.closed).toBe(true);
    expect(got.reply.readUInt16BE(6)).not.toBe(0);
  });

  it('a mixed pipeline byte by byte and split at every offset gives the same replies', async () => {
    const pipeline = Buffer.concat([set('a', 'abc', 1), req(Op.GetKQ, { key: 'a', opaque: 3 }), req(Op.GetKQ, { key: 'b', opaque: 3 }), req(Op.Noop, { opaque: 3 }), req(Op.Increment, { key: 'c', extras: arithExtras(1n, 7n, 0) }), req(Op.Delete, { key: 'a' })]);
    await reset([]);
    const ref = await exchange(reference.port, [pipeline]);
    const expected = normalizeBinary(ref.reply);
    const variants: Buffer[][] = [[...pipeline].map((x) => Buffer.from([x]))];
    for (let i = 1; i < pipeline.length; i++) variants.push([pipeline.subarray(0, i), pipeline.subarray(i)]);
    for (const chunks of variants) {
      await asciiSetup(proxy.port, 'flush_all\r\n');
      const got = await exchange(proxy.port, chunks, { expectBytes: ref.reply.length, idleMs: 2000 });
      expect(normalizeBinary(got.reply)).toEqual(expected);
    }
  });
});
