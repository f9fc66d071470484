import Database from 'better-sqlite3';
import { CachectlError } from '../errors.js';

/**
 * The source of truth: every key has a version; an update commits version+1 and records when.
 * Behind an interface so the workload and checker don't care where it lives.
 */
export interface VersionRecord {
  version: number;
  /** wall-clock ms of the commit */
  committedAtMs: number;
}

export interface SourceOfTruth {
  /** The committed version of a key (version 0 when it was never written). */
  read(key: string): VersionRecord;
  /** Commit version+1 atomically and return it. */
  commitNext(key: string): VersionRecord;
  /** Versions of many keys at once (missing keys: version 0). */
  readMany(keys: readonly string[]): Map<string, VersionRecord>;
  /** All keys with a committed version, optionally under a prefix. */
  keys(prefix?: string): string[];
  readonly counters: { reads: number; commits: number };
  close(): void;
}

/** SQLite through better-sqlite3: a file (WAL) or ':memory:'. Calls are synchronous and atomic. */
export class SqliteSourceOfTruth implements SourceOfTruth {
  readonly counters = { reads: 0, commits: 0 };
  readonly path: string;
  private readonly db: Database.Database;
  private readonly ownsDb: boolean;
  private readonly selectStmt: Database.Statement<[string], { version: number; committed_at_ms: number }>;
  private readonly upsertStmt: Database.Statement<[{ key: string; now: number }], { version: number; committed_at_ms: number }>;
  private readonly keysStmt: Database.Statement<[{ prefix: string }], { key: string }>;

  constructor(pathOrDb: string | Database.Database = ':memory:', private readonly now: () => number = Date.now) {
    if (typeof pathOrDb === 'string') {
      this.path = pathOrDb;
      try {
        this.db = new Database(pathOrDb);
      } catch (err) {
        throw new CachectlError('USAGE', `cannot open the database ${pathOrDb}: ${(err as Error).message}`, {
          hint: 'pass a writable file path to --db (its directory must exist), or leave --db out for an in-memory database',
        });
      }
      this.ownsDb = true;
    } else {
      this.db = pathOrDb;
      this.path = pathOrDb.name;
      this.ownsDb = false;
    }
    if (this.path !== ':memory:' && this.path !== '') {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
    }
    this.db.exec(
      `CREATE TABLE IF NOT EXISTS items (
         key TEXT PRIMARY KEY,
         version INTEGER NOT NULL,
         committed_at_ms REAL NOT NULL
       ) WITHOUT ROWID`,
    );
    this.selectStmt = this.db.prepare('SELECT version, committed_at_ms FROM items WHERE key = ?');
    this.upsertStmt = this.db.prepare(
      `INSERT INTO items (key, version, committed_at_ms) VALUES (@key, 1, @now)
       ON CONFLICT(key) DO UPDATE SET version = version + 1, committed_at_ms = @now
       RETURNING version, committed_at_ms`,
    );
    this.keysStmt = this.db.prepare('SELECT key FROM items WHERE substr(key, 1, length(@prefix)) = @prefix ORDER BY key');
  }

  read(key: string): VersionRecord {
    this.counters.reads++;
    const row = this.selectStmt.get(key);
    return row ? { version: row.version, committedAtMs: row.committed_at_ms } : { version: 0, committedAtMs: 0 };
  }

  commitNext(key: string): VersionRecord {
    this.counters.commits++;
    const row = this.upsertStmt.get({ key, now: this.now() });
    if (!row) throw new CachectlError('INTERNAL', `database commit of ${key} returned no row`);
    return { version: row.version, committedAtMs: row.committed_at_ms };
  }

  readMany(keys: readonly string[]): Map<string, VersionRecord> {
    const out = new Map<string, VersionRecord>();
    const tx = this.db.transaction(() => {
      for (const key of keys) {
        const row = this.selectStmt.get(key);
        out.set(key, row ? { version: row.version, committedAtMs: row.committed_at_ms } : { version: 0, committedAtMs: 0 });
      }
    });
    tx();
    return out;
  }

  keys(prefix = ''): string[] {
    return this.keysStmt.all({ prefix }).map((r) => r.key);
  }

  close(): void {
    if (this.ownsDb && this.db.open) this.db.close();
  }
}

/** Open a database from a path, or wrap an instance the caller owns. */
export function openSourceOfTruth(database: string | SourceOfTruth | undefined): { db: SourceOfTruth; owned: boolean } {
  if (database === undefined) return { db: new SqliteSourceOfTruth(':memory:'), owned: true };
  if (typeof database === 'string') return { db: new SqliteSourceOfTruth(database), owned: true };
  return { db: database, owned: false };
}
