/**
 * One call for commands that finish a run: save it under the results folder (so `cachectl runs`
 * lists it), and write the HTML report and the JUnit file when asked.
 *
 *   const artifacts = saveRunArtifacts(result, { report: flags.report, junit: flags.junit, resultsDir });
 *
 * Paths are returned so the command can print them (and include them in --json).
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { CachectlError } from '../errors.js';
import { toReportInput } from './adapt.js';
import { renderHtmlReport } from './html.js';
import { writeJUnit } from './junit.js';
import { renderMarkdownSummary } from './markdown.js';
import { saveRun } from './store.js';
import type { ReportInput } from './types.js';

export interface SaveRunArtifactsOptions {
  /** write the self-contained HTML report here */
  report?: string;
  /** write JUnit XML here */
  junit?: string;
  /** the results folder (resolveResultsDir); the run is saved there unless save is false */
  resultsDir: string;
  /** false = do not keep the run in the results folder (--no-save) */
  save?: boolean;
  /** cachectl version for the report footer */
  version?: string;
  /** the command's argv (process.argv.slice(2) with the command id first, e.g. ['workload', '--duration', '10s']):
   *  becomes the exact replay command, with --seed added and output-only flags removed */
  argv?: string[];
  /** the seed to put in the replay command when argv has none */
  seed?: number;
  /** ISO time the run started (workload results do not carry it) */
  startedAt?: string;
  /** append a Markdown summary here; defaults to $GITHUB_STEP_SUMMARY when set (CI job pages) */
  markdown?: string;
  env?: NodeJS.ProcessEnv;
}

export interface RunArtifacts {
  runId?: string;
  runFile?: string;
  reportFile?: string;
  junitFile?: string;
  markdownFile?: string;
}

function writeOut(file: string, text: string, flag: string, what: string): string {
  const path = resolve(file);
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  } catch (err) {
    throw new CachectlError('USAGE', `cannot write ${what} ${path}: ${(err as Error).message}`, {
      hint: `pass a writable path to ${flag}`,
      details: { file: path },
    });
  }
  return path;
}

export function writeHtmlReportFile(input: ReportInput, file: string, version?: string): string {
  return writeOut(file, renderHtmlReport(input, { version }), '--report', 'the HTML report');
}

export function writeJUnitFile(input: ReportInput, file: string): string {
  return writeOut(file, writeJUnit(input), '--junit', 'the JUnit file');
}

/** Flags that only say where output goes: a replay does not need them. */
const OUTPUT_FLAGS_WITH_VALUE = new Set(['--report', '--junit', '--history', '--results-dir', '-o', '--output']);
const OUTPUT_FLAGS = new Set(['--json', '--no-save', '--save']);

function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** "cachectl <argv>" without output-only flags, with --seed <seed> when the user let it be random. */
export function replayCommandFromArgv(argv: string[], seed?: number | string | null): string {
  const kept: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const name = a.split('=')[0];
    if (OUTPUT_FLAGS.has(a)) continue;
    if (OUTPUT_FLAGS_WITH_VALUE.has(name)) {
      if (!a.includes('=')) i++;
      continue;
    }
    kept.push(a);
  }
  if (seed !== undefined && seed !== null && !kept.some((a) => a === '--seed' || a.startsWith('--seed='))) kept.push('--seed', String(seed));
  return ['cachectl', ...kept].map(shellQuote).join(' ');
}

export function saveRunArtifacts(result: unknown, opts: SaveRunArtifactsOptions): RunArtifacts {
  const seed = opts.seed ?? (typeof (result as { seed?: unknown })?.seed === 'number' ? ((result as { seed: number }).seed) : undefined);
  const ctx = { ...(opts.argv ? { replayCommand: replayCommandFromArgv(opts.argv, seed) } : {}), ...(opts.startedAt ? { startedAt: opts.startedAt } : {}) };
  let input = toReportInput(result, 'the run result', ctx);
  const out: RunArtifacts = {};
  if (opts.save !== false) {
    const { run, file } = saveRun(result, opts.resultsDir, { ctx });
    out.runId = run.id;
    out.runFile = file;
    input = run.report;
  }
  if (opts.report) out.reportFile = writeHtmlReportFile(input, opts.report, opts.version);
  if (opts.junit) out.junitFile = writeJUnitFile(input, opts.junit);
  const markdown = opts.markdown ?? (opts.env ?? process.env).GITHUB_STEP_SUMMARY;
  if (markdown) {
    try {
      appendFileSync(markdown, renderMarkdownSummary(input) + '\n');
      out.markdownFile = resolve(markdown);
    } catch {
      // A CI summary is a nicety: never fail a run because the job page file is not writable.
    }
  }
  return out;
}
