import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';

/**
 * Durable log of invalidations (slave deletes) the proxy still owes: a failed replication or a
 * failed proxy-delete lands here and is retried until the slave confirms it. Appended as text
 * lines and fsynced in batches (one fsync per event-loop turn); reloaded at start.
 *
 *   + <shard> <hex key>     owe a delete
 *   - <shard> <hex key>     delete landed
 *   + <shard> *             owe a flush_all (too many distinct keys, or a failed flush)
 *
 * Memory is bounded: past `maxKeys` distinct keys a shard collapses into one owed flush_all.
 */
export interface PendingEntry {
  shard: string;
  /** null = flush the whole slave */
  key: Buffer | null;
}

/** Stored form: the key as hex. Holding a Buffer would pin an 8 KiB allocation-pool slab per key. */
interface StoredEntry {
  shard: string;
  keyHex: string | null;
}

const FLUSH = '*';

export class PendingInvalidationLog {
  private readonly live = new Map<string, StoredEntry>();
  private fd: number | undefined;
  private batch: string[] = [];
  private scheduled = false;
  private linesWritten = 0;

  /** told of every entry that becomes owed (+) or stops being owed (-): id = "<shard> <hex key|*>" */
  onChange: ((op: '+' | '-', id: string) => void) | undefined;

  constructor(
    private readonly file: string | undefined,
    private readonly maxKeys = 100_000,
  ) {
    if (file) {
      if (existsSync(file)) this.replay(readFileSync(file, 'latin1'));
      this.rewrite();
    }
  }

  /** ids of everything owed now (see onChange) */
  ids(): string[] {
    return [...this.live.keys()];
  }

  static idOf(shard: string, key: Buffer | null): string {
    return PendingInvalidationLog.id(shard, key);
  }

  get size(): number {
    return this.live.size;
  }

  /** up to `limit` owed invalidations (oldest first) */
  entries(limit = Infinity): PendingEntry[] {
    const out: PendingEntry[] = [];
    for (const e of this.live.values()) {
      if (out.length >= limit) break;
      out.push({ shard: e.shard, key: e.keyHex === null ? null : Buffer.from(e.keyHex, 'hex') });
    }
    return out;
  }

  private static id(shard: string, key: Buffer | null): string {
    return `${shard} ${key ? key.toString('hex') : FLUSH}`;
  }

  private replay(text: string): void {
    for (const line of text.split('\n')) {
      const m = /^([+-]) (\S+) (\S+)$/.exec(line);
      if (!m) continue;
      const keyHex = m[3] === FLUSH ? null : m[3];
      const id = `${m[2]} ${m[3]}`;
      if (m[1] === '+') this.live.set(id, { shard: m[2], keyHex });
      else this.live.delete(id);
    }
  }

  add(shard: string, key: Buffer | null): void {
    if (this.live.has(PendingInvalidationLog.id(shard, null))) return; // a flush covers every key
    if (key !== null && this.live.size >= this.maxKeys) key = null;
    const id = PendingInvalidationLog.id(shard, key);
    if (key === null) {
      // announce the flush before dropping the keys it covers, so a watcher never sees a gap
      this.onChange?.('+', id);
      for (const [other, e] of this.live) {
        if (e.shard === shard) {
          this.live.delete(other);
          this.onChange?.('-', other);
        }
      }
    }
    if (this.live.has(id)) return;
    this.live.set(id, { shard, keyHex: key ? key.toString('hex') : null });
    if (key !== null) this.onChange?.('+', id);
    this.append(`+ ${id}`);
  }

  has(shard: string, key: Buffer | null): boolean {
    return this.live.has(PendingInvalidationLog.id(shard, key));
  }

  remove(shard: string, key: Buffer | null): void {
    const id = PendingInvalidationLog.id(shard, key);
    if (!this.live.delete(id)) return;
    this.onChange?.('-', id);
    this.append(`- ${id}`);
  }

  private append(line: string): void {
    if (!this.file) return;
    this.batch.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Write and fsync everything batched so far. */
  flush(): void {
    this.scheduled = false;
    if (!this.file || this.batch.length === 0) return;
    const text = `${this.batch.join('\n')}\n`;
    this.linesWritten += this.batch.length;
    this.batch = [];
    if (this.fd === undefined) this.fd = openSync(this.file, 'a');
    writeSync(this.fd, text);
    fsyncSync(this.fd);
    if (this.linesWritten > 10_000 && this.linesWritten > 4 * this.live.size) this.rewrite();
  }

  /** Compact: write only the live entries to a new file and swap it in atomically. */
  private rewrite(): void {
    if (!this.file) return;
    if (this.fd !== undefined) closeSync(this.fd);
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w');
    const lines = [...this.live.keys()].map((id) => `+ ${id}\n`).join('');
    writeSync(fd, lines);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, this.file);
    this.fd = openSync(this.file, 'a');
    this.linesWritten = this.live.size;
  }

  close(): void {
    this.flush();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
