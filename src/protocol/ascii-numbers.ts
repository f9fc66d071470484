/**
 * memcached's own number parsing (util.c safe_strtol / safe_strtoul / safe_strtoull on a 64-bit
 * build), reproduced exactly so the proxy accepts and refuses the same command lines memcached
 * does. Values are BigInt: CAS uniques and deltas are unsigned 64-bit.
 */

const U64 = 1n << 64n;
const I64_MAX = (1n << 63n) - 1n;
const I64_MIN = -(1n << 63n);

function isCSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

interface Scan {
  negative: boolean;
  magnitude: bigint;
  /** index just past the digits */
  end: number;
  digits: number;
}

function scan(s: string): Scan {
  let i = 0;
  while (i < s.length && isCSpace(s.charCodeAt(i))) i++;
  let negative = false;
  if (s[i] === '+' || s[i] === '-') {
    negative = s[i] === '-';
    i++;
  }
  const startDigits = i;
  while (i < s.length && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) i++;
  const digits = i - startDigits;
  const magnitude = digits > 0 ? BigInt(s.slice(startDigits, i)) : 0n;
  return { negative, magnitude, end: i, digits };
}

/** the tail after the number must be empty or start with whitespace */
function tailOk(s: string, sc: Scan): boolean {
  if (sc.digits === 0) return false;
  return sc.end === s.length || isCSpace(s.charCodeAt(sc.end));
}

/** strtoull on 64 bits: undefined on ERANGE / no digits / garbage; negatives wrap like C */
function strtoull(s: string): { value: bigint; sawMinus: boolean } | undefined {
  const sc = scan(s);
  if (!tailOk(s, sc)) return undefined;
  if (sc.magnitude > U64 - 1n) return undefined;
  const value = sc.negative ? (U64 - sc.magnitude) % U64 : sc.magnitude;
  return { value, sawMinus: sc.negative };
}

/** safe_strtoull: unsigned 64-bit (CAS unique, incr/decr delta). */
export function safeStrtoull(s: string): bigint | undefined {
  const r = strtoull(s);
  if (!r) return undefined;
  if (r.value > I64_MAX && r.sawMinus) return undefined;
  return r.value;
}

/** safe_strtoul: unsigned long parsed, stored into a uint32 (flags). */
export function safeStrtoul(s: string): number | undefined {
  const r = strtoull(s);
  if (!r) return undefined;
  if (r.value > I64_MAX && r.sawMinus) return undefined;
  return Number(r.value & 0xffffffffn);
}

/** safe_strtol: long parsed, stored into an int32 (exptime, length, delay). */
export function safeStrtol(s: string): number | undefined {
  const sc = scan(s);
  if (!tailOk(s, sc)) return undefined;
  const value = sc.negative ? -sc.magnitude : sc.magnitude;
  if (value > I64_MAX || value < I64_MIN) return undefined;
  return Number(BigInt.asIntN(32, value));
}
