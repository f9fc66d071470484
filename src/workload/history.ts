import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { CachectlError } from '../errors.js';

/**
 * The record of a workload run, one entry per operation (Jepsen style). Times are milliseconds
 * since the run started, from a monotonic clock. Everything here is plain JSON (CAS tokens are
 * decimal strings), so a history can be written as JSON lines and read back unchanged.
 *
 * Logical operations:
 * - `read`   a cache-aside read: cache get, and on a miss (or cache error) a database read.
 * - `update` commit version+1 in the database, then write the cache with gets+cas on the master.
 * Cache writes inside them, each with its own timing and outcome (`parent` = the logical op id):
 * - `cas`    a gets+cas attempt on the master (token, base version seen, version written).
 * - `add`    an add on the master (update of a missing key, or a read's cache fill).
 * - `slave-write` the client-short-ttl mitigation writing the slave directly with a short TTL.
 */
export type OpType = 'read' | 'update' | 'cas' | 'add' | 'slave-write';
/** ok: happened as reported; fail: did not happen; unknown: may or may not have happened. */
export type Outcome = 'ok' | 'fail' | 'unknown';

export interface HistoryOp {
  /** unique, increasing in invoke order */
  id: number;
  client: number;
  op: OpType;
  key: string;
  /** ms since run start (monotonic) */
  invoke: number;
  complete: number;
  outcome: Outcome;
  /** read: the version returned to the caller; update: the version committed in the database;
   *  cas/add/slave-write: the version written. Absent when nothing was seen. */
  version?: number;
  /** read: where the returned value came from */
  source?: 'cache' | 'db';
  /** update: when the database commit finished (ms since run start) */
  commitAt?: number;
  /** update: what happened to the cache ('stored', 'superseded' = the cache already held a newer or equal
   *  version, 'failed', 'unknown', 'gave-up' = too many CAS conflicts) */
  cacheResult?: 'stored' | 'superseded' | 'failed' | 'unknown' | 'gave-up';
  /** cas/add/slave-write: the store reply ('stored', 'exists', 'not_stored', 'not_found') */
  reply?: string;
  /** cas: the token used (decimal string of the unsigned 64-bit value) */
  token?: string;
  /** cas: the version the gets saw (the token's value) */
  baseVersion?: number;
  /** parent logical op id for cache writes */
  parent?: number;
  /** which address served it ("host:port") and, where known, which node ('master'/'slave'/'proxy') */
  endpoint?: string;
  node?: string;
  /** slave-write: TTL in seconds */
  ttl?: number;
  /** the value read could not be decoded or belonged to another key */
  corrupt?: boolean;
  /** read: the database was read (cache miss or cache error) */
  dbRead?: boolean;
  error?: string;
}

export interface HistoryMeta {
  /** run parameters (seed, clients, keys...), free-form, for reports */
  [field: string]: unknown;
}

/** An append-only history with a hard capacity, so a run can never grow without bound. */
export class History {
  readonly ops: HistoryOp[] = [];
  meta: HistoryMeta;
  private nextId = 1;

  constructor(
    meta: HistoryMeta = {},
    readonly capacity = 10_000_000,
  ) {
    this.meta = meta;
  }

  get full(): boolean {
    return this.ops.length >= this.capacity;
  }

  newId(): number {
    return this.nextId++;
  }

  /** Record a finished operation (false when the history is at capacity). */
  record(op: HistoryOp): boolean {
    if (this.ops.length >= this.capacity) return false;
    this.ops.push(op);
    return true;
  }
}

/** JSON lines: a first line `{"meta": {...}}`, then one op per line. */
export function historyToJsonLines(ops: readonly HistoryOp[], meta: HistoryMeta = {}): string {
  const lines = [JSON.stringify({ meta })];
  for (const op of ops) lines.push(JSON.stringify(op));
  return lines.join('\n') + '\n';
}

export async function writeHistoryFile(path: string, ops: readonly HistoryOp[], meta: HistoryMeta = {}): Promise<void> {
  const out = createWriteStream(path);
  const done = new Promise<void>((resolve, reject) => {
    out.on('error', reject);
    out.on('finish', () => resolve());
  });
  const write = (line: string): Promise<void> | undefined => {
    if (!out.write(line + '\n')) return new Promise((r) => out.once('drain', () => r()));
    return undefined;
  };
  await write(JSON.stringify({ meta }));
  for (const op of ops) {
    const wait = write(JSON.stringify(op));
    if (wait) await wait;
  }
  out.end();
  await done;
}

/** ms since the run started: no run lasts anywhere near this long (runs are capped at hours) */
const MAX_HISTORY_MS = 1e9;

const OP_TYPES = new Set<OpType>(['read', 'update', 'cas', 'add', 'slave-write']);
const OUTCOMES = new Set<Outcome>(['ok', 'fail', 'unknown']);

/** Validate one parsed line; the error says which line and what is wrong. */
export function parseHistoryLine(value: unknown, where: string): HistoryOp {
  const o = value as Partial<HistoryOp> | null;
  const bad = (what: string): CachectlError => new CachectlError('USAGE', `${where}: ${what}`, { hint: HISTORY_HINT });
  if (!o || typeof o !== 'object') throw bad('not a JSON object');
  if (typeof o.id !== 'number') throw bad('missing numeric "id"');
  if (typeof o.client !== 'number') throw bad('missing numeric "client"');
  if (!OP_TYPES.has(o.op as OpType)) throw bad(`unknown op ${JSON.stringify(o.op)}`);
  if (typeof o.key !== 'string') throw bad('missing "key"');
  if (typeof o.invoke !== 'number' || typeof o.complete !== 'number') throw bad('missing numeric "invoke"/"complete"');
  if (!(o.invoke >= 0 && o.complete >= o.invoke && o.complete <= MAX_HISTORY_MS)) throw bad(`times must satisfy 0 <= invoke <= complete <= ${MAX_HISTORY_MS} ms, got invoke ${o.invoke}, complete ${o.complete}`);
  if (!OUTCOMES.has(o.outcome as Outcome)) throw bad(`unknown outcome ${JSON.stringify(o.outcome)}`);
  return o as HistoryOp;
}

const HISTORY_HINT = 'pass a history written by `cachectl workload --history FILE`';

/** Feed lines one by one; the first may be the `{"meta": ...}` header. */
class HistoryLineReader {
  meta: HistoryMeta = {};
  readonly ops: HistoryOp[] = [];

  constructor(private readonly where: (lineNo: number) => string) {}

  add(raw: string, lineNo: number): void {
    const line = raw.trim();
    if (line === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new CachectlError('USAGE', `${this.where(lineNo)} is not JSON`, { hint: HISTORY_HINT });
    }
    if (lineNo === 1 && parsed && typeof parsed === 'object' && 'meta' in parsed) {
      this.meta = (parsed as { meta: HistoryMeta }).meta ?? {};
      return;
    }
    this.ops.push(parseHistoryLine(parsed, this.where(lineNo)));
  }
}

export function historyFromJsonLines(text: string): { meta: HistoryMeta; ops: HistoryOp[] } {
  const reader = new HistoryLineReader((n) => `history line ${n}`);
  text.split('\n').forEach((line, i) => reader.add(line, i + 1));
  return { meta: reader.meta, ops: reader.ops };
}

export async function readHistoryFile(path: string): Promise<{ meta: HistoryMeta; ops: HistoryOp[] }> {
  const input = createReadStream(path);
  await new Promise<void>((resolve, reject) => {
    input.once('open', () => resolve());
    input.once('error', (err) => reject(new CachectlError('USAGE', `cannot read history ${path}: ${err.message}`, { hint: 'check the path given to --history' })));
  });
  const reader = new HistoryLineReader((n) => `${path}:${n}`);
  let lineNo = 0;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) reader.add(line, ++lineNo);
  return { meta: reader.meta, ops: reader.ops };
}
