import { describe, expect, it } from 'vitest';
import {
  BinaryDecoder,
  MAGIC_REQUEST,
  MAGIC_RESPONSE,
  Op,
  Status,
  encodeErrorResponse,
  encodeRequest,
  encodeResponse,
  frameCas,
  frameExtras,
  frameKey,
  frameValue,
  isProblem,
  loudOpcode,
  storeExtras,
  type BinaryDecodeResult,
} from '../../src/protocol/binary.js';
import { byteByByte, decodeChunks, everySplit, whole } from './split-helpers.js';

function summary(r: BinaryDecodeResult): unknown {
  if (isProblem(r)) return { problem: r.problem, ...('header' in r ? { opcode: r.header.opcode, opaque: r.header.opaque } : {}) };
  return {
    opcode: r.opcode,
    status: r.status,
    opaque: r.opaque,
    cas: frameCas(r).toString(),
    extras: frameExtras(r).toString('hex'),
    key: frameKey(r).toString('latin1'),
    value: frameValue(r).toString('latin1'),
  };
}

function expectSplitInvariant(make: () => BinaryDecoder, bytes: Buffer): unknown[] {
  const expected = decodeChunks(make, whole(bytes)).map(summary);
  expect(decodeChunks(make, byteByByte(bytes)).map(summary)).toEqual(expected);
  for (const [at, parts] of everySplit(bytes)) expect(decodeChunks(make, parts).map(summary), `split at ${at}`).toEqual(expected);
  return expected;
}

const requests = () => new BinaryDecoder({ magic: MAGIC_REQUEST, maxBodyLength: 1024, swallowLimit: 4096 });
const responses = () => new BinaryDecoder({ magic: MAGIC_RESPONSE, maxBodyLength: 1024 });

describe('BinaryDecoder (requests)', () => {
  it('decodes a pipeline of set, getkq, getkq, noop with opaques and a 64-bit CAS', () => {
    const bytes = Buffer.concat([
      encodeRequest({ opcode: Op.Set, opaque: 0xdeadbeef, cas: 0xfffffffffffffff0n, extras: storeExtras(7, 60), key: Buffer.from('k'), value: Buffer.from('v\r\nEND\r\n') }),
      encodeRequest({ opcode: Op.GetKQ, opaque: 9, key: Buffer.from('a') }),
      encodeRequest({ opcode: Op.GetKQ, opaque: 9, key: Buffer.from('b') }),
      encodeRequest({ opcode: Op.Noop, opaque: 9 }),
    ]);
    const out = expectSplitInvariant(requests, bytes);
    expect(out).toEqual([
      { opcode: Op.Set, status: 0, opaque: 0xdeadbeef, cas: '18446744073709551600', extras: '000000070000003c', key: 'k', value: 'v\r\nEND\r\n' },
      { opcode: Op.GetKQ, status: 0, opaque: 9, cas: '0', extras: '', key: 'a', value: '' },
      { opcode: Op.GetKQ, status: 0, opaque: 9, cas: '0', extras: '', key: 'b', value: '' },
      { opcode: Op.Noop, status: 0, opaque: 9, cas: '0', extras: '', key: '', value: '' },
    ]);
  });

  it('bad magic is reported once and the decoder stops', () => {
    const out = decodeChunks(requests, [Buffer.from('get foo\r\n')]).map(summary);
    expect(out).toEqual([{ problem: 'bad-magic' }]);
  });

  it('key + extras longer than the body is a protocol error (no allocation)', () => {
    const frame = encodeRequest({ opcode: Op.Get, opaque: 5, key: Buffer.from('abc') });
    frame.writeUInt32BE(1, 8); // body 1 < key 3
    expect(expectSplitInvariant(requests, frame)).toEqual([{ problem: 'bad-lengths', opcode: Op.Get, opaque: 5 }]);
  });

  it('an absurd body length is refused from the header alone', () => {
    const header = encodeRequest({ opcode: Op.Set, opaque: 6, extras: storeExtras(0, 0), key: Buffer.from('k') });
    header.writeUInt32BE(0xffffffff, 8);
    const d = requests();
    d.push(header);
    const r = d.next()!;
    expect(summary(r)).toEqual({ problem: 'body-too-large', opcode: Op.Set, opaque: 6 });
    expect(d.buffered).toBe(0);
  });

  it('an oversized set is skipped without buffering and the next request decodes', () => {
    const big = encodeRequest({ opcode: Op.Set, opaque: 1, extras: storeExtras(0, 0), key: Buffer.from('big'), value: Buffer.alloc(2000, 0x61) });
    const next = encodeRequest({ opcode: Op.Get, opaque: 2, key: Buffer.from('x') });
    const out = expectSplitInvariant(requests, Buffer.concat([big, next]));
    expect(out).toEqual([
      { problem: 'oversized', opcode: Op.Set, opaque: 1 },
      { opcode: Op.Get, status: 0, opaque: 2, cas: '0', extras: '', key: 'x', value: '' },
    ]);
  });

  it('quiet opcodes map to their loud twins', () => {
    expect(loudOpcode(Op.SetQ)).toBe(Op.Set);
    expect(loudOpcode(Op.GetKQ)).toBe(Op.GetK);
    expect(loudOpcode(Op.GATKQ)).toBe(Op.GATK);
    expect(loudOpcode(Op.Get)).toBe(Op.Get);
  });
});

describe('BinaryDecoder (responses)', () => {
  it('decodes hits, misses with error text and stat sequences split anywhere', () => {
    const bytes = Buffer.concat([
      encodeResponse({ opcode: Op.Get, opaque: 1, cas: 42n, extras: Buffer.from([0, 0, 0, 3]), value: Buffer.from('END\r\n') }),
      encodeErrorResponse(Op.Get, Status.KeyNotFound, 2),
      encodeResponse({ opcode: Op.Stat, opaque: 3, key: Buffer.from('pid'), value: Buffer.from('123') }),
      encodeResponse({ opcode: Op.Stat, opaque: 3 }),
    ]);
    expect(expectSplitInvariant(responses, bytes)).toEqual([
      { opcode: Op.Get, status: 0, opaque: 1, cas: '42', extras: '00000003', key: '', value: 'END\r\n' },
      { opcode: Op.Get, status: 1, opaque: 2, cas: '0', extras: '', key: '', value: 'Not found' },
      { opcode: Op.Stat, status: 0, opaque: 3, cas: '0', extras: '', key: 'pid', value: '123' },
      { opcode: Op.Stat, status: 0, opaque: 3, cas: '0', extras: '', key: '', value: '' },
    ]);
  });

  it('a response stream with request magic is garbled', () => {
    expect(decodeChunks(responses, [encodeRequest({ opcode: Op.Noop })]).map(summary)).toEqual([{ problem: 'bad-magic' }]);
  });

  it('frames stay valid after later chunks arrive (zero-copy views are never overwritten)', () => {
    const d = responses();
    const a = encodeResponse({ opcode: Op.Get, opaque: 1, extras: Buffer.alloc(4), value: Buffer.from('first') });
    const b = encodeResponse({ opcode: Op.Get, opaque: 2, extras: Buffer.alloc(4), value: Buffer.from('second') });
    d.push(Buffer.concat([a, b.subarray(0, 10)]));
    const first = d.next()!;
    expect(d.next()).toBeUndefined();
    d.push(b.subarray(10));
    const second = d.next()!;
    d.push(encodeResponse({ opcode: Op.Noop, opaque: 3 }));
    d.next();
    expect(isProblem(first) ? '' : frameValue(first).toString()).toBe('first');
    expect(isProblem(second) ? '' : frameValue(second).toString()).toBe('second');
  });
});
