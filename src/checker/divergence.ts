import type { FinalScan, NodeVersion, ScannedKey } from '../workload/scan.js';

/**
 * Divergence at the end, per key: do master, slave (and the database) agree?
 * - consistent: every cached copy equals the truth, or both nodes miss the key (cold cache).
 * - slave-stale / master-stale / both-stale: a cached copy is older than the truth (the database
 *   when scanned, else the newest cached copy). Readers of that copy see old data: unsafe.
 * - master-missing / slave-missing: one node holds the key and the other does not (readers of the
 *   missing side go to the database: safe, but a cost, and a sign replication did not land).
 * - ahead: a cached copy is newer than the database (impossible in cache-aside: a bug).
 * - corrupt: a node holds bytes that are not this key's workload value.
 * - unreachable: a node did not answer, so the key cannot be judged.
 */
export type KeyState = 'consistent' | 'slave-stale' | 'master-stale' | 'both-stale' | 'master-missing' | 'slave-missing' | 'ahead' | 'corrupt' | 'unreachable';

export const KEY_STATES: readonly KeyState[] = ['consistent', 'slave-stale', 'master-stale', 'both-stale', 'master-missing', 'slave-missing', 'ahead', 'corrupt', 'unreachable'];

const isNum = (v: NodeVersion): v is number => typeof v === 'number';

export function classifyKey(row: ScannedKey): KeyState {
  const { master, slave, db } = row;
  if (master === 'unreachable' || slave === 'unreachable') return 'unreachable';
  if (master === 'corrupt' || slave === 'corrupt') return 'corrupt';
  if (db !== undefined && ((isNum(master) && master > db) || (isNum(slave) && slave > db))) return 'ahead';
  const truth = db ?? Math.max(isNum(master) ? master : -1, isNum(slave) ? slave : -1);
  const masterStale = isNum(master) && master < truth;
  const slaveStale = isNum(slave) && slave < truth;
  if (masterStale && slaveStale) return 'both-stale';
  if (masterStale) return 'master-stale';
  if (slaveStale) return 'slave-stale';
  if (master === 'missing' && slave !== 'missing') return 'master-missing';
  if (slave === 'missing' && master !== 'missing') return 'slave-missing';
  return 'consistent';
}

export interface DivergentKey extends ScannedKey {
  state: KeyState;
}

export interface DivergenceReport {
  keys: number;
  /** per state, every state present (0 when none) */
  states: Record<KeyState, number>;
  /** keys not consistent and not unreachable */
  divergent: number;
  /** keys where some reader can get an old version (slave/master/both stale) */
  stale: number;
  unreachable: number;
  /** whether the scan compared against the database */
  againstDatabase: boolean;
  /** the keys that prove it (up to the example limit) */
  examples: DivergentKey[];
}

export function summarizeDivergence(scan: FinalScan, maxExamples = 20): DivergenceReport {
  const states = Object.fromEntries(KEY_STATES.map((s) => [s, 0])) as Record<KeyState, number>;
  const examples: DivergentKey[] = [];
  let againstDatabase = false;
  for (const row of scan.keys) {
    if (row.db !== undefined) againstDatabase = true;
    const state = classifyKey(row);
    states[state]++;
    if (state !== 'consistent' && state !== 'unreachable' && examples.length < maxExamples) examples.push({ ...row, state });
  }
  const stale = states['slave-stale'] + states['master-stale'] + states['both-stale'];
  return {
    keys: scan.keys.length,
    states,
    divergent: scan.keys.length - states.consistent - states.unreachable,
    stale,
    unreachable: states.unreachable,
    againstDatabase,
    examples,
  };
}
