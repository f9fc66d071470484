import { describe, expect, it } from 'vitest';
import { safeStrtol, safeStrtoul, safeStrtoull } from '../../src/protocol/ascii-numbers.js';

// Expected values are what memcached 1.6 (64-bit) accepts; checked against a real server in test/proxy.
describe('memcached number parsing', () => {
  it('safe_strtoull keeps all 64 bits and refuses small negatives', () => {
    expect(safeStrtoull('18446744073709551615')).toBe(18446744073709551615n);
    expect(safeStrtoull('18446744073709551616')).toBeUndefined();
    expect(safeStrtoull('-1')).toBeUndefined();
    expect(safeStrtoull('12abc')).toBeUndefined();
    expect(safeStrtoull('')).toBeUndefined();
    expect(safeStrtoull('0')).toBe(0n);
  });
  it('safe_strtoul truncates to 32 bits like the C cast', () => {
    expect(safeStrtoul('4294967296')).toBe(0);
    expect(safeStrtoul('4294967295')).toBe(4294967295);
    expect(safeStrtoul('-1')).toBeUndefined();
  });
  it('safe_strtol truncates to int32', () => {
    expect(safeStrtol('4294967295')).toBe(-1);
    expect(safeStrtol('4294967301')).toBe(5);
    expect(safeStrtol('-5')).toBe(-5);
    expect(safeStrtol('x')).toBeUndefined();
  });
});
