/** Feed bytes to a chunk-by-chunk decoder in different cuts and collect everything it yields. */
export interface ChunkDecoder<T> {
  push(chunk: Buffer): void;
  next(): T | undefined;
}

export function decodeChunks<T>(make: () => ChunkDecoder<T>, chunks: Buffer[]): T[] {
  const d = make();
  const out: T[] = [];
  for (const c of chunks) {
    // copy: a decoder must not depend on the caller keeping its chunk around unchanged
    d.push(Buffer.from(c));
    for (let r = d.next(); r !== undefined; r = d.next()) out.push(r);
  }
  return out;
}

export function whole(bytes: Buffer): Buffer[] {
  return [bytes];
}

export function byteByByte(bytes: Buffer): Buffer[] {
  return [...bytes].map((b) => Buffer.from([b]));
}

/** every way to cut the bytes in two */
export function* everySplit(bytes: Buffer): Generator<[number, Buffer[]]> {
  for (let i = 1; i < bytes.length; i++) yield [i, [bytes.subarray(0, i), bytes.subarray(i)]];
}

/** JSON-able view: Buffers become latin1 strings, bigints strings */
export function plain(v: unknown): unknown {
  return JSON.parse(
    JSON.stringify(v, (_k, x) => {
      if (typeof x === 'bigint') return `${x}n`;
      if (x && typeof x === 'object' && (x as { type?: string }).type === 'Buffer' && Array.isArray((x as { data?: unknown }).data)) {
        return `buf:${Buffer.from((x as { data: number[] }).data).toString('latin1')}`;
      }
      return x;
    }),
  );
}
