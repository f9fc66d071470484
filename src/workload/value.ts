/**
 * Cache values encode the key and its database version, so every read can be judged:
 * JSON `{"k":key,"v":version,"p":"xxx..."}`, padded to the requested size.
 */
export function encodeValue(key: string, version: number, size: number): Buffer {
  const base = `{"k":${JSON.stringify(key)},"v":${version},"p":"`;
  const padLength = Math.max(0, size - base.length - 2);
  return Buffer.from(base + 'x'.repeat(padLength) + '"}', 'utf8');
}

export type DecodedValue = { ok: true; version: number } | { ok: false; reason: string };

export function decodeValue(key: string, value: Buffer): DecodedValue {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch {
    return { ok: false, reason: `not a workload value (${value.length} bytes, not JSON)` };
  }
  const o = parsed as { k?: unknown; v?: unknown } | null;
  if (!o || typeof o !== 'object' || typeof o.v !== 'number' || !Number.isInteger(o.v) || o.v < 0) {
    return { ok: false, reason: 'not a workload value (no integer version)' };
  }
  if (o.k !== key) return { ok: false, reason: `value belongs to key ${JSON.stringify(o.k)}` };
  return { ok: true, version: o.v };
}
