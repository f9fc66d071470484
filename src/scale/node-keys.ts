import { createConnection, type Socket } from 'node:net';
import { CachectlError } from '../errors.js';
import type { Endpoint } from '../runtime/types.js';

/**
 * The few direct memcached operations a topology change needs, over the ASCII protocol:
 * list the keys a node holds (`lru_crawler metadump all`), delete many keys (pipelined, noreply,
 * closed by an `mn` barrier so we know every delete was processed) and flush a node.
 */

const MAX_LIST_BYTES = 512 * 1024 * 1024;

function where(e: Endpoint): string {
  return e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

/** Send `request`, collect the reply until `done(buffer)` says it is complete. */
function exchange(e: Endpoint, request: string | Buffer[], done: (reply: string) => boolean, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock: Socket = createConnection({ host: e.host, port: e.port });
    const chunks: string[] = [];
    let size = 0;
    let tail = '';
    const timer = setTimeout(() => fail(new CachectlError('TIMEOUT', `memcached ${where(e)} did not finish answering within ${timeoutMs} ms`, { hint: 'is the node overloaded or behind a fault? see `cachectl status`' })), timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      sock.destroy();
      reject(err);
    };
    sock.setNoDelay(true);
    sock.on('data', (d: Buffer) => {
      const text = d.toString('latin1');
      chunks.push(text);
      size += text.length;
      if (size > MAX_LIST_BYTES) return fail(new CachectlError('DEPENDENCY_FAILED', `memcached ${where(e)} answered more than ${MAX_LIST_BYTES} bytes`));
      // only the last few bytes decide whether the reply is complete: no rescans of a big buffer
      tail = (tail + text).slice(-64);
      if (done(tail)) {
        clearTimeout(timer);
        sock.end();
        resolve(chunks.join(''));
      }
    });
    sock.on('error', (err) =>
      fail(new CachectlError('DEPENDENCY_UNREACHABLE', `cannot talk to memcached ${where(e)}: ${err.message}`, { hint: 'is the node running? see `cachectl status`', cause: err })),
    );
    sock.on('close', () => fail(new CachectlError('DEPENDENCY_FAILED', `memcached ${where(e)} closed the connection before answering`)));
    sock.on('connect', () => {
      if (typeof request === 'string') sock.write(request);
      else for (const b of request) sock.write(b);
    });
  });
}

/** metadump %-encodes key bytes; decode to a latin1 string (one char per byte), never failing on non-UTF-8. */
export function percentDecodeBytes(text: string): string {
  return text.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Every key the node holds right now (memcached 1.6 `lru_crawler metadump all`), as latin1 strings (byte = char). */
export async function listKeys(e: Endpoint, timeoutMs = 10_000): Promise<string[]> {
  for (let attempt = 0; ; attempt++) {
    const reply = await exchange(e, 'lru_crawler metadump all\r\n', (t) => /(?:^|\n)(END|BUSY[^\r\n]*|ERROR[^\r\n]*|CLIENT_ERROR[^\r\n]*)\r\n$/.test(t), timeoutMs);
    if (/(?:^|\n)BUSY[^\n]*\r\n$/.test(reply) && attempt < 50) {
      // another crawl is running on this node: wait for it
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    if (!/(?:^|\n)END\r\n$/.test(reply)) {
      throw new CachectlError('DEPENDENCY_FAILED', `memcached ${where(e)} refused to list its keys: ${reply.trim().slice(-120)}`, {
        hint: 'cachectl needs `lru_crawler metadump` (memcached 1.6 started without -X)',
      });
    }
    const keys: string[] = [];
    for (const line of reply.split('\n')) {
      if (!line.startsWith('key=')) continue;
      const end = line.indexOf(' ');
      keys.push(percentDecodeBytes(line.slice(4, end < 0 ? undefined : end)));
    }
    return keys;
  }
}

/** Can this key travel in an ASCII command? (binary-protocol keys may hold spaces or control bytes) */
export function asciiSafeKey(key: string): boolean {
  return key.length > 0 && Buffer.byteLength(key, 'latin1') <= 250 && !/[\x00-\x20\x7f]/.test(key);
}

/**
 * Delete keys on one node; returns when memcached has processed every delete. Keys that cannot
 * be sent in ASCII are skipped and returned, so the caller can say so.
 */
export async function deleteKeys(e: Endpoint, all: readonly string[], timeoutMs = 10_000): Promise<{ skipped: string[] }> {
  const keys = all.filter(asciiSafeKey);
  const skipped = all.filter((k) => !asciiSafeKey(k));
  if (keys.length === 0) return { skipped };
  const parts: Buffer[] = [];
  for (let i = 0; i < keys.length; i += 1000) {
    parts.push(Buffer.from(keys.slice(i, i + 1000).map((k) => `delete ${k} noreply\r\n`).join(''), 'latin1'));
  }
  parts.push(Buffer.from('mn\r\n'));
  const reply = await exchange(e, parts, (t) => /(MN|ERROR[^\r\n]*)\r\n$/.test(t), timeoutMs);
  if (!reply.endsWith('MN\r\n') || /(^|\n)(CLIENT_)?ERROR/.test(reply)) {
    throw new CachectlError('DEPENDENCY_FAILED', `memcached ${where(e)} did not accept the deletes: ${reply.trim().slice(0, 120)}`);
  }
  return { skipped };
}

/** flush_all on one node. */
export async function flushKeys(e: Endpoint, timeoutMs = 2000): Promise<void> {
  const reply = await exchange(e, 'flush_all\r\n', (t) => /\r\n$/.test(t), timeoutMs);
  if (!reply.startsWith('OK')) throw new CachectlError('DEPENDENCY_FAILED', `flush_all on memcached ${where(e)} answered ${reply.trim()}`);
}
