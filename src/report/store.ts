/**
 * Saved runs: every chaos/workload run can be saved under a results folder with an id
 * (timestamp + scenario + seed), listed (`cachectl runs`), shown, rendered and compared, so a
 * user can put today's run next to yesterday's.
 *
 * Folder: --results-dir, else CACHECTL_RESULTS_DIR, else <stateDir>/results (.cachectl/results).
 * One file per run, <id>.json: an envelope with the ReportInput (what every view renders) and the
 * raw result (full fidelity, for tools).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { CachectlError } from '../errors.js';
import { toReportInput, type RunContext } from './adapt.js';
import type { ReportInput, ReportSeries } from './types.js';

export const RUN_FORMAT = 'cachectl-run';
export const RUN_FORMAT_VERSION = 1;
export const RESULTS_DIR_ENV = 'CACHECTL_RESULTS_DIR';

export interface SavedRun {
  format: typeof RUN_FORMAT;
  formatVersion: typeof RUN_FORMAT_VERSION;
  id: string;
  savedAt: string;
  report: ReportInput;
  /** the command's own --json result, unchanged */
  result: unknown;
}

export interface RunSummary {
  id: string;
  date: string;
  kind: string;
  scenario: string;
  mitigations: string[];
  verdict: string;
  /** summed over the mitigations of the run */
  staleReads: number | null;
  divergentKeys: number | null;
  /** per mitigation, in run order (null = not measured) */
  bySeries: Array<{ label: string; staleReads: number | null; divergentKeys: number | null }>;
  durationMs: number;
  seed: number | string | null;
  file: string;
}

export function resolveResultsDir(opts: { flag?: string; stateDir?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): string {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const chosen = opts.flag || env[RESULTS_DIR_ENV] || join(opts.stateDir ?? '.cachectl', 'results');
  return resolve(cwd, chosen);
}

const slug = (s: string): string =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40) || 'run';

/** "20261126-210530-master-down-seed42": sorts by time, says what it was, safe as a file name. */
export function makeRunId(input: Pick<ReportInput, 'startedAt' | 'scenario' | 'seed'>): string {
  const t = new Date(input.startedAt);
  const d = Number.isNaN(t.getTime()) ? new Date() : t;
  const stamp = d.toISOString().replace(/\.\d+Z$/, '').replace(/[-:]/g, '').replace('T', '-');
  const seed = input.seed === null || input.seed === undefined ? '' : `-seed${slug(String(input.seed))}`;
  return `${stamp}-${slug(input.scenario)}${seed}`;
}

function ensureDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new CachectlError('USAGE', `cannot create the results folder ${dir}: ${(err as Error).message}`, {
      hint: `pass a writable folder with --results-dir or ${RESULTS_DIR_ENV}`,
      details: { dir },
    });
  }
}

/** Save a run; returns the stored envelope and its path. Never overwrites: a clash gets -2, -3... */
export function saveRun(result: unknown, dir: string, opts: { now?: Date; ctx?: RunContext } = {}): { run: SavedRun; file: string } {
  const now = opts.now ?? new Date();
  const report = toReportInput(result, 'the run result', opts.ctx);
  ensureDir(dir);
  const base = makeRunId(report);
  let id = base;
  for (let i = 2; existsSync(join(dir, `${id}.json`)) && i < 10_000; i++) id = `${base}-${i}`;
  const run: SavedRun = { format: RUN_FORMAT, formatVersion: RUN_FORMAT_VERSION, id, savedAt: now.toISOString(), report: { ...report, runId: id }, result };
  const file = join(dir, `${id}.json`);
  // Write then rename: a listing never sees half a file.
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(run, null, 1) + '\n');
  renameSync(tmp, file);
  return { run, file };
}

/** A workload --json result has no start time: the file was written when the run ended. */
function fileContext(file: string, value: unknown): RunContext {
  const durationMs = (value as { durationMs?: unknown })?.durationMs;
  try {
    const end = statSync(file).mtimeMs;
    return { startedAt: new Date(end - (typeof durationMs === 'number' ? durationMs : 0)).toISOString() };
  } catch {
    return {};
  }
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CachectlError('USAGE', code === 'ENOENT' ? `no such file: ${file}` : `cannot read ${file}: ${(err as Error).message}`, {
      hint: 'pass the path of a run JSON file, or a run id from `cachectl runs`',
      details: { file },
    });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CachectlError('USAGE', `${file} is not valid JSON: ${(err as Error).message}`, {
      hint: 'pass the file written by `--json > run.json` or a saved run; a run printed with progress mixed in cannot be parsed',
      details: { file },
    });
  }
}

/** The ReportInput of a run file (saved envelope, chaos --json output, or ReportInput). */
export function readRunFile(file: string): { report: ReportInput; saved?: SavedRun } {
  const value = readJson(file);
  const report = toReportInput(value, file, fileContext(file, value));
  const saved = (value as SavedRun)?.format === RUN_FORMAT ? (value as SavedRun) : undefined;
  return { report: saved ? { ...report, runId: saved.id } : report, saved };
}

function summarize(report: ReportInput, file: string, id: string): RunSummary {
  const sum = (k: string): number | null => {
    const vals = report.series.map((s) => s.totals[k]).filter((v): v is number => typeof v === 'number');
    return vals.length ? vals.reduce((a, b) => a + b, 0) : null;
  };
  return {
    id,
    date: report.startedAt,
    kind: report.kind,
    scenario: report.scenario,
    mitigations: report.series.map((s) => s.label),
    verdict: report.verdict.status,
    staleReads: sum('staleReads'),
    divergentKeys: sum('divergentKeys'),
    bySeries: report.series.map((s) => ({ label: s.label, staleReads: s.totals.staleReads ?? null, divergentKeys: s.totals.divergentKeys ?? null })),
    durationMs: report.durationMs,
    seed: report.seed,
    file,
  };
}

/** Saved runs, newest first. Unreadable files are reported through onSkip, not fatal. */
export function listRuns(dir: string, onSkip?: (file: string, reason: string) => void): RunSummary[] {
  if (!existsSync(dir)) return [];
  const out: RunSummary[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.json')) continue;
    const file = join(dir, name);
    try {
      const { report, saved } = readRunFile(file);
      out.push(summarize(report, file, saved?.id ?? basename(name, '.json')));
    } catch (err) {
      onSkip?.(file, (err as Error).message);
    }
  }
  return out.sort((a, b) => (a.date < b.date ? 1 : a.date > b.date ? -1 : a.id < b.id ? 1 : -1));
}

/**
 * A run by id, unique id prefix, "latest" / "latest~1", or a path to a JSON file.
 */
export function findRun(dir: string, ref: string): { report: ReportInput; saved?: SavedRun; file: string } {
  if (ref.endsWith('.json') || ref.includes('/')) {
    const file = resolve(ref);
    return { ...readRunFile(file), file };
  }
  const runs = listRuns(dir);
  const latest = /^latest(?:~(\d+))?$/.exec(ref);
  let match: RunSummary[];
  if (latest) match = runs[Number(latest[1] ?? 0)] ? [runs[Number(latest[1] ?? 0)]] : [];
  else {
    const exact = runs.filter((r) => r.id === ref);
    match = exact.length ? exact : runs.filter((r) => r.id.startsWith(ref) || r.id.includes(ref));
  }
  if (match.length === 0) {
    throw new CachectlError('USAGE', `no saved run matches "${ref}" in ${dir}`, {
      hint: runs.length ? 'run `cachectl runs` to see the saved ids' : 'save a run first: pass --save (or --report) to a chaos or workload command',
      details: { ref, dir },
    });
  }
  if (match.length > 1) {
    throw new CachectlError('USAGE', `"${ref}" matches ${match.length} saved runs: ${match.slice(0, 5).map((r) => r.id).join(', ')}${match.length > 5 ? ', …' : ''}`, {
      hint: 'give more of the id',
      details: { ref, matches: match.map((r) => r.id) },
    });
  }
  return { ...readRunFile(match[0].file), file: match[0].file };
}

// ---------------------------------------------------------------- compare

export interface CompareRow {
  /** the mitigation / series label (the same label is compared with the same label) */
  series: string;
  metric: string;
  a: number | null;
  b: number | null;
  /** b - a */
  delta: number | null;
  /** relative change in percent, null when a is 0 or missing */
  deltaPct: number | null;
  /** whether the change is an improvement, a regression, or neither */
  change: 'better' | 'worse' | 'same' | 'n/a';
}

export interface RunComparison {
  a: { id: string; date: string; scenario: string; verdict: string; seed: number | string | null; durationMs: number; replayCommand: string };
  b: { id: string; date: string; scenario: string; verdict: string; seed: number | string | null; durationMs: number; replayCommand: string };
  rows: CompareRow[];
  /** plain notes: different scenario, different seed, series only in one run */
  notes: string[];
}

/** Metrics compared, in order; higher is better only for these. */
export const COMPARE_METRICS = [
  'staleReads',
  'staleReadsDuringFault',
  'staleReadsAfterHeal',
  'divergentKeys',
  'slaveStaleKeys',
  'masterStaleKeys',
  'lostUpdates',
  'missingAckedWrites',
  'hitRate',
  'dbReads',
  'failedWrites',
  'unknownOutcomes',
  'operations',
  'opsPerSec',
  'p50Ms',
  'p99Ms',
] as const;
const HIGHER_IS_BETTER = new Set(['hitRate', 'operations', 'opsPerSec', 'expiredShortTtlEntries']);

function head(id: string | undefined, r: ReportInput): RunComparison['a'] {
  return { id: id ?? r.runId ?? '(file)', date: r.startedAt, scenario: r.scenario, verdict: r.verdict.status, seed: r.seed, durationMs: r.durationMs, replayCommand: r.replayCommand };
}

export function compareRuns(a: ReportInput, b: ReportInput, ids: { a?: string; b?: string } = {}): RunComparison {
  const notes: string[] = [];
  if (a.scenario !== b.scenario) notes.push(`different scenarios: ${a.scenario} vs ${b.scenario}`);
  if (String(a.seed) !== String(b.seed)) notes.push(`different seeds (${a.seed} vs ${b.seed}): the traffic differs, compare trends not exact numbers`);
  const labels = [...new Set([...a.series.map((s) => s.label), ...b.series.map((s) => s.label)])];
  const rows: CompareRow[] = [];
  const byLabel = (r: ReportInput, l: string): ReportSeries | undefined => r.series.find((s) => s.label === l) ?? (r.series.length === 1 && labels.length === 1 ? r.series[0] : undefined);
  for (const label of labels) {
    const sa = byLabel(a, label);
    const sb = byLabel(b, label);
    if (!sa) notes.push(`${label}: only in ${ids.b ?? 'B'}`);
    if (!sb) notes.push(`${label}: only in ${ids.a ?? 'A'}`);
    const metrics = [...COMPARE_METRICS, ...new Set([...Object.keys(sa?.totals ?? {}), ...Object.keys(sb?.totals ?? {})])].filter((m, i, all) => all.indexOf(m) === i);
    for (const metric of metrics) {
      const va = sa?.totals[metric];
      const vb = sb?.totals[metric];
      if (typeof va !== 'number' && typeof vb !== 'number') continue;
      const na = typeof va === 'number' ? va : null;
      const nb = typeof vb === 'number' ? vb : null;
      const delta = na !== null && nb !== null ? nb - na : null;
      const deltaPct = delta !== null && na !== null && na !== 0 ? (delta / Math.abs(na)) * 100 : null;
      const change: CompareRow['change'] =
        delta === null ? 'n/a' : Math.abs(delta) < 1e-9 ? 'same' : (delta > 0) === HIGHER_IS_BETTER.has(metric) ? 'better' : 'worse';
      rows.push({ series: label, metric, a: na, b: nb, delta, deltaPct, change });
    }
  }
  return { a: head(ids.a, a), b: head(ids.b, b), rows, notes };
}

/** Keep a run file (e.g. `--json > run.json`) under the results folder; a saved run is returned as is. */
export function importRunFile(file: string, dir: string): { run: SavedRun; file: string; imported: boolean } {
  const value = readJson(file);
  if ((value as SavedRun)?.format === RUN_FORMAT) return { run: value as SavedRun, file, imported: false };
  const saved = saveRun(value, dir, { ctx: fileContext(file, value) });
  return { ...saved, imported: true };
}
