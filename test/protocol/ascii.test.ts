import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AsciiRequestDecoder, LINE_LIMIT, valueHeader, type AsciiRequest } from '../../src/protocol/ascii.js';
import { byteByByte, decodeChunks, everySplit, plain, whole } from './split-helpers.js';

const make = () => new AsciiRequestDecoder({ maxValueLength: 1024 });
const decode = (text: string | Buffer): unknown[] => plain(decodeChunks<AsciiRequest>(make, whole(Buffer.from(text as string, 'latin1')))) as unknown[];

/** every case must decode identically whole, byte by byte and split at every offset */
function expectSplitInvariant(text: string | Buffer): unknown[] {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
  const expected = plain(decodeChunks(make, whole(bytes)));
  expect(plain(decodeChunks(make, byteByByte(bytes)))).toEqual(expected);
  for (const [at, parts] of everySplit(bytes)) {
    expect(plain(decodeChunks(make, parts)), `split at ${at}`).toEqual(expected);
  }
  return expected as unknown[];
}

const CASES: Array<[string, string, unknown[]]> = [
  ['get one key', 'get foo\r\n', [{ type: 'get', cas: false, keys: ['buf:foo'] }]],
  ['gets several keys, extra spaces', 'gets  a b   c\r\n', [{ type: 'get', cas: true, keys: ['buf:a', 'buf:b', 'buf:c'] }]],
  ['gat', 'gat 10 k\r\n', [{ type: 'get', cas: false, keys: ['buf:k'], touchExptime: 10 }]],
  ['gats bad exptime', 'gats x k\r\n', [{ type: 'reply', line: 'CLIENT_ERROR invalid exptime argument', noreply: false }]],
  ['bare \\n line end', 'get foo\n', [{ type: 'get', cas: false, keys: ['buf:foo'] }]],
  [
    'set with a value containing \\r\\nEND\\r\\n',
    'set k 5 0 8\r\nx\r\nEND\r\n\r\n',
    [{ type: 'store', command: 'set', key: 'buf:k', flags: 5, exptime: 0, value: 'buf:x\r\nEND\r\n', cas: '0n', noreply: false }],
  ],
  [
    'cas with a 64-bit unique and noreply',
    'cas k 0 -1 1 18446744073709551615 noreply\r\na\r\n',
    [{ type: 'store', command: 'cas', key: 'buf:k', flags: 0, exptime: -1, value: 'buf:a', cas: '18446744073709551615n', noreply: true }],
  ],
  ['data longer than declared', 'set k 0 0 3\r\nabcd\r\n', [{ type: 'reply', line: 'CLIENT_ERROR bad data chunk', noreply: false }, { type: 'reply', line: 'ERROR', noreply: false }]],
  ['negative length', 'set k 0 0 -1\r\n', [{ type: 'reply', line: 'CLIENT_ERROR bad command line format', noreply: false }]],
  ['length 2^32-1 (an int32 -1 to memcached)', 'set k 0 0 4294967295\r\n', [{ type: 'reply', line: 'CLIENT_ERROR bad command line format', noreply: false }]],
  ['negative flags', 'set k -1 0 1\r\n', [{ type: 'reply', line: 'CLIENT_ERROR bad command line format', noreply: false }]],
  ['251-byte key', `set ${'k'.repeat(251)} 0 0 1\r\n`, [{ type: 'reply', line: 'CLIENT_ERROR bad command line format', noreply: false }]],
  ['250-byte key works', `get ${'k'.repeat(250)}\r\n`, [{ type: 'get', cas: false, keys: [`buf:${'k'.repeat(250)}`] }]],
  ['too-large value swallowed, next command answered', `set big 0 0 2000\r\n${'v'.repeat(2000)}\r\nget x\r\n`, [
    { type: 'store-too-large', command: 'set', key: 'buf:big', noreply: false },
    { type: 'get', cas: false, keys: ['buf:x'] },
  ]],
  ['incr', 'incr n 5\r\n', [{ type: 'arith', incr: true, key: 'buf:n', delta: '5n', noreply: false }]],
  ['decr bad delta', 'decr n -1\r\n', [{ type: 'reply', line: 'CLIENT_ERROR invalid numeric delta argument', noreply: false }]],
  ['incr wrong token count', 'incr n\r\n', [{ type: 'reply', line: 'ERROR', noreply: false }]],
  ['delete with 0 and noreply', 'delete k 0 noreply\r\n', [{ type: 'delete', key: 'buf:k', noreply: true }]],
  ['delete with a time', 'delete k 5\r\n', [{ type: 'reply', line: 'CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]', noreply: false }]],
  ['touch', 'touch k 100 noreply\r\n', [{ type: 'touch', key: 'buf:k', exptime: 100, noreply: true }]],
  ['flush_all with delay', 'flush_all 10\r\n', [{ type: 'flush_all', delay: 10, noreply: false }]],
  ['flush_all noreply', 'flush_all noreply\r\n', [{ type: 'flush_all', delay: 0, noreply: true }]],
  ['flush_all bad delay', 'flush_all abc\r\n', [{ type: 'reply', line: 'CLIENT_ERROR invalid exptime argument', noreply: false }]],
  ['unknown command', 'bogus\r\n', [{ type: 'reply', line: 'ERROR', noreply: false }]],
  ['empty line', '\r\n', [{ type: 'reply', line: 'ERROR', noreply: false }]],
  ['version, verbosity, stats, quit', 'version\r\nverbosity 1\r\nstats items\r\nquit\r\n', [
    { type: 'version' },
    { type: 'verbosity', noreply: false },
    { type: 'stats', args: ['items'] },
    { type: 'quit' },
  ]],
];

describe('AsciiRequestDecoder', () => {
  for (const [name, text, expected] of CASES) {
    it(`${name}: same result whole, byte by byte and split at every offset`, () => {
      expect(expectSplitInvariant(text)).toEqual(expected);
    });
  }

  it('many mixed commands in one chunk come out in order', () => {
    const text = 'set a 0 0 1\r\n1\r\nget a\r\nincr a 1\r\ndelete a\r\nbogus\r\n';
    expect(decode(text).map((r) => (r as { type: string }).type)).toEqual(['store', 'get', 'arith', 'delete', 'reply']);
  });

  it('closes on a long line without a newline (bounded buffering)', () => {
    const out = decode('x'.repeat(LINE_LIMIT + 1));
    expect(out).toEqual([{ type: 'close', reason: 'line too long without a newline' }]);
  });

  it('keeps buffering a long get line (memcached allows large multigets)', () => {
    const keys = Array.from({ length: 400 }, (_, i) => `key-${i}`).join(' ');
    expect(decode(`get ${keys}`)).toEqual([]);
    const out = decode(`get ${keys}\r\n`) as Array<{ keys: string[] }>;
    expect(out[0].keys).toHaveLength(400);
  });

  it('values are views that survive later pushes', () => {
    const d = make();
    d.push(Buffer.from('set k 0 0 3\r\nab'));
    expect(d.next()).toBeUndefined();
    d.push(Buffer.from('c\r\nset j 0 0 3\r\nxyz\r\n'));
    const first = d.next() as { value: Buffer };
    const second = d.next() as { value: Buffer };
    d.push(Buffer.from('get zzzzzzzzzzzzzzzzzzzzz\r\n'));
    d.next();
    expect(first.value.toString()).toBe('abc');
    expect(second.value.toString()).toBe('xyz');
  });

  it('renders VALUE headers with and without a CAS unique', () => {
    expect(valueHeader(Buffer.from('k'), 5, 3).toString()).toBe('VALUE k 5 3\r\n');
    expect(valueHeader(Buffer.from('k'), 0, 1, 18446744073709551615n).toString()).toBe('VALUE k 0 1 18446744073709551615\r\n');
  });
});

describe('the get and set fast paths', () => {
  const general = () => new AsciiRequestDecoder({ maxValueLength: 1024, fastPaths: false });
  const both = (bytes: Buffer): [unknown, unknown] => [plain(decodeChunks(make, whole(bytes))), plain(decodeChunks(general, whole(bytes)))];

  it('decodes exactly what the general path decodes, for lines built to hit its edges', () => {
    const lines = [
      'get k', 'gets k', 'get  k', 'get k ', ' get k', 'get', 'get ', 'gets', 'gets ', 'getk', 'getsk', 'get k1 k2', 'gets a b',
      'get a\rb', 'get a\tb', `get ${'k'.repeat(250)}`, `get ${'k'.repeat(251)}`, `gets ${'k'.repeat(251)}`, 'GET k', 'gat 1 k', 'get\0 k', 'get k\0x',
    ];
    for (const line of lines) {
      for (const end of ['\r\n', '\n']) {
        const [fast, slow] = both(Buffer.from(line + end, 'latin1'));
        expect(fast, JSON.stringify(line + end)).toEqual(slow);
      }
    }
  });

  it('agrees with the general path on random lines over a get-heavy alphabet', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('g', 'e', 't', 's', ' ', 'k', '\r', '\0', 'x'.repeat(120)), { maxLength: 12 }), (parts) => {
        const [fast, slow] = both(Buffer.from(`get${parts.join('')}\r\n`, 'latin1'));
        expect(fast).toEqual(slow);
      }),
      { numRuns: 2000, seed: 42 },
    );
  });

  it('set: decodes exactly what the general path decodes, whole and split at every offset', () => {
    const lines = [
      'set k 0 0 1\r\na', 'set k 5 100 3\r\nabc', 'set k 0 0 0\r\n', 'set k 007 0 1\r\nx', 'set k 0 0 1 noreply\r\na', 'set  k 0 0 1\r\na',
      'set k 0 0 1 \r\na', 'set k 0 -1 1\r\na', 'set k 4294967296 0 1\r\na', 'set k 0 0 999999999\r\n', 'set k 0 0 1234567890\r\n',
      'set k 0 0 2000\r\n', 'set k 0 0 1\r\nab', 'set k 0 0\r\n', 'set k 0 0 x\r\n', `set ${'k'.repeat(250)} 0 0 1\r\na`,
      `set ${'k'.repeat(251)} 0 0 1\r\na`, 'set k 0 0 1\r\na\r\nset j 1 2 2\r\nbc', 'set k\t0 0 1\r\na', 'set k 0 0 +1\r\na',
    ];
    for (const text of lines) {
      const bytes = Buffer.from(`${text}\r\nget after\r\n`, 'latin1');
      const slow = plain(decodeChunks(general, whole(bytes)));
      expect(plain(decodeChunks(make, whole(bytes))), JSON.stringify(text)).toEqual(slow);
      for (const [at, parts] of everySplit(bytes)) expect(plain(decodeChunks(make, parts)), `${JSON.stringify(text)} split at ${at}`).toEqual(slow);
    }
  });

  it('set: agrees with the general path on random lines', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(' ', 'k', '0', '1', '9', '-', 'noreply', '\t', '1234567890'), { maxLength: 14 }), (parts) => {
        const bytes = Buffer.from(`set${parts.join('')}\r\nxy\r\nget z\r\n`, 'latin1');
        expect(plain(decodeChunks(make, whole(bytes)))).toEqual(plain(decodeChunks(general, whole(bytes))));
      }),
      { numRuns: 3000, seed: 7 },
    );
  });
});
